/**
 * One tool JSON file (spec formats.md §1.2), checked and typed. Both real layouts are accepted:
 * ToolBench 2023 files carry `standardized_name`, StableToolBench ToolEnv2404 files do not; the
 * code never reads that field anyway (the file name is the standard tool name).
 *
 * Where upstream would crash on a missing optional field (a parameter without `default`, an API
 * without `optional_parameters`) we read it as absent; where a field has the wrong type the file is
 * rejected with the JSON path and what was expected.
 */
import { describeJsonType, inputError } from '../util/errors.js';
import { childPath } from '../util/json-path.js';
import { isPyObject, type PyObject, type PyValue } from '../util/py-value.js';

export interface ToolParameter {
  readonly name: string;
  /** As written: `STRING`, `NUMBER`, `BOOLEAN`, `ENUM`, `DATE (YYYY-MM-DD)`, ...; `` when absent. */
  readonly type: string;
  readonly description: string;
  /** `undefined` when the key is absent; otherwise any JSON value, kept exactly. */
  readonly default: PyValue | undefined;
}

export interface ToolApi {
  readonly name: string;
  readonly description: string;
  readonly method: string;
  readonly url: string;
  readonly requiredParameters: readonly ToolParameter[];
  readonly optionalParameters: readonly ToolParameter[];
}

export interface ToolDocument {
  /** The file it was read from. */
  readonly file: string;
  /** The category directory (already standardized in the released data). */
  readonly category: string;
  /** The file name up to its first `.`: what upstream calls the standard tool name. */
  readonly standardName: string;
  /** The original display name (`tool_name`), the name query files use. */
  readonly toolName: string;
  /** `tool_description`; null when absent or null (StableToolBench prints it as `None`). */
  readonly description: string | null;
  /** The 2023 layout's `standardized_name`, when present (informational only). */
  readonly standardizedName: string | undefined;
  readonly apis: readonly ToolApi[];
  /** The whole parsed file, for fields this type does not name (host, pricing, ...). */
  readonly raw: PyObject;
}

export interface ToolLocation {
  readonly file: string;
  readonly category: string;
  readonly standardName: string;
}

export function parseToolDocument(value: PyValue, location: ToolLocation): ToolDocument {
  const file = location.file;
  const root = expectObject(value, file, '$');
  const apiList = root.api_list;
  if (!Array.isArray(apiList)) throw inputError(file, '$.api_list', 'an array of APIs', { got: describeJsonType(apiList) });
  return {
    ...location,
    toolName: expectString(root.tool_name, file, '$.tool_name'),
    description: optionalString(root.tool_description, file, '$.tool_description') ?? null,
    standardizedName: optionalString(root.standardized_name, file, '$.standardized_name'),
    apis: (apiList as readonly PyValue[]).map((api, index) => parseApi(api, file, `$.api_list[${index}]`)),
    raw: root,
  };
}

function parseApi(value: PyValue, file: string, path: string): ToolApi {
  const api = expectObject(value, file, path);
  return {
    name: expectString(api.name, file, `${path}.name`),
    description: optionalString(api.description, file, `${path}.description`) ?? '',
    method: typeof api.method === 'string' ? api.method : '',
    url: typeof api.url === 'string' ? api.url : '',
    requiredParameters: parseParameterList(api.required_parameters, file, `${path}.required_parameters`),
    optionalParameters: parseParameterList(api.optional_parameters, file, `${path}.optional_parameters`),
  };
}

/** A `required_parameters` / `optional_parameters` list; absent or null reads as empty. */
export function parseParameterList(value: PyValue | undefined, file: string, path: string): readonly ToolParameter[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw inputError(file, path, 'an array of parameters', { got: describeJsonType(value) });
  return (value as readonly PyValue[]).map((item, index) => {
    const itemPath = childPath(path, index);
    const parameter = expectObject(item, file, itemPath);
    return {
      name: expectString(parameter.name, file, `${itemPath}.name`),
      type: optionalString(parameter.type, file, `${itemPath}.type`) ?? '',
      description: optionalString(parameter.description, file, `${itemPath}.description`) ?? '',
      default: parameter.default,
    };
  });
}

export function expectObject(value: PyValue | undefined, file: string, path: string): PyObject {
  if (!isPyObject(value)) {
    throw inputError(file, path, 'an object', { got: value === undefined ? 'nothing' : describeJsonType(value) });
  }
  return value;
}

export function expectString(value: PyValue | undefined, file: string, path: string): string {
  if (typeof value !== 'string') {
    throw inputError(file, path, 'a string', { got: value === undefined ? 'nothing (the key is missing)' : describeJsonType(value) });
  }
  return value;
}

/** A string, or undefined when absent or null. */
export function optionalString(value: PyValue | undefined, file: string, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw inputError(file, path, 'a string or null', { got: describeJsonType(value) });
  return value;
}

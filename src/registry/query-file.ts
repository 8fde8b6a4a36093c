/**
 * Query files and test-id files (spec formats.md §2).
 *
 * A query file is a JSON array of queries; `query_id` defaults to the position in the array.
 * `api_list` entries name APIs by category, original tool name and original API name; the
 * released test sets also carry each API's description and parameters, which is enough to build
 * the function list without a tool directory.
 */
import { describeJsonType, inputError } from '../util/errors.js';
import { readJsonArrayItems } from '../util/json-array-stream.js';
import { readJsonFile } from '../util/json-file.js';
import { childPath } from '../util/json-path.js';
import { isPyObject, orderedKeys, type PyObject, type PyValue } from '../util/py-value.js';
import { expectObject, expectString, optionalString, parseParameterList, type ToolParameter } from './tool-document.js';

export interface QueryApiRef {
  readonly categoryName: string;
  readonly toolName: string;
  readonly apiName: string;
  /** Present in the released test sets; absent in minimal inference queries. */
  readonly apiDescription: string | undefined;
  readonly requiredParameters: readonly ToolParameter[] | undefined;
  readonly optionalParameters: readonly ToolParameter[] | undefined;
  /** Where this entry sits, for messages: `<file>: $[3].api_list[0]`. */
  readonly file: string;
  readonly path: string;
  readonly raw: PyObject;
}

export interface Query {
  /** `query_id` as written (usually an int), or the position in the file when absent. */
  readonly queryId: number | string;
  /** Usually a string; a few generated queries hold a list of strings. */
  readonly query: string | readonly string[];
  /** Absent for open-domain queries (the retriever chooses the APIs). */
  readonly apiList: readonly QueryApiRef[] | undefined;
  /** `relevant APIs`: ground-truth `[tool name, api name]` pairs. */
  readonly relevantApis: readonly (readonly [string, string])[] | undefined;
  readonly file: string;
  readonly path: string;
  readonly raw: PyObject;
}

/** All queries of a query file. The file is read item by item, never held whole as text. */
export function readQueryFile(file: string): readonly Query[] {
  return Array.from(iterateQueryFile(file));
}

function* iterateQueryFile(file: string): Generator<Query> {
  for (const item of readJsonArrayItems(file, { expected: 'an array of queries' })) yield parseQuery(item.value, file, item.index);
}

/**
 * The query with this id (ids compare as text, as ToolEval does), reading only as far as it;
 * `scanned` counts the queries read.
 */
export function findQueryInFile(file: string, id: string): { query: Query | undefined; scanned: number } {
  let scanned = 0;
  for (const query of iterateQueryFile(file)) {
    scanned++;
    if (String(query.queryId) === id) return { query, scanned };
  }
  return { query: undefined, scanned };
}

/**
 * One query item of a query file (item `index`, for its default id and for messages); `path`
 * names it in messages when it is not an item of an array (a request body: `$`).
 */
export function parseQuery(value: PyValue, file: string, index: number, path = `$[${index}]`): Query {
  const raw = expectObject(value, file, path);
  return {
    queryId: parseQueryId(raw.query_id, file, `${path}.query_id`) ?? index,
    query: parseQueryText(raw.query, file, `${path}.query`),
    apiList: raw.api_list === undefined ? undefined : parseApiList(raw.api_list, file, `${path}.api_list`),
    relevantApis: parseRelevantApis(raw['relevant APIs'], file, childPath(path, 'relevant APIs')),
    file,
    path,
    raw,
  };
}

function parseQueryId(value: PyValue | undefined, file: string, path: string): number | string | undefined {
  if (value === undefined) return undefined;
  if ((typeof value === 'number' && Number.isInteger(value)) || typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString(); // beyond 2^53: kept as its digits
  throw inputError(file, path, 'an integer or a string', { got: describeJsonType(value) });
}

function parseQueryText(value: PyValue | undefined, file: string, path: string): string | readonly string[] {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as readonly string[];
  throw inputError(file, path, 'a string (or a list of strings)', {
    got: value === undefined ? 'nothing (the key is missing)' : describeJsonType(value),
  });
}

function parseApiList(value: PyValue, file: string, path: string): readonly QueryApiRef[] {
  if (!Array.isArray(value)) throw inputError(file, path, 'an array of APIs', { got: describeJsonType(value) });
  return (value as readonly PyValue[]).map((item, index) => {
    const itemPath = childPath(path, index);
    const raw = expectObject(item, file, itemPath);
    return {
      categoryName: expectString(raw.category_name, file, `${itemPath}.category_name`),
      toolName: expectString(raw.tool_name, file, `${itemPath}.tool_name`),
      apiName: expectString(raw.api_name, file, `${itemPath}.api_name`),
      apiDescription: optionalString(raw.api_description, file, `${itemPath}.api_description`),
      requiredParameters: optionalParameterList(raw.required_parameters, file, `${itemPath}.required_parameters`),
      optionalParameters: optionalParameterList(raw.optional_parameters, file, `${itemPath}.optional_parameters`),
      file,
      path: itemPath,
      raw,
    };
  });
}

function optionalParameterList(value: PyValue | undefined, file: string, path: string): readonly ToolParameter[] | undefined {
  return value === undefined ? undefined : parseParameterList(value, file, path);
}

function parseRelevantApis(
  value: PyValue | undefined,
  file: string,
  path: string,
): readonly (readonly [string, string])[] | undefined {
  if (value === undefined) return undefined;
  const isPair = (item: PyValue): boolean =>
    Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && typeof item[1] === 'string';
  if (!Array.isArray(value)) throw inputError(file, path, 'an array of [tool name, api name] pairs', { got: describeJsonType(value) });
  (value as readonly PyValue[]).forEach((item, index) => {
    if (!isPair(item)) throw inputError(file, childPath(path, index), 'a [tool name, api name] pair of strings', { got: describeJsonType(item) });
  });
  return value as readonly (readonly [string, string])[];
}

/**
 * A test-id file: a JSON object whose keys are query ids (values are ignored). Returns the ids
 * in file order.
 */
export function readTestIds(file: string): readonly string[] {
  const value = readJsonFile(file);
  if (!isPyObject(value)) {
    throw inputError(file, '$', 'an object whose keys are query ids ({"588": 0, ...})', { got: describeJsonType(value) });
  }
  return orderedKeys(value);
}

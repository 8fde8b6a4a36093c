/**
 * Tool JSON → OpenAI function schema, exactly as upstream's `api_json_to_openai_json`
 * (spec algorithms.md §3). Key order matters: ToolLLaMA's prompt embeds the Python `str()` of
 * the list, and ToolEval records the list as `available_tools`.
 */
import { FINISH_FUNCTION, FINISH_FUNCTION_2023, FUNCTION_DESCRIPTION_DETAIL, FUNCTION_DESCRIPTION_TOOL } from '../protocol/prompts.js';
import { pyHead, pyReplace, pyStrip } from '../util/py-string.js';
import { orderedObject, type PyValue } from '../util/py-value.js';
import { DEFAULT_NAME_OPTIONS, functionName, parameterName, pureApiName, type NameOptions } from './names.js';
import type { ToolApi, ToolParameter } from './tool-document.js';

export type ParameterType = 'integer' | 'string' | 'boolean';

export interface FunctionProperty {
  readonly type: ParameterType;
  readonly description: string;
  readonly example_value?: PyValue;
}

export interface FunctionSchema {
  readonly name: string;
  readonly description: string;
  readonly parameters: {
    readonly type: 'object';
    readonly properties: { readonly [name: string]: FunctionProperty };
    readonly required: readonly string[];
    readonly optional: readonly string[];
  };
}

/** A member of the list given to the model: an API's function, or `Finish`. */
export type OpenAIFunction = FunctionSchema | typeof FINISH_FUNCTION;

/** Which wording of `Finish`: upstream's current one, or the 2023 release's (prompts.ts). */
export type FinishVersion = 'current' | '2023';

export const FINISH_VERSIONS: readonly FinishVersion[] = ['current', '2023'];

export function finishFunction(version: FinishVersion): typeof FINISH_FUNCTION {
  return version === '2023' ? FINISH_FUNCTION_2023 : FINISH_FUNCTION;
}

/** What a function is built from: an API as a tool file or a query's `api_list` describes it. */
export interface ApiDescription {
  /** The original API name (also what is replaced in the description). */
  readonly apiName: string;
  readonly apiDescription: string;
  readonly requiredParameters: readonly ToolParameter[];
  readonly optionalParameters: readonly ToolParameter[];
}

/** What a tool file says about one API, as `apiToFunction` takes it. */
export function describeToolApi(api: ToolApi): ApiDescription {
  return {
    apiName: api.name,
    apiDescription: api.description,
    requiredParameters: api.requiredParameters,
    optionalParameters: api.optionalParameters,
  };
}

/** Upstream's `desc_max_length`: descriptions of functions and parameters are cut to this. */
const DESCRIPTION_MAX_LENGTH = 256;

export function apiToFunction(
  api: ApiDescription,
  standardToolName: string,
  names: NameOptions = DEFAULT_NAME_OPTIONS,
): FunctionSchema {
  const name = functionName(pureApiName(api.apiName, names), standardToolName);
  let description = FUNCTION_DESCRIPTION_TOOL.replace('{standard_tool_name}', standardToolName);
  const detail = pyStrip(api.apiDescription);
  if (detail !== '') {
    const truncated = pyHead(pyReplace(detail, api.apiName, name), DESCRIPTION_MAX_LENGTH);
    description += FUNCTION_DESCRIPTION_DETAIL.replace('{tuncated_description}', () => truncated);
  }
  const properties: [string, FunctionProperty][] = [];
  const required: string[] = [];
  const optional: string[] = [];
  // quirk (spec algorithms.md §3 step 6): optional parameters are exposed only when the API also
  // has required ones; released models and recorded function lists depend on it.
  if (api.requiredParameters.length > 0) {
    for (const parameter of api.requiredParameters) {
      const exposed = parameterName(parameter.name, names);
      properties.push([exposed, toProperty(parameter)]);
      required.push(exposed);
    }
    for (const parameter of api.optionalParameters) {
      const exposed = parameterName(parameter.name, names);
      properties.push([exposed, toProperty(parameter)]);
      optional.push(exposed);
    }
  }
  return {
    name,
    description,
    parameters: { type: 'object', properties: orderedObject(properties), required, optional },
  };
}

function toProperty(parameter: ToolParameter): FunctionProperty {
  const property = { type: mapParameterType(parameter.type), description: pyHead(parameter.description, DESCRIPTION_MAX_LENGTH) };
  // Upstream keeps the default when len(str(default)) != 0: only an empty string is dropped
  // ([] and None are kept: their str() is "[]" and "None").
  return parameter.default === undefined || parameter.default === ''
    ? property
    : { ...property, example_value: parameter.default };
}

/** Exactly `NUMBER`, `STRING`, `BOOLEAN` are mapped; every other type becomes `string`. */
export function mapParameterType(type: string): ParameterType {
  if (type === 'NUMBER') return 'integer';
  if (type === 'BOOLEAN') return 'boolean';
  return 'string';
}

/** The current OpenAI `tools` shape of a function list. */
export function toToolsShape(functions: readonly OpenAIFunction[]): { type: 'function'; function: OpenAIFunction }[] {
  return functions.map((fn) => ({ type: 'function', function: fn }));
}

/** A function list as recorded in either shape, as plain `{name, description, parameters}` objects. */
export function fromToolsShape<T>(entries: readonly T[]): T[] {
  return entries.map((entry) => {
    const wrapped = entry as { type?: unknown; function?: unknown };
    return wrapped.type === 'function' && typeof wrapped.function === 'object' && wrapped.function !== null ? (wrapped.function as T) : entry;
  });
}

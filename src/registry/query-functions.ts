/**
 * The function list inference gives the model for one query (spec algorithms.md §4.2, §3).
 *
 * From a tool environment (upstream behaviour): each `api_list` entry opens
 * `<category>/<standardize(tool_name)>.json` and takes the first API whose pure name matches.
 * From the query alone: the descriptions and parameters carried in `api_list` are used.
 * Either way `Finish` comes last. Unlike upstream, an API that cannot be found is reported with
 * a reason instead of being skipped silently, and the functions after it keep their own tool
 * names (ToolBench's index shift, spec algorithms.md §15 item 7, is not reproduced).
 */
import { inputError } from '../util/errors.js';
import { apiToFunction, describeToolApi, finishFunction, type FinishVersion, type OpenAIFunction } from './function-schema.js';
import { pureApiName, standardize, type NameOptions } from './names.js';
import type { Query, QueryApiRef } from './query-file.js';
import type { ToolApi, ToolDocument } from './tool-document.js';
import type { ToolEnvironment } from './tool-environment.js';

export type ApiResolution =
  | { readonly kind: 'resolved'; readonly ref: QueryApiRef; readonly tool: ToolDocument; readonly api: ToolApi }
  | {
      readonly kind: 'unresolved';
      readonly ref: QueryApiRef;
      readonly reason: 'tool-missing' | 'api-missing';
      readonly message: string;
    };

export type UnresolvedApi = Extract<ApiResolution, { kind: 'unresolved' }>;

/** The naming rules and the `Finish` wording of the protocol version to reproduce. */
export interface FunctionListOptions extends NameOptions {
  readonly finish: FinishVersion;
}

const DEFAULT_FUNCTION_LIST_OPTIONS: FunctionListOptions = Object.freeze({ digitPrefix: true, finish: 'current' });

export interface QueryFunctions {
  /** The functions in `api_list` order, then `Finish`. */
  readonly functions: readonly OpenAIFunction[];
  /** APIs of `api_list` that the tool environment does not have, with the reason. */
  readonly unresolved: readonly UnresolvedApi[];
  /** Function names that occur more than once (upstream keeps both; calls become ambiguous). */
  readonly duplicateNames: readonly string[];
}

/** Matches each `api_list` entry of the query against the tool environment. */
export function resolveQueryApis(
  query: Query,
  environment: ToolEnvironment,
  names: NameOptions = DEFAULT_FUNCTION_LIST_OPTIONS,
): readonly ApiResolution[] {
  return requireApiList(query).map((ref) => resolveApi(ref, environment, names));
}

function resolveApi(ref: QueryApiRef, environment: ToolEnvironment, names: NameOptions): ApiResolution {
  // Tool file names always carry the digit prefix (they were written by the crawler).
  const standardName = standardize(ref.toolName);
  const tool = environment.find(ref.categoryName, standardName);
  if (tool === undefined) {
    const elsewhere = environment.locate(standardName).map((location) => location.category);
    const hint = elsewhere.length > 0 ? `; a tool with that file name is in ${elsewhere.join(', ')}` : '';
    return {
      kind: 'unresolved',
      ref,
      reason: 'tool-missing',
      message: `no tool file ${ref.categoryName}/${standardName}.json for tool "${ref.toolName}"${hint}`,
    };
  }
  const wanted = pureApiName(ref.apiName, names);
  const api = apiIndex(tool, names).get(wanted);
  if (api === undefined) {
    return {
      kind: 'unresolved',
      ref,
      reason: 'api-missing',
      message: `tool ${ref.categoryName}/${standardName}.json has no API "${ref.apiName}" (standardized: ${wanted})`,
    };
  }
  return { kind: 'resolved', ref, tool, api };
}

/** The function list built from the tool environment. */
export function functionsFromEnvironment(
  query: Query,
  environment: ToolEnvironment,
  options: FunctionListOptions = DEFAULT_FUNCTION_LIST_OPTIONS,
): QueryFunctions {
  const resolutions = resolveQueryApis(query, environment, options);
  const functions = resolutions.flatMap((resolution) =>
    resolution.kind === 'resolved'
      ? [apiToFunction(describeToolApi(resolution.api), resolution.tool.standardName, options)]
      : [],
  );
  return withFinish(
    functions,
    options.finish,
    resolutions.filter((resolution): resolution is UnresolvedApi => resolution.kind === 'unresolved'),
  );
}

/** The function list built from the descriptions carried in the query's own `api_list`. */
export function functionsFromQuery(query: Query, options: FunctionListOptions = DEFAULT_FUNCTION_LIST_OPTIONS): QueryFunctions {
  const functions = requireApiList(query).map((ref) => {
    if (ref.apiDescription === undefined) {
      throw inputError(
        ref.file,
        `${ref.path}.api_description`,
        'a string (this query does not describe its APIs; pass --tools DIR to read them from the tool files)',
        { got: 'nothing' },
      );
    }
    return apiToFunction(
      {
        apiName: ref.apiName,
        apiDescription: ref.apiDescription,
        requiredParameters: ref.requiredParameters ?? [],
        optionalParameters: ref.optionalParameters ?? [],
      },
      standardize(ref.toolName),
      options,
    );
  });
  return withFinish(functions, options.finish, []);
}

function withFinish(
  functions: readonly OpenAIFunction[],
  finish: FinishVersion,
  unresolved: readonly UnresolvedApi[],
): QueryFunctions {
  const all = [...functions, finishFunction(finish)];
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const fn of all) (seen.has(fn.name) ? duplicates : seen).add(fn.name);
  return { functions: all, unresolved, duplicateNames: [...duplicates] };
}

function requireApiList(query: Query): readonly QueryApiRef[] {
  if (query.apiList === undefined) {
    throw inputError(query.file, `${query.path}.api_list`, 'an array of APIs (open-domain queries need a retriever)', {
      got: 'nothing',
    });
  }
  return query.apiList;
}

// First API per pure name, as upstream's linear scan finds it; built once per tool and naming rule.
const apiIndexes = new WeakMap<ToolDocument, Map<boolean, Map<string, ToolApi>>>();

function apiIndex(tool: ToolDocument, names: NameOptions): Map<string, ToolApi> {
  let byRule = apiIndexes.get(tool);
  if (byRule === undefined) apiIndexes.set(tool, (byRule = new Map()));
  let index = byRule.get(names.digitPrefix);
  if (index === undefined) {
    index = new Map();
    for (const api of tool.apis) {
      const pure = pureApiName(api.name, names);
      if (!index.has(pure)) index.set(pure, api);
    }
    byRule.set(names.digitPrefix, index);
  }
  return index;
}

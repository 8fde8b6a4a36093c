/**
 * A query made ready to search (algorithms.md §1.2–§4): its function list, the API behind each
 * function and the tool lines of the system prompt.
 *
 * With a tool folder the APIs are read from the tool files, as upstream does; an API the folder
 * lacks is left out with a warning (upstream prints a line and, in ToolBench, shifts the tool
 * names of every later function: quirk 7, not reproduced). Without one, the descriptions the
 * query's own `api_list` carries are used and the tool lines have no descriptions.
 */
import type { ApiRef } from '../env/tool-call.js';
import { describeToolApi, apiToFunction, finishFunction, type FinishVersion, type OpenAIFunction } from '../registry/function-schema.js';
import { pureApiName, standardize } from '../registry/names.js';
import { functionsFromQuery, resolveQueryApis } from '../registry/query-functions.js';
import type { Query } from '../registry/query-file.js';
import { buildTaskDescription, type DescribedTool } from '../registry/task-description.js';
import type { ToolEnvironment } from '../registry/tool-environment.js';
import { pyStr } from '../util/pyrepr.js';
import type { SearchTask } from './types.js';

export interface TaskOptions {
  readonly tools?: ToolEnvironment;
  readonly finish?: FinishVersion;
  readonly warn: (message: string) => void;
}

export function buildSearchTask(query: Query, options: TaskOptions): SearchTask {
  const finish = options.finish ?? 'current';
  const queryText = typeof query.query === 'string' ? query.query : pyStr(query.query);
  const queryId = String(query.queryId);
  if (options.tools === undefined) {
    const { functions } = functionsFromQuery(query, { digitPrefix: true, finish });
    const refs = query.apiList ?? [];
    const apis: (ApiRef | undefined)[] = refs.map((ref) => ({
      category: ref.categoryName,
      tool: standardize(ref.toolName),
      api: pureApiName(ref.apiName),
    }));
    const tools: DescribedTool[] = apis.map((api) => ({ standardName: (api as ApiRef).tool, description: null }));
    return { queryId, query: queryText, functions, apis: [...apis, undefined], taskDescription: buildTaskDescription(tools) };
  }
  const functions: OpenAIFunction[] = [];
  const apis: (ApiRef | undefined)[] = [];
  const tools: DescribedTool[] = [];
  for (const resolution of resolveQueryApis(query, options.tools)) {
    if (resolution.kind === 'unresolved') {
      options.warn(`query ${queryId}: ${resolution.message}; the function is left out`);
      continue;
    }
    const { tool, api } = resolution;
    functions.push(apiToFunction(describeToolApi(api), tool.standardName));
    apis.push({ category: tool.category, tool: tool.standardName, api: pureApiName(api.name) });
    tools.push({ standardName: tool.standardName, description: tool.description });
  }
  functions.push(finishFunction(finish));
  apis.push(undefined);
  return { queryId, query: queryText, functions, apis, taskDescription: buildTaskDescription(tools) };
}

/**
 * One `/stream` request (formats.md §14, algorithms.md §12–§13): choose the APIs (the retriever,
 * or the request's own `api_list`), build the task, search, and report it all as stream events.
 */
import { createDirectorySink } from '../infer/answer-sink.js';
import type { Backbone } from '../llm/backbone.js';
import type { ToolEnv } from '../env/tool-call.js';
import type { FinishVersion } from '../registry/function-schema.js';
import { parseQuery, type Query } from '../registry/query-file.js';
import type { ToolEnvironment } from '../registry/tool-environment.js';
import { openDomainQuery } from '../retriever/open-domain.js';
import type { RetrievalHit } from '../retriever/dense-retriever.js';
import { runSearch } from '../search/run-search.js';
import { buildSearchTask } from '../search/task.js';
import type { CompatFlag, SearchMethod } from '../search/types.js';
import type { PyValue } from '../util/py-value.js';
import { StreamEvents, type StreamEvent } from './stream-events.js';

/** Where messages about a request's body point (errors name this, not a file). */
export const REQUEST_ORIGIN = 'request body';

/** What the server keeps for every request: the model, the tools and the search limits. */
export interface AgentRuntime {
  readonly backbone: Backbone;
  readonly env: ToolEnv;
  readonly tools?: ToolEnvironment;
  readonly retriever?: { search(query: string, n: number): Promise<RetrievalHit[]> };
  readonly maxDepth: number;
  readonly maxQueryCount: number;
  readonly seed: number;
  readonly compat: ReadonlySet<CompatFlag>;
  readonly finish: FinishVersion;
  /** `--out`: a folder that gets every request's answer file too (upstream's `--output_answer_file`). */
  readonly answerDir?: string;
  readonly warn: (message: string) => void;
}

export interface StreamRequest {
  readonly text: string;
  readonly topK: number;
  readonly method: SearchMethod;
  /** The query; its `apiList` is the request's own APIs (closed domain), or undefined to ask the retriever. */
  readonly query: Query;
}

/**
 * The request body's query: `text` as the query and, when given, `api_list` as in a query file.
 * Throws an input error (which field, what was expected) for a malformed `api_list`.
 */
export function requestQuery(text: string, apiList: PyValue | undefined, queryId: string): Query {
  return parseQuery({ query: text, query_id: queryId, ...(apiList === undefined ? {} : { api_list: apiList }) }, REQUEST_ORIGIN, 0, '$');
}

/** Runs the request, reporting through `emit`; returns the final event (`on_request_end`). */
export async function answerRequest(request: StreamRequest, runtime: AgentRuntime, emit: (event: StreamEvent) => void, signal: AbortSignal): Promise<StreamEvent> {
  const events = new StreamEvents(emit, request.method.family === 'DFS');
  events.retrievalStart();
  let query = request.query;
  if (query.apiList === undefined) {
    if (runtime.retriever === undefined || runtime.tools === undefined) throw new Error('this server has no retriever: give api_list in the request');
    query = await openDomainQuery(runtime.retriever, query, request.topK, runtime.tools);
    signal.throwIfAborted();
  }
  const task = buildSearchTask(query, { ...(runtime.tools === undefined ? {} : { tools: runtime.tools }), finish: runtime.finish, warn: runtime.warn });
  events.retrievalEnd(task.functions);
  events.requestStart(request.text, request.method.name);
  const result = await runSearch(task, {
    method: request.method,
    backbone: runtime.backbone,
    env: runtime.env,
    maxDepth: runtime.maxDepth,
    maxQueryCount: runtime.maxQueryCount,
    seed: runtime.seed,
    compat: runtime.compat,
    signal,
    onEvent: (event) => events.search(event),
  });
  signal.throwIfAborted();
  if (runtime.answerDir !== undefined) await createDirectorySink(runtime.answerDir, request.method.name).write(task.queryId, result.answer);
  return events.requestEnd(result);
}

/**
 * The `infer` run loop: up to `workers` queries at a time, each searched and written as one answer
 * (or skipped when an earlier run answered it). A query that fails, or an item of the input that is
 * not a valid query, is recorded and the run goes on; a usage or backbone-configuration error stops
 * everything. An abort (Ctrl-C) stops the searches in flight, starts nothing more and writes nothing
 * partial, even while the run waits on its input. `maxCost` and a query source that breaks (it cannot
 * be read, or is not well formed) stop new queries from starting; those in flight finish.
 */
import type { CompatFlag, SearchMethod, SearchOptions, SearchResult, SearchTask } from '../search/types.js';
import { setMaxListeners } from 'node:events';
import { ToolbenchError } from '../util/errors.js';
import { withLinkedSignal } from '../util/linked-signal.js';
import { raceAbort } from './abortable.js';
import type { AnswerSink } from './answer-sink.js';
import { queryEvent, type InferEvent, type RunCounts, type StopReason } from './infer-events.js';
import type { InferJob, OpenedJob } from './infer-job.js';

export type SearchFunction = (task: SearchTask, options: SearchOptions) => Promise<SearchResult>;

export interface InferRunOptions {
  readonly method: SearchMethod;
  readonly maxDepth: number;
  readonly maxQueryCount: number;
  readonly seed: number;
  readonly compat: ReadonlySet<CompatFlag>;
  /** Queries searched at the same time. */
  readonly workers: number;
  /** US dollars: once the LLM calls of this run cost this much, no new query starts. */
  readonly maxCost?: number;
  /** Search queries that already have an answer. */
  readonly overwrite: boolean;
  readonly sink: AnswerSink;
  readonly search: SearchFunction;
  /** Aborted on Ctrl-C. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: InferEvent) => void;
  readonly warn: (message: string) => void;
  /** Milliseconds, for the run's duration and failure times. */
  readonly now: () => number;
}

export interface InferSummary extends RunCounts {
  readonly seconds: number;
  readonly stoppedBy: StopReason;
  /** Queries started but stopped by an interrupt or a fatal error: nothing of them was written. */
  readonly unfinished: number;
  /** The error that stopped the run (stoppedBy `fatal`): a fatal error, or the query source's. */
  readonly fatal?: unknown;
}

export async function runInfer(jobs: AsyncIterable<InferJob>, options: InferRunOptions): Promise<InferSummary> {
  const started = options.now();
  const controller = new AbortController();
  // one listener per query in flight (withLinkedSignal), not one per HTTP request
  setMaxListeners(Math.max(1, options.workers) + 10, controller.signal);
  // aborted once no query may start any more: workers waiting on the input stop waiting
  const starting = new AbortController();
  setMaxListeners(Math.max(1, options.workers) + 10, starting.signal); // one per worker waiting for a query
  const forwardAbort = (): void => {
    controller.abort(options.signal?.reason);
    starting.abort(options.signal?.reason);
  };
  if (options.signal?.aborted) forwardAbort();
  options.signal?.addEventListener('abort', forwardAbort, { once: true });

  const counts = { done: 0, skipped: 0, failed: 0, win: 0, give_up: 0, llm_calls: 0, total_tokens: 0, cost: 0 };
  let unfinished = 0;
  let maxCostReached = false;
  let fatal: { error: unknown } | undefined;
  const emit = (event: InferEvent): void => options.onEvent?.(event);
  /** Starts nothing more; with `abort`, also stops the queries in flight. */
  const stop = (error: unknown, { abort }: { abort: boolean }): void => {
    if (fatal === undefined) fatal = { error };
    starting.abort(error);
    if (abort) controller.abort(error);
  };
  const costReached = (): boolean => {
    if (options.maxCost !== undefined && counts.cost >= options.maxCost) maxCostReached = true;
    return maxCostReached;
  };
  const mayStart = (): boolean => {
    if (starting.signal.aborted) return false;
    if (costReached()) starting.abort();
    return !starting.signal.aborted;
  };

  const searchOptions = (opened: OpenedJob, queryId: string, signal: AbortSignal): SearchOptions => ({
    method: opened.method ?? options.method,
    backbone: opened.backbone,
    env: opened.env,
    maxDepth: opened.maxDepth ?? options.maxDepth,
    maxQueryCount: opened.maxQueryCount ?? options.maxQueryCount,
    seed: options.seed,
    compat: options.compat,
    signal,
    onEvent: (event) => {
      if (event.type === 'llm') {
        counts.llm_calls++;
        counts.total_tokens += event.usage.totalTokens;
        counts.cost += event.cost;
        if (costReached()) starting.abort();
      }
      const shown = queryEvent(queryId, event);
      if (shown !== undefined) emit(shown);
    },
  });

  const fail = async (queryId: string, error: unknown): Promise<void> => {
    counts.failed++;
    const message = errorMessage(error);
    emit({ event: 'query_error', query_id: queryId, error: message });
    options.warn(`query ${queryId} failed: ${message}`);
    await options.sink.recordFailure({ queryId, error: message, time: new Date(options.now()).toISOString() });
  };

  const runJob = async (job: InferJob): Promise<void> => {
    const { queryId } = job;
    if (job.invalid !== undefined) {
      await fail(queryId, job.invalid);
      return;
    }
    let file: string;
    try {
      file = options.sink.locate(queryId);
    } catch (error) {
      await fail(queryId, error);
      return;
    }
    if (!options.overwrite && (await options.sink.has(queryId))) {
      counts.skipped++;
      emit({ event: 'query_end', query_id: queryId, file, skipped: true });
      return;
    }
    emit({ event: 'query_start', query_id: queryId });
    let opened: OpenedJob | undefined;
    let stage: 'open' | 'search' = 'open';
    try {
      opened = await job.open();
      stage = 'search';
      const result = await withLinkedSignal(controller.signal, (signal) => options.search(opened!.task, searchOptions(opened!, queryId, signal)));
      // after an abort a tool call may have been cut short: a result that ends later is not trusted
      if (controller.signal.aborted) {
        unfinished++;
        return;
      }
      const written = await options.sink.write(queryId, result.answer);
      counts.done++;
      if (result.win) counts.win++;
      if (result.finishType === 'give_up') counts.give_up++;
      emit({
        event: 'query_end',
        query_id: queryId,
        file: written,
        win: result.win,
        finish_type: result.finishType,
        query_count: result.queryCount,
        total_tokens: result.totalTokens,
        cost: result.cost,
      });
    } catch (error) {
      if (stopsTheRun(error, stage)) stop(error, { abort: true });
      if (controller.signal.aborted) unfinished++;
      else await fail(queryId, error);
    } finally {
      await opened?.close?.().catch((error: unknown) => options.warn(`query ${queryId}: closing its backbone or environment failed: ${errorMessage(error)}`));
    }
  };

  const iterator = jobs[Symbol.asyncIterator]();
  let waiting = 0; // calls of iterator.next() not settled yet
  const nextJob = (): Promise<IteratorResult<InferJob>> => {
    waiting++;
    const next = iterator.next();
    const settled = (): void => void waiting--;
    next.then(settled, settled);
    return raceAbort(next, starting.signal);
  };
  const worker = async (): Promise<void> => {
    while (mayStart()) {
      let next: IteratorResult<InferJob>;
      try {
        next = await nextJob();
      } catch (error) {
        // an unreadable or broken query source: the queries in flight finish and are written
        if (!starting.signal.aborted) stop(error, { abort: false });
        return;
      }
      if (next.done === true || !mayStart()) return;
      try {
        await runJob(next.value);
      } catch (error) {
        stop(error, { abort: true }); // the failure could not be recorded
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.workers) }, worker));
  options.signal?.removeEventListener('abort', forwardAbort);
  // a source still waiting on its input (a pipe that stays open) is released once that wait ends
  const closing = iterator.return?.(undefined).catch(() => undefined);
  if (waiting === 0) await closing;

  const stoppedBy: StopReason =
    fatal !== undefined ? 'fatal' : options.signal?.aborted ? 'interrupted' : maxCostReached ? 'max-cost' : 'completed';
  return {
    ...counts,
    seconds: (options.now() - started) / 1000,
    stoppedBy,
    unfinished,
    ...(fatal === undefined ? {} : { fatal: fatal.error }),
  };
}

/**
 * Errors that make every later query fail too: bad usage and bad input (exit 2) and a backbone
 * that cannot work (`llm.config`). A query whose own task cannot be built (its tools are missing,
 * its recorded file is malformed) fails alone.
 */
function stopsTheRun(error: unknown, stage: 'open' | 'search'): boolean {
  if (!(error instanceof ToolbenchError)) return false;
  if (error.code === 'llm.config') return true;
  return error.exitCode === 2 && !(stage === 'open' && error.code === 'input.invalid');
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

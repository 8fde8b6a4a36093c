/**
 * What `infer` reports while it runs: one union for the `--json` stream (one object a line, in
 * this shape), the progress bar and the summary. Search events are tagged with their query; tool
 * observations are left out (they can be large: the answer file has them).
 */
import type { SearchEvent } from '../search/types.js';

export type StopReason = 'completed' | 'max-cost' | 'interrupted' | 'fatal';

export interface RunCounts {
  /** Queries answered (files written) in this run. */
  readonly done: number;
  /** Queries answered by an earlier run (resume). */
  readonly skipped: number;
  readonly failed: number;
  readonly win: number;
  readonly give_up: number;
  readonly llm_calls: number;
  readonly total_tokens: number;
  readonly cost: number;
}

export type InferEvent =
  | {
      readonly event: 'run_start';
      readonly method: string;
      readonly backbone: string;
      readonly model?: string;
      readonly out: string;
      readonly workers: number;
      readonly shard?: string;
      readonly max_cost?: number;
      /** Queries this run will look at (resumed ones included), when known in advance. */
      readonly total?: number;
    }
  | { readonly event: 'query_start'; readonly query_id: string }
  | {
      readonly event: 'llm';
      readonly query_id: string;
      readonly purpose: 'agent' | 'rank';
      readonly depth: number;
      readonly ok: boolean;
      readonly prompt_tokens: number;
      readonly completion_tokens: number;
      readonly total_tokens: number;
      readonly cost: number;
      readonly error?: string;
    }
  | { readonly event: 'tool'; readonly query_id: string; readonly depth: number; readonly name: string; readonly status: number; readonly source?: string }
  | { readonly event: 'node'; readonly query_id: string; readonly depth: number; readonly node_type: string; readonly expand_num: number }
  | {
      readonly event: 'query_end';
      readonly query_id: string;
      readonly file: string;
      readonly win?: boolean;
      readonly finish_type?: string;
      readonly query_count?: number;
      readonly total_tokens?: number;
      readonly cost?: number;
      /** Answered by an earlier run: nothing was done. */
      readonly skipped?: true;
    }
  | { readonly event: 'query_error'; readonly query_id: string; readonly error: string }
  | ({
      readonly event: 'run_end';
      readonly seconds: number;
      readonly stopped_by: StopReason;
      /** Queries stopped in flight (interrupt, fatal error): nothing of them was written. */
      readonly unfinished: number;
      /** What stopped the run (`fatal`). */
      readonly error?: string;
    } & RunCounts);

/**
 * A search event of one query, as the stream shows it; undefined for the events only the
 * `/stream` server shows (a call about to start, a step's subtree done).
 */
export function queryEvent(queryId: string, event: SearchEvent): InferEvent | undefined {
  switch (event.type) {
    case 'llm_start':
    case 'tool_start':
    case 'step_end':
      return undefined;
    case 'llm':
      return {
        event: 'llm',
        query_id: queryId,
        purpose: event.purpose,
        depth: event.depth,
        ok: event.ok,
        prompt_tokens: event.usage.promptTokens,
        completion_tokens: event.usage.completionTokens,
        total_tokens: event.usage.totalTokens,
        cost: event.cost,
        ...(event.ok || event.error === undefined ? {} : { error: event.error }),
      };
    case 'tool':
      return { event: 'tool', query_id: queryId, depth: event.depth, name: event.name, status: event.status, ...(event.source === undefined ? {} : { source: event.source }) };
    case 'node':
      return { event: 'node', query_id: queryId, depth: event.depth, node_type: event.nodeType, expand_num: event.expandNum };
  }
}

/** One line of the `--json` stream. */
export function encodeInferEvent(event: InferEvent): string {
  return `${JSON.stringify(event)}\n`;
}

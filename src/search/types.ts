/**
 * What the search engine takes and gives (spec algorithms.md §7–§11, formats.md §3): one task
 * (a query with its function list and tool environment) in, one upstream answer file out, with
 * events along the way for progress bars, `--json` streams and the `/stream` server.
 */
import type { Backbone, ChatMessage, TokenUsage } from '../llm/backbone.js';
import type { ApiRef, ToolCallSource, ToolEnv } from '../env/tool-call.js';
import type { OpenAIFunction } from '../registry/function-schema.js';
import type { PyObject } from '../util/py-value.js';

export type SearchMethod =
  | { readonly family: 'CoT'; readonly name: string; readonly passAt: number }
  | { readonly family: 'DFS'; readonly name: string; readonly width: number; readonly withFilter: boolean };

/** One query, ready to search. */
export interface SearchTask {
  readonly queryId: string;
  readonly query: string;
  /** Plain function schemas in `api_list` order, `Finish` last (what `answer_generation.function` holds, before shaping). */
  readonly functions: readonly OpenAIFunction[];
  /** The API each function calls, same index as `functions`; undefined for `Finish`. */
  readonly apis: readonly (ApiRef | undefined)[];
  /** The tool lines of the system prompt (prompts.md §1.2); also the ranking prompt's `{task_description}`. */
  readonly taskDescription: string;
  /** The root conversation; defaults to [system, user] built from the prompts. Replay passes the recorded ones. */
  readonly rootMessages?: readonly ChatMessage[];
  /** `answer_generation.function` exactly as recorded (replay); defaults to `functions` in the backbone's shape. */
  readonly recordedFunctionList?: readonly PyObject[];
  /**
   * Replay: the recorded `train_messages`. Upstream picks the reported give-up at random; a
   * replay picks the give-up whose conversation was recorded.
   */
  readonly recordedTrainMessages?: readonly (readonly ChatMessage[])[];
}

/** Upstream's limits: `single_chain_max_step` 12 and `max_query_count` 200 (algorithms.md §1.1). */
export const SEARCH_DEFAULTS = Object.freeze({ maxDepth: 12, maxQueryCount: 200 });

export interface SearchOptions {
  readonly method: SearchMethod;
  readonly backbone: Backbone;
  readonly env: ToolEnv;
  /** Node depth at which a branch is cut (`single_chain_max_step`, default 12). */
  readonly maxDepth: number;
  /** Agent LLM calls allowed per query (default 200). */
  readonly maxQueryCount: number;
  /** Seeds every choice the engine makes (the give-up answer); recorded in the answer file. */
  readonly seed: number;
  /** Upstream behaviours kept on request (see COMPAT_FLAGS). */
  readonly compat?: ReadonlySet<CompatFlag>;
  readonly onEvent?: (event: SearchEvent) => void;
  readonly signal?: AbortSignal;
}

/**
 * Upstream behaviours that are bugs but change results, available for exact comparisons:
 * - `dfs-2023`: the older DFSDT in which a branch cut at the depth limit abandons its
 *   parent state too, and give-up answers are never reported (the 2023 ToolBench answer trees
 *   G1/57, G1/69 and G3/8 were made with it).
 */
export const COMPAT_FLAGS = ['dfs-2023'] as const;
export type CompatFlag = (typeof COMPAT_FLAGS)[number];

/**
 * What a search reports as it goes. `llm_start`, `tool_start` and `step_end` exist for the
 * `/stream` server's callbacks (formats.md §14): a model call about to start (with the
 * conversation it is given), a tool call about to run, and a DFS step whose subtree has been
 * explored (not reported for the step whose call spent the budget, as upstream).
 */
export type SearchEvent =
  | { readonly type: 'llm_start'; readonly purpose: 'agent' | 'rank'; readonly depth: number; readonly messages: readonly ChatMessage[] }
  | { readonly type: 'tool_start'; readonly depth: number; readonly name: string; readonly arguments: string }
  | { readonly type: 'step_end'; readonly depth: number }
  | {
      readonly type: 'llm';
      readonly purpose: 'agent' | 'rank';
      readonly depth: number;
      readonly ok: boolean;
      readonly usage: TokenUsage;
      readonly cost: number;
      readonly message?: ChatMessage;
      readonly error?: string;
    }
  | {
      readonly type: 'tool';
      readonly depth: number;
      readonly name: string;
      readonly arguments: string;
      readonly observation: string;
      readonly status: number;
      /** Undefined for Finish and unknown functions, which the engine answers itself. */
      readonly source?: ToolCallSource;
    }
  | { readonly type: 'node'; readonly depth: number; readonly nodeType: NodeType; readonly expandNum: number };

export type NodeType = 'Thought' | 'Action' | 'Action Input';

export type FinishType = 'give_answer' | 'give_up' | 'none';

export interface SearchResult {
  /** The answer file as upstream writes it (pyjson-indent-2 of this object), plus a `toolbench` block. */
  readonly answer: PyObject;
  readonly win: boolean;
  readonly finishType: FinishType;
  readonly queryCount: number;
  readonly totalTokens: number;
  readonly cost: number;
  /** Set when the LLM-call budget ended the search (an abort throws the signal's reason instead). */
  readonly stoppedBy?: 'max-query-count';
  /** The node that gave the final answer: its Finish arguments and its conversation (the `/stream` server's `on_request_end`). */
  readonly answered?: { readonly description: string; readonly messages: readonly ChatMessage[] };
}

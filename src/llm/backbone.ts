/**
 * The one interface every model backbone implements (spec algorithms.md §6): given the
 * conversation of a search node and the function list, produce the next assistant message.
 *
 * Messages are plain JSON objects kept in the exact shape upstream writes them (key order
 * included), because they end up verbatim in `train_messages` of the answer file.
 */
import type { OpenAIFunction } from '../registry/function-schema.js';
import type { PyValue } from '../util/py-value.js';

/**
 * How calls and results are expressed (algorithms.md §14):
 * - `functions`: ToolBench; `function_call` on the assistant message, `role: function` results;
 * - `tools`: StableToolBench; `tool_calls` (possibly several), `role: tool` results with `tool_call_id`.
 */
export type MessageShape = 'functions' | 'tools';
export const MESSAGE_SHAPES: readonly MessageShape[] = ['functions', 'tools'];

/** A chat message as upstream stores it: `role`, `content`, and shape-specific keys; `valid: false` marks a diversity prompt. */
export type ChatMessage = { role: string; [key: string]: PyValue };

/** Where in the search a call is made: what the replay backbone needs to find the recorded reply. */
export interface SearchPosition {
  /** CoT attempt number from 0; 0 for DFS. */
  readonly attempt: number;
  /** Child indices from the root to the node being expanded. */
  readonly path: readonly number[];
  /** How many children that node already has: this call creates the next one. */
  readonly expansion: number;
}

export interface CompletionRequest {
  /** The node's whole conversation, including messages marked `valid: false`; each backbone filters as its protocol does. */
  readonly messages: readonly ChatMessage[];
  /** Plain function schemas (`{name, description, parameters}`), `Finish` last. */
  readonly functions: readonly OpenAIFunction[];
  /** `rank`: a DFS_wFilter pairwise comparison, sent with `function_call: "none"` and answered with text. */
  readonly purpose: 'agent' | 'rank';
  readonly position?: SearchPosition;
  readonly signal?: AbortSignal;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** What upstream adds to `total_tokens` for this call. */
  readonly totalTokens: number;
}

export type Completion =
  | {
      readonly ok: true;
      /** The assistant message in the backbone's shape (null-valued keys as the protocol keeps them). */
      readonly message: ChatMessage;
      readonly usage: TokenUsage;
      /** US dollars, from the price table; 0 when the model has no price. */
      readonly cost: number;
    }
  | {
      /** Every attempt failed (upstream error code -1): the search prunes the node. */
      readonly ok: false;
      readonly error: string;
      readonly usage: TokenUsage;
      readonly cost: number;
    };

export interface Backbone {
  /** `openai`, `toolllama` or `replay`. */
  readonly kind: string;
  readonly shape: MessageShape;
  complete(request: CompletionRequest): Promise<Completion>;
  /** What to record in the answer file's `toolbench` block: model, temperature, seed, endpoint (never a key). */
  describe(): { readonly [key: string]: PyValue };
  close?(): Promise<void>;
}

export const NO_USAGE: TokenUsage = Object.freeze({ promptTokens: 0, completionTokens: 0, totalTokens: 0 });

/** The calls an assistant message makes, whatever its shape. */
export interface AssistantCall {
  /** `tool_calls[k].id` in the tools shape. */
  readonly id?: string;
  readonly name: string;
  readonly arguments: string;
}

/**
 * The one interface every tool environment implements: a call to one API with the model's
 * arguments text gives an observation (the text the model sees), an upstream status code and
 * where the answer came from (spec algorithms.md §5.2–5.3, formats.md §12–13).
 *
 * Environments are built in two layers. A `ToolBackend` answers a call with a server reply
 * (`{"error": ..., "response": ...}`), a transport failure, or an observation recorded earlier;
 * `shapeToolEnv` (observation.ts) turns that into what the model sees, the same way for every
 * backend, and records it when asked.
 */
import type { PyValue } from '../util/py-value.js';
import type { ToolStatus } from './status.js';

/** Which API a call goes to, named as the tool environment stores it. */
export interface ApiRef {
  /** Category folder name (standardize_category form), e.g. `Social`. */
  readonly category: string;
  /** Standard tool name: the tool file's base name, e.g. `olato_quotes`. */
  readonly tool: string;
  /** Pure API name, change_name(standardize(api name)), e.g. `love_quote`. */
  readonly api: string;
}

/** Where an observation came from; recorded with every call so a run can be audited. */
export type ToolCallSource =
  | 'cache' // the virtual API's response cache
  | 'real' // a real call made by the virtual API (--allow-real)
  | 'simulated' // the virtual API's LLM simulation
  | 'service' // the ToolBench RapidAPI service
  | 'rapidapi' // RapidAPI called directly
  | 'local' // a local tool module
  | 'recorded' // replayed from a recording, a cache or an answer tree
  | 'environment'; // the environment answered itself: bad input, chat_with_user, replay miss, no simulator

export interface ToolCallResult {
  /** What the model sees: pyjson of the reply, cut to max-observation-length plus `...`. */
  readonly observation: string;
  readonly status: ToolStatus;
  readonly source: ToolCallSource;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface ToolEnv {
  /** `args` is the model's arguments text, unparsed, exactly as upstream sends `tool_input`. */
  call(api: ApiRef, args: string, options?: CallOptions): Promise<ToolCallResult>;
  /** Releases files, sockets and modules; calls after close are not allowed. */
  close(): Promise<void>;
}

/** Why a request to a remote tool server produced no usable reply. */
export type TransportFailure =
  | { readonly kind: 'http-status'; readonly status: number }
  | { readonly kind: 'bad-body' }
  | { readonly kind: 'timeout' };

export type BackendAnswer =
  /** A server reply, normally `{"error": string, "response": any}` (a simulator may return any JSON). */
  | { readonly kind: 'reply'; readonly reply: PyValue; readonly source: ToolCallSource }
  | { readonly kind: 'failure'; readonly failure: TransportFailure; readonly source: ToolCallSource }
  /** An observation replayed as it was recorded: passed through unchanged, bit for bit. */
  | { readonly kind: 'recorded'; readonly observation: string; readonly status: ToolStatus; readonly source: ToolCallSource };

export interface ToolBackend {
  answer(api: ApiRef, args: string, options?: CallOptions): Promise<BackendAnswer>;
  close?(): Promise<void>;
}

/**
 * How tool results are shortened (algorithms.md §5.4): sent to the service as `strip`, applied by
 * the RapidAPI and local runners; `truncate` only cuts.
 */
export const OBSERVATION_COMPRESS_METHODS = ['truncate', 'filter', 'random'] as const;
export type ObservationCompress = (typeof OBSERVATION_COMPRESS_METHODS)[number];

/** A server reply with the two upstream fields. */
export function serverReply(error: string, response: PyValue): { error: string; response: PyValue } {
  return { error, response };
}

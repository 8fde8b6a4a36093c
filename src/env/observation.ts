/**
 * What the model sees of a tool call (spec algorithms.md §5.2, prompts.md §1.6): the server
 * reply as Python's `json.dumps`, cut to `max_observation_length` code points plus `...`, and the
 * status code of its `error` text. Transport failures become upstream's fixed observations.
 * The same shaping wraps every backend, so environments differ only in where replies come from.
 */
import { TOOL_ERROR_TEXT } from '../protocol/prompts.js';
import { pyHead } from '../util/py-string.js';
import { pyJsonDumps } from '../util/pyjson.js';
import type { CallRecorder } from './recording.js';
import { TOOL_STATUS, statusOfReply, type ToolStatus } from './status.js';
import type { ApiRef, BackendAnswer, CallOptions, ToolBackend, ToolCallResult, ToolEnv, TransportFailure } from './tool-call.js';

export interface ShapingOptions {
  /** Upstream default 1024; observations longer than this are cut and `...` is appended. */
  readonly maxObservationLength: number;
  /** Status 10 makes upstream's client wait 10 s before going on; 0 to not wait. */
  readonly rateLimitPauseMs: number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly recorder?: CallRecorder;
}

export function shapeToolEnv(backend: ToolBackend, options: ShapingOptions): ToolEnv {
  return {
    async call(api: ApiRef, args: string, callOptions?: CallOptions): Promise<ToolCallResult> {
      const answer = await backend.answer(api, args, callOptions);
      const result = shapeAnswer(answer, options.maxObservationLength);
      // upstream waits after a live rate-limit reply; waiting on a stored one changes nothing
      const live = result.source !== 'recorded' && result.source !== 'cache';
      if (live && result.status === TOOL_STATUS.rateLimitPerMinute && options.rateLimitPauseMs > 0) {
        await options.sleep(options.rateLimitPauseMs, callOptions?.signal);
      }
      options.recorder?.record({ api, args, answer, result });
      return result;
    },
    async close(): Promise<void> {
      await backend.close?.();
      await options.recorder?.close();
    },
  };
}

export function shapeAnswer(answer: BackendAnswer, maxObservationLength: number): ToolCallResult {
  switch (answer.kind) {
    case 'recorded':
      return { observation: answer.observation, status: answer.status, source: answer.source };
    case 'reply':
      return {
        observation: truncateObservation(pyJsonDumps(answer.reply), maxObservationLength),
        status: statusOfReply(answer.reply),
        source: answer.source,
      };
    case 'failure': {
      const { error, status } = describeFailure(answer.failure);
      return { observation: pyJsonDumps({ error, response: '' }), status, source: answer.source };
    }
  }
}

/** Python `text[:max] + "..."` when the text is longer than `max` code points. */
export function truncateObservation(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = pyHead(text, max);
  return head.length === text.length ? text : `${head}...`;
}

function describeFailure(failure: TransportFailure): { error: string; status: ToolStatus } {
  switch (failure.kind) {
    case 'http-status':
      return { error: TOOL_ERROR_TEXT.httpStatus(failure.status), status: TOOL_STATUS.requestFailed };
    case 'bad-body':
      return { error: TOOL_ERROR_TEXT.badBody, status: TOOL_STATUS.requestFailed };
    case 'timeout':
      return { error: TOOL_ERROR_TEXT.timeout, status: TOOL_STATUS.timeout };
  }
}

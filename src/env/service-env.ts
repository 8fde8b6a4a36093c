/**
 * `--env service`: the ToolBench RapidAPI service protocol (spec formats.md §12.1–12.2), which
 * StableToolBench's virtual server (`.../virtual`) and `toolbench serve tools` also speak.
 * POST `{category, tool_name, api_name, tool_input, strip, toolbench_key}` with the key in a
 * `toolbench_key` header; the reply `{error, response}` is shaped like any other (observation.ts).
 *
 * Differences from upstream, on purpose: no fixed 2 s sleep before each call; 5xx replies and
 * connection errors are retried with backoff; a service that stays unreachable is an error that
 * stops the run (upstream ToolBench crashes on it too) instead of an observation the model sees.
 */
import { ToolbenchError } from '../util/errors.js';
import { pyJsonParse } from '../util/pyjson-parse.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { httpWithRetries } from './http-call.js';
import type { ApiRef, BackendAnswer, CallOptions, ObservationCompress, ToolBackend } from './tool-call.js';

export interface ServiceOptions {
  readonly url: string;
  /** TOOLBENCH_KEY; sent as upstream does, never logged. Empty for a self-hosted service. */
  readonly key: string;
  /** Sent as `strip`: the service compresses observations itself (algorithms.md §5.4). */
  readonly compress: ObservationCompress;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function createServiceBackend(options: ServiceOptions): ToolBackend {
  return {
    async answer(api: ApiRef, args: string, callOptions: CallOptions = {}): Promise<BackendAnswer> {
      const payload = {
        category: api.category,
        tool_name: api.tool,
        api_name: api.api,
        tool_input: args,
        strip: options.compress,
        toolbench_key: options.key,
      };
      const outcome = await httpWithRetries(
        {
          url: options.url,
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', toolbench_key: options.key },
          body: pyJsonDumps(payload),
        },
        { ...options, signal: callOptions.signal },
      );
      switch (outcome.kind) {
        case 'timeout':
          return { kind: 'failure', failure: { kind: 'timeout' }, source: 'service' };
        case 'unreachable':
          throw new ToolbenchError(
            'env.unreachable',
            1,
            `tool service ${options.url} unreachable after ${outcome.attempts} attempts: ${outcome.message}`,
          );
        case 'response':
          if (outcome.status !== 200) return { kind: 'failure', failure: { kind: 'http-status', status: outcome.status }, source: 'service' };
          try {
            return { kind: 'reply', reply: pyJsonParse(outcome.body), source: 'service' };
          } catch {
            return { kind: 'failure', failure: { kind: 'bad-body' }, source: 'service' };
          }
      }
    },
  };
}

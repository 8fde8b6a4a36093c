/**
 * How a judge request reaches a model: the `openai` package against any OpenAI-compatible
 * endpoint, one client per key of the pool, used round-robin (formats.md §10). The request is
 * upstream's (tooleval.md §3.3): the evaluator's completion settings, the prompt as messages, and
 * exactly one function, forced: `functions` + `function_call` (ToolBench) or `tools` +
 * `tool_choice` (StableToolBench).
 *
 * HTTP retries (408/409/429/5xx, connection errors, with `retry-after`) are the package's.
 * 401/403/404 stop the run: the key, model or URL is wrong and retrying cannot help.
 */
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { CONFIG_HINTS } from '../llm/openai-backbone.js';
import { BACKBONE_DEFAULTS, clientRedactor, createOpenAIClient } from '../llm/openai-client.js';
import { linkSignal } from '../util/linked-signal.js';
import { ToolbenchError } from '../util/errors.js';
import { withoutCredentials } from '../util/redact.js';
import type { JudgeFunctionSchema } from './evaluator-config.js';

export type JudgeShape = 'functions' | 'tools';

export interface JudgeRequest {
  readonly model: string;
  readonly messages: readonly { readonly role: string; readonly content: string }[];
  readonly function: JudgeFunctionSchema;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly shape: JudgeShape;
  /** Which evaluation run asks: identical prompts in different runs are different samples. */
  readonly sample: number;
}

/** What the judge answered: the forced call's raw arguments text, and the message text. */
export interface JudgeReply {
  readonly arguments: string | null;
  readonly content: string | null;
  /** The refusal text when the model refused (newer API versions). */
  readonly refusal?: string | null;
  /** The model that answered, as the endpoint reports it (a dated snapshot, typically). */
  readonly model: string | null;
}

export interface JudgeTransport {
  send(request: JudgeRequest, attempt: number, signal?: AbortSignal): Promise<JudgeReply>;
}

/** The request body: model, messages, the evaluator's settings, then the forced function. Also what the cache key is made of. */
export function judgeRequestBody(request: JudgeRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { model: request.model, messages: request.messages, ...request.settings };
  if (request.shape === 'functions') {
    body['functions'] = [request.function];
    body['function_call'] = { name: request.function.name };
  } else {
    body['tools'] = [{ type: 'function', function: request.function }];
    body['tool_choice'] = { type: 'function', function: { name: request.function.name } };
  }
  return body;
}

/** The cache key: sha256 of the body and the sample index; no key or URL goes in. */
export function judgeRequestKey(request: JudgeRequest): string {
  return createHash('sha256').update(JSON.stringify(judgeRequestBody(request))).update(`\u0000sample=${request.sample}`).digest('hex');
}

export interface PoolEntry {
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly organization?: string;
}

export interface OpenAIJudgeOptions {
  readonly pool: readonly PoolEntry[];
  readonly timeoutMs?: number;
  readonly maxRetries?: number;
  readonly fetch?: typeof fetch;
}

export function createOpenAIJudge(options: OpenAIJudgeOptions): JudgeTransport {
  if (options.pool.length === 0) throw new ToolbenchError('usage.invalid', 2, 'the judge has no endpoint');
  const clients = options.pool.map((entry) => ({
    entry,
    shownUrl: withoutCredentials(entry.baseUrl),
    redact: clientRedactor({ baseUrl: entry.baseUrl, apiKey: entry.apiKey }),
    client: createOpenAIClient({
      baseUrl: entry.baseUrl,
      apiKey: entry.apiKey,
      maxRetries: options.maxRetries ?? BACKBONE_DEFAULTS.maxRetries,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
    }),
  }));
  let next = 0;
  return {
    async send(request, _attempt, signal) {
      const chosen = clients[next++ % clients.length]!;
      const body = judgeRequestBody(request);
      const headers = chosen.entry.organization ? { 'OpenAI-Organization': chosen.entry.organization } : undefined;
      const linked = linkSignal(signal); // the package leaves a listener per request on the signal it gets
      let response: unknown;
      try {
        response = await chosen.client.chat.completions.create(body as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, {
          signal: linked.signal,
          ...(headers ? { headers } : {}),
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const status = error instanceof OpenAI.APIError ? error.status : undefined;
        const hint = status === undefined ? undefined : CONFIG_HINTS[status];
        const reason = chosen.redact(error instanceof Error ? error.message : String(error));
        // no `cause`: the server's error text may quote the key, and --debug prints causes
        if (hint !== undefined) throw new ToolbenchError('llm.config', 1, `the judge endpoint ${chosen.shownUrl} refused model ${request.model} with HTTP ${status} (${reason}): ${hint}`);
        throw new JudgeCallError(`the judge endpoint ${chosen.shownUrl} failed: ${reason}`);
      } finally {
        linked.unlink();
      }
      return replyOf(response);
    },
  };
}

/** A call that failed after the package's retries (network, 5xx, timeout): the attempt is lost. */
export class JudgeCallError extends Error {}

function replyOf(response: unknown): JudgeReply {
  const record = isObject(response) ? response : {};
  const model = typeof record['model'] === 'string' ? record['model'] : null;
  const choices = record['choices'];
  const first = Array.isArray(choices) && isObject(choices[0]) ? choices[0] : undefined;
  const message = first !== undefined && isObject(first['message']) ? first['message'] : {};
  const content = typeof message['content'] === 'string' ? message['content'] : null;
  const refusal = typeof message['refusal'] === 'string' ? message['refusal'] : null;
  const toolCalls = Array.isArray(message['tool_calls']) ? message['tool_calls'] : [];
  const call = isObject(message['function_call']) ? message['function_call'] : isObject(toolCalls[0]) && isObject(toolCalls[0]['function']) ? toolCalls[0]['function'] : undefined;
  const args = call !== undefined && typeof call['arguments'] === 'string' ? call['arguments'] : null;
  return { arguments: args, content, model, ...(refusal !== null ? { refusal } : {}) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The `openai` backbone: ChatGPT (or any OpenAI-compatible server) through the `openai`
 * package's chat completions (spec algorithms.md §6.1 ToolBench, §6.2 StableToolBench).
 *
 * The two message shapes of §14 differ in what is sent and what is kept:
 * - `functions` (ToolBench): `functions` in the request (`function_call: "none"` when ranking);
 *   the reply is `{role, content, function_call?}` with `content` always present (null allowed)
 *   and a dotted function name cut to its last segment;
 * - `tools` (StableToolBench): `tools` in the request (`tool_choice: "none"` when ranking),
 *   `function_call` keys removed from the messages sent; the reply is `{role, content?,
 *   tool_calls?}` without null-valued keys (StableToolBench's DFS drops them).
 *
 * Upstream's own retry loop (6 attempts, 15 s apart) is replaced by the package's: it retries
 * 408/409/429/5xx and connection failures with backoff and honours `retry-after(-ms)`.
 * 401/403/404 mean the key, model or URL is wrong: a configuration error that stops the run.
 * Any other failure left after the retries is a failed call (upstream error code -1).
 */
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { toToolsShape } from '../registry/function-schema.js';
import { ToolbenchError } from '../util/errors.js';
import type { PyValue } from '../util/py-value.js';
import { withoutCredentials } from '../util/redact.js';
import { NO_USAGE, type Backbone, type ChatMessage, type Completion, type CompletionRequest, type MessageShape, type TokenUsage } from './backbone.js';
import { BACKBONE_DEFAULTS, clientRedactor, createOpenAIClient } from './openai-client.js';
import { loadPriceTable, type PriceTable } from './prices.js';
import type { RateLimiter } from './rate-limiter.js';

export interface OpenAIBackboneOptions {
  /** OpenAI-compatible base URL, e.g. `http://localhost:8000/v1`; OpenAI's when absent. */
  readonly baseUrl?: string;
  /** Sent as the bearer token; never logged, described or put in an error message. */
  readonly apiKey: string;
  readonly model: string;
  readonly shape: MessageShape;
  /** Not sent when absent (upstream sends none: the API default, 1.0). */
  readonly temperature?: number;
  /** Not sent when absent. */
  readonly seed?: number;
  readonly maxTokens?: number;
  /** Retries by the `openai` package after the first attempt. */
  readonly maxRetries?: number;
  /** Per HTTP attempt, counted from when the rate limiter lets it start. */
  readonly timeoutMs?: number;
  /** The built-in prices when absent. */
  readonly prices?: PriceTable;
  /** Every HTTP attempt (retries included) goes through it; a 429 with `retry-after` pauses it. */
  readonly limiter?: RateLimiter;
  readonly fetch?: typeof fetch;
}

export const OPENAI_BACKBONE_DEFAULTS = Object.freeze({
  baseUrl: 'https://api.openai.com/v1',
  ...BACKBONE_DEFAULTS, // maxTokens 1024 (§6.1), maxRetries 5
  timeoutMs: 600_000, // the openai package's own default
});

/** Answers that retrying cannot fix: a wrong key (401), no access (403), a wrong model or URL (404). */
export const CONFIG_HINTS: Readonly<Record<number, string>> = {
  401: 'check the API key',
  403: 'the API key has no access to this model or endpoint',
  404: 'check the base URL and the model name',
};

/** The longest delay a timer accepts; the package's own timeout is replaced by a per-attempt one. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function createOpenAIBackbone(options: OpenAIBackboneOptions): Backbone {
  const baseUrl = options.baseUrl ?? OPENAI_BACKBONE_DEFAULTS.baseUrl;
  const maxTokens = options.maxTokens ?? OPENAI_BACKBONE_DEFAULTS.maxTokens;
  const maxRetries = options.maxRetries ?? OPENAI_BACKBONE_DEFAULTS.maxRetries;
  const timeoutMs = options.timeoutMs ?? OPENAI_BACKBONE_DEFAULTS.timeoutMs;
  checkInteger('maxTokens', maxTokens, 1);
  checkInteger('maxRetries', maxRetries, 0);
  checkInteger('timeoutMs', timeoutMs, 1);
  const prices = options.prices ?? loadPriceTable();
  const shownUrl = withoutCredentials(baseUrl);
  const redact = clientRedactor({ baseUrl, apiKey: options.apiKey });
  const client = createOpenAIClient({
    baseUrl,
    apiKey: options.apiKey,
    maxRetries,
    timeoutMs: MAX_TIMER_MS,
    fetch: attemptFetch(options.fetch ?? globalThis.fetch, timeoutMs, options.limiter),
  });

  async function complete(request: CompletionRequest): Promise<Completion> {
    const { signal } = request;
    signal?.throwIfAborted();
    const body = requestBody(request, options, maxTokens);
    let response: unknown;
    try {
      response = await untilAborted(
        client.chat.completions.create(body as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, signal ? { signal } : {}),
        signal,
      );
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const status = error instanceof OpenAI.APIError ? error.status : undefined;
      const hint = status === undefined ? undefined : CONFIG_HINTS[status];
      if (hint !== undefined) {
        // no `cause`: the server's own error text may quote the key, and --debug prints causes
        const reason = redact(describeError(error));
        throw new ToolbenchError('llm.config', 1, `the model endpoint ${shownUrl} refused model ${options.model} with HTTP ${status} (${reason}): ${hint}`);
      }
      return { ok: false, error: redact(describeError(error)), usage: NO_USAGE, cost: 0 };
    }
    const message = replyMessage(response, options.shape, body);
    if (message === undefined) return { ok: false, error: 'the response has no choices[0].message', usage: NO_USAGE, cost: 0 };
    const usage = usageOf(response);
    return { ok: true, message, usage, cost: prices.costOf(options.model, usage) };
  }

  return {
    kind: 'openai',
    shape: options.shape,
    complete,
    describe: () => ({
      backbone: 'openai',
      model: options.model,
      base_url: shownUrl,
      shape: options.shape,
      temperature: options.temperature ?? null,
      seed: options.seed ?? null,
      max_tokens: maxTokens,
    }),
  };
}

/** The request body (key order as upstream builds it); messages are copied, never changed. */
function requestBody(request: CompletionRequest, options: OpenAIBackboneOptions, maxTokens: number): Record<string, unknown> {
  const messages = request.messages.filter((message) => message.valid !== false).map((message) => outgoingMessage(message, options.shape));
  const body: Record<string, unknown> = {
    model: options.model,
    messages,
    max_tokens: maxTokens,
    frequency_penalty: 0,
    presence_penalty: 0,
  };
  if (options.temperature !== undefined) body['temperature'] = options.temperature;
  if (options.seed !== undefined) body['seed'] = options.seed;
  // An empty list is left out (the API refuses one), and so is the "none" choice that needs it.
  if (request.functions.length > 0) {
    const rank = request.purpose === 'rank';
    if (options.shape === 'functions') {
      body['functions'] = request.functions;
      if (rank) body['function_call'] = 'none';
    } else {
      body['tools'] = toToolsShape(request.functions);
      if (rank) body['tool_choice'] = 'none';
    }
  }
  return body;
}

/** Drops the `valid` marker, and in the tools shape the `function_call` key (§6.2). */
function outgoingMessage(message: ChatMessage, shape: MessageShape): ChatMessage {
  const dropped = (key: string): boolean => key === 'valid' || (shape === 'tools' && key === 'function_call');
  if (!Object.keys(message).some(dropped)) return message;
  return Object.fromEntries(Object.entries(message).filter(([key]) => !dropped(key))) as ChatMessage;
}

interface Call {
  readonly id?: string;
  readonly name: string;
  readonly arguments: string;
}

/**
 * The assistant message in the backbone's shape, built fresh; `undefined` when there is none.
 * Tool calls are written as StableToolBench writes the SDK's `model_dump()`: `{id, function, type}`.
 */
function replyMessage(response: unknown, shape: MessageShape, sent: Record<string, unknown>): ChatMessage | undefined {
  const choices = isObject(response) ? response['choices'] : undefined;
  const first: unknown = Array.isArray(choices) ? choices[0] : undefined;
  const message = isObject(first) ? first['message'] : undefined;
  if (!isObject(message)) return undefined;
  const content = typeof message['content'] === 'string' ? message['content'] : null;
  const functionCall = callOf(message['function_call']);
  const rawToolCalls = message['tool_calls'];
  const toolCalls = (Array.isArray(rawToolCalls) ? rawToolCalls : []).flatMap((toolCall: unknown) => {
    const call = isObject(toolCall) ? callOf(toolCall['function']) : undefined;
    if (call === undefined) return [];
    const id = isObject(toolCall) && typeof toolCall['id'] === 'string' ? toolCall['id'] : undefined;
    return [id === undefined ? call : { ...call, id }];
  });

  if (shape === 'functions') {
    const call = functionCall ?? toolCalls[0];
    if (call === undefined) return { role: 'assistant', content };
    // ToolBench: a dotted name (`functions.xxx`) keeps its last segment (§6.1)
    const name = call.name.slice(call.name.lastIndexOf('.') + 1);
    return { role: 'assistant', content, function_call: { name, arguments: call.arguments } };
  }
  const calls = toolCalls.length > 0 ? toolCalls : functionCall !== undefined ? [functionCall] : [];
  const reply: { role: string; [key: string]: PyValue } = { role: 'assistant' };
  if (content !== null) reply['content'] = content;
  if (calls.length > 0) {
    reply['tool_calls'] = calls.map((call, index) => ({
      id: call.id ?? fallbackCallId(sent, content, index, call),
      function: { name: call.name, arguments: call.arguments },
      type: 'function',
    }));
  }
  return reply;
}

/**
 * The id of a call the server sent without one (a legacy `function_call` in the tools shape, or
 * an id-less tool call): `call_` and 24 hex digits, like OpenAI's, from SHA-256 of the request
 * sent (model, seed and messages included), the reply's text and the call. A rerun with the same
 * replies writes the same ids; two calls of one reply, or one call at two steps, get different ones.
 */
function fallbackCallId(sent: Record<string, unknown>, content: string | null, index: number, call: Call): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([sent['model'], sent['seed'] ?? null, sent['messages'], content, index, call.name, call.arguments], (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)))
    .digest('hex');
  return `call_${digest.slice(0, 24)}`;
}

/** `{name, arguments}` of a `function_call` or a tool call's `function`; arguments as a JSON string. */
function callOf(value: unknown): Call | undefined {
  if (!isObject(value) || typeof value['name'] !== 'string') return undefined;
  const raw = value['arguments'];
  const argumentsText = typeof raw === 'string' ? raw : raw === undefined || raw === null ? '' : JSON.stringify(raw);
  return { name: value['name'], arguments: argumentsText };
}

function usageOf(response: unknown): TokenUsage {
  const usage = isObject(response) ? response['usage'] : undefined;
  if (!isObject(usage)) return NO_USAGE;
  const count = (key: string): number | undefined => {
    const value = usage[key];
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  const promptTokens = count('prompt_tokens') ?? 0;
  const completionTokens = count('completion_tokens') ?? 0;
  return { promptTokens, completionTokens, totalTokens: count('total_tokens') ?? promptTokens + completionTokens };
}

/**
 * The fetch given to the package: each attempt waits for the limiter, then gets its own
 * timeout, so that time spent queued is not counted against the request. A 429 that says how
 * long to wait pauses the limiter for every caller.
 */
function attemptFetch(baseFetch: typeof fetch, timeoutMs: number, limiter: RateLimiter | undefined): typeof fetch {
  const attempt = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const response = await baseFetch(input, { ...init, signal });
    if (response.status === 429 && limiter !== undefined) {
      const waitMs = retryAfterMs(response.headers);
      if (waitMs !== undefined) limiter.pause(waitMs);
    }
    return response;
  };
  if (limiter === undefined) return attempt;
  return (input, init) => limiter.schedule(() => attempt(input, init), init?.signal ?? undefined);
}

/** `retry-after-ms`, else `retry-after` (seconds), as the package reads them. */
function retryAfterMs(headers: Headers): number | undefined {
  const milliseconds = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(milliseconds) && milliseconds > 0) return milliseconds;
  const seconds = Number.parseFloat(headers.get('retry-after') ?? '');
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/** Rejects with the abort reason as soon as `signal` fires (the package notices only between retries). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/** The error's message with its causes (a connection error says only "Connection error."). */
function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const text = current instanceof Error ? current.message : String(current);
    if (text !== '' && !parts.includes(text)) parts.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  const [first = 'unknown error', ...causes] = parts;
  return causes.length === 0 ? first : `${first} (${causes.join(': ')})`;
}

function checkInteger(name: string, value: number, minimum: number): void {
  if (!Number.isInteger(value) || value < minimum) throw new RangeError(`openai backbone ${name} must be an integer >= ${minimum}, got ${value}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The StableToolBench GPT simulator (spec formats.md §13.1 step 6, prompts.md §3.1): when neither
 * the cache nor a real call answers, a chat model writes the API's reply from the tool's
 * documentation, up to five cached examples and the call's input.
 *
 * The prompt is built exactly as `server/main.py` builds it, Python `str()` formatting included,
 * so a run against the same model sees the same text. Failures are values: the caller turns
 * `ok: false` into `{"error": SIMULATION_FAILED_ERROR, "response": ""}` and does not cache it.
 */
import OpenAI from 'openai';
import { clientRedactor, createOpenAIClient } from '../llm/openai-client.js';
import { VIRTUAL_API_SYSTEM_PROMPT, VIRTUAL_API_USER_PROMPT } from '../protocol/prompts.js';
import { standardize } from '../registry/names.js';
import type { ToolDocument } from '../registry/tool-document.js';
import { pyJsonParse } from '../util/pyjson-parse.js';
import { pyRepr, pyStr, reprString } from '../util/pyrepr.js';
import { pyHead, pyStrip } from '../util/py-string.js';
import { isPyObject, type PyValue } from '../util/py-value.js';

/** One entry of `api_info`: the API's original name and description, as the tool file has them. */
export interface ApiInfo {
  readonly name: string;
  readonly description: PyValue;
}

/** `api_doc` of formats.md §13.1; `api_info` is `''` when the tool file is missing (as upstream). */
export interface ApiDoc {
  readonly tool_description: PyValue;
  readonly api_info: readonly ApiInfo[] | '';
}

/** A cache entry `(key, reply)`: a Python tuple, rendered `('key', {...})`. */
export type ExamplePair = readonly [key: string, reply: PyValue];

export interface SimulationRequest {
  readonly apiDoc: ApiDoc;
  readonly examples: readonly ExamplePair[];
  /** The parsed tool input (normally a dict), rendered with Python `str()`. */
  readonly toolInput: PyValue;
}

export type SimulationResult =
  | { readonly ok: true; readonly reply: PyValue; readonly attempts: number }
  | { readonly ok: false; readonly reason: string; readonly attempts: number };

export interface Simulator {
  simulate(request: SimulationRequest, signal?: AbortSignal): Promise<SimulationResult>;
}

export interface SimulatorOptions {
  /** OpenAI-compatible base URL; upstream's default when absent. */
  readonly baseUrl?: string;
  /** Never logged; it appears only in the Authorization header. */
  readonly apiKey?: string;
  readonly model: string;
  readonly temperature: number;
  readonly maxTokens?: number;
  /** Calls to the model before giving up (upstream: 3). */
  readonly attempts?: number;
  /** Pause between attempts (upstream: `time.sleep(1)`). */
  readonly retryDelayMs?: number;
  /** Retries inside the openai client for 408/409/429/5xx and connection errors, per attempt. */
  readonly maxRetries?: number;
  readonly seed?: number;
  /** Per-request timeout; the openai package's 10 minutes (as Python's client) when absent. */
  readonly timeoutMs?: number;
  readonly fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** formats.md §13.1: upstream's fixed values. */
export const SIMULATOR_DEFAULTS = Object.freeze({
  baseUrl: 'https://api.openai.com/v1',
  maxTokens: 1024,
  attempts: 3,
  retryDelayMs: 1000,
  maxRetries: 2,
  exampleCount: 5,
  exampleChars: 2048,
});

/**
 * `api_doc` for one API of a tool (formats.md §13.1 step 6). `apiName` is the name the server
 * works with, `change_name(standardize(...))`, so APIs named `id`, `from`, ... never match
 * (formats.md §15 item 15). Where upstream's lookup raises (a key missing from the file) its
 * `except` leaves the empty document, and so do we.
 */
export function buildApiDoc(tool: ToolDocument | undefined, apiName: string): ApiDoc {
  const empty: ApiDoc = { tool_description: '', api_info: '' };
  if (tool === undefined || !('tool_description' in tool.raw)) return empty;
  const wanted = standardize(apiName);
  const apiList = tool.raw.api_list;
  if (!Array.isArray(apiList)) return empty;
  const apiInfo: ApiInfo[] = [];
  for (const api of apiList as readonly PyValue[]) {
    if (!isPyObject(api) || typeof api.name !== 'string') return empty;
    if (standardize(api.name) !== wanted) continue;
    const description = api.description;
    if (description === undefined) return empty;
    apiInfo.push({ name: api.name, description });
  }
  return { tool_description: tool.raw.tool_description as PyValue, api_info: apiInfo };
}

/**
 * Upstream: `list(cache.items())[:5]`, then one fewer while `len(str(...)) > 2048` and more than
 * one remains. `len` counts code points.
 */
export function selectExamples(entries: readonly ExamplePair[]): readonly ExamplePair[] {
  let examples = entries.slice(0, SIMULATOR_DEFAULTS.exampleCount);
  while (examples.length > 1 && codePointLength(reprExamples(examples)) > SIMULATOR_DEFAULTS.exampleChars) {
    examples = examples.slice(0, -1);
  }
  return examples;
}

/** Python `str(list_of_tuples)`: `[('key', {...}), ...]` (pyRepr has no tuples). */
export function reprExamples(examples: readonly ExamplePair[]): string {
  return `[${examples.map(([key, reply]) => `(${reprString(key)}, ${pyRepr(reply)})`).join(', ')}]`;
}

export interface SimulationMessage {
  readonly role: 'system' | 'user';
  readonly content: string;
}

/** prompts.md §3.1: the system prompt and `"API Documentation:" + str(api_doc) + ...`. */
export function buildSimulationMessages(
  apiDoc: ApiDoc,
  examples: readonly ExamplePair[],
  toolInput: PyValue,
): readonly SimulationMessage[] {
  const prompt = VIRTUAL_API_USER_PROMPT;
  const user =
    `${prompt.documentation}${pyStr(apiDoc)}\n` +
    `${prompt.examples}${pyHead(reprExamples(examples), SIMULATOR_DEFAULTS.exampleChars)}\n` +
    `${prompt.input}${pyStr(toolInput)}\n`;
  return [
    { role: 'system', content: VIRTUAL_API_SYSTEM_PROMPT },
    { role: 'user', content: user },
  ];
}

/**
 * The model's text as a reply, or undefined when it is not JSON. Upstream removes the fences and
 * strips only when the text contains "```json"; otherwise `json.loads` gets it as is (which
 * allows JSON whitespace around it but keeps a bare "```" fence, and any "```" inside a value).
 */
export function parseSimulatorReply(text: string): PyValue | undefined {
  const cleaned = text.includes('```json') ? pyStrip(text.replaceAll('```json', '').replaceAll('```', '')) : text;
  try {
    return pyJsonParse(cleaned);
  } catch {
    return undefined; // not JSON: the attempt failed; the next one asks again
  }
}

export function createSimulator(options: SimulatorOptions): Simulator {
  const attempts = options.attempts ?? SIMULATOR_DEFAULTS.attempts;
  const retryDelayMs = options.retryDelayMs ?? SIMULATOR_DEFAULTS.retryDelayMs;
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`simulator attempts must be a positive integer, got ${attempts}`);
  const apiKey = options.apiKey ?? '';
  const baseUrl = options.baseUrl ?? SIMULATOR_DEFAULTS.baseUrl;
  const client = createOpenAIClient({
    baseUrl,
    apiKey,
    maxRetries: options.maxRetries ?? SIMULATOR_DEFAULTS.maxRetries,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  });
  const redact = clientRedactor({ baseUrl, apiKey });

  /** One call to the model: the parsed reply, or why there is none. */
  async function attempt(
    messages: readonly SimulationMessage[],
    signal: AbortSignal | undefined,
  ): Promise<{ readonly reply: PyValue } | { readonly reason: string }> {
    let content: string | null | undefined;
    try {
      const completion = await client.chat.completions.create(
        {
          model: options.model,
          messages: messages.map((message) => ({ role: message.role, content: message.content })),
          max_tokens: options.maxTokens ?? SIMULATOR_DEFAULTS.maxTokens,
          temperature: options.temperature,
          response_format: { type: 'json_object' },
          ...(options.seed !== undefined ? { seed: options.seed } : {}),
        },
        signal === undefined ? {} : { signal },
      );
      content = completion.choices?.[0]?.message?.content;
    } catch (error) {
      signal?.throwIfAborted();
      // Upstream lets these escape as an HTTP 500 of the virtual server; here they cost an attempt.
      if (error instanceof OpenAI.OpenAIError) return { reason: `request failed: ${error.message}` };
      throw error;
    }
    if (typeof content !== 'string') return { reason: 'the completion has no message content' };
    const reply = parseSimulatorReply(content);
    return reply === undefined ? { reason: 'the completion is not JSON' } : { reply };
  }

  return {
    async simulate(request: SimulationRequest, signal?: AbortSignal): Promise<SimulationResult> {
      const messages = buildSimulationMessages(request.apiDoc, request.examples, request.toolInput);
      const reasons: string[] = [];
      for (let count = 1; count <= attempts; count++) {
        if (count > 1) await options.sleep(retryDelayMs, signal);
        signal?.throwIfAborted();
        const outcome = await attempt(messages, signal);
        if ('reply' in outcome) return { ok: true, reply: outcome.reply, attempts: count };
        reasons.push(`attempt ${count}: ${outcome.reason}`);
      }
      return { ok: false, reason: redact(`no usable reply (${reasons.join('; ')})`), attempts };
    },
  };
}

function codePointLength(text: string): number {
  let length = text.length;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length--;
        index++;
      }
    }
  }
  return length;
}

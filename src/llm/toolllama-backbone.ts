/**
 * The `toolllama` backbone: ToolLLaMA's text protocol over an OpenAI-compatible completions
 * endpoint, the way vLLM serves ToolLLaMA-2-7b-v2 (StableToolBench `ToolLLaMA_vllm`, spec
 * algorithms.md §6.5). The prompt (toolllama-prompt.ts) and the parse (react-parser.ts) are the
 * ones the Hugging Face variants use (§6.3), so an in-process runner can share them.
 *
 * Differences from upstream, on purpose:
 * - one request with the openai package's own retries instead of 6 attempts 15 s apart;
 * - the text is cut at the last `</s>` and stripped (as the Hugging Face variants do) before it is
 *   parsed, stored or wrapped in the overflow give-up;
 * - the `tools`-shape call id is derived, not random (see `callId`), so runs reproduce;
 * - purpose `rank` works (upstream cannot rank with ToolLLaMA, quirk 31): see `complete`.
 */
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import type { CompletionCreateParamsNonStreaming } from 'openai/resources/completions';
import { TOOLLLAMA_OVERFLOW_PREFIX } from '../protocol/prompts.js';
import { ToolbenchError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { pyStrip } from '../util/py-string.js';
import { withoutCredentials } from '../util/redact.js';
import { NO_USAGE, type Backbone, type ChatMessage, type Completion, type CompletionRequest, type MessageShape, type TokenUsage } from './backbone.js';
import { BACKBONE_DEFAULTS, clientRedactor, createOpenAIClient } from './openai-client.js';
import type { LocalCompleter } from '../runner/local-completer.js';
import { reactParse } from './react-parser.js';
import { buildToolLlamaPrompt, TOOLLLAMA_HISTORIES, type ToolLlamaHistory } from './toolllama-prompt.js';

export interface ToolLlamaBackboneOptions {
  /** OpenAI-compatible base URL, e.g. `http://localhost:8000/v1`; shown (described, in errors) without its credentials. */
  readonly baseUrl?: string;
  /** A model run in-process instead of a server (exactly one of `baseUrl` and `local`). */
  readonly local?: LocalCompleter;
  /** Never logged or recorded; local servers accept any (`EMPTY` is sent when absent). */
  readonly apiKey?: string;
  /** The served model name (`--model_path` upstream), e.g. `ToolBench/ToolLLaMA-2-7b-v2`. */
  readonly model: string;
  readonly shape: MessageShape;
  readonly history?: ToolLlamaHistory;
  /** Default 0 (StableToolBench: greedy). */
  readonly temperature?: number;
  readonly seed?: number;
  /** Default 1024. */
  readonly maxTokens?: number;
  /**
   * `usage.total_tokens` at or above this triggers the overflow give-up (prompts.md §1.13); default
   * 8192 for a server (vLLM's max_model_len for ToolLLaMA-2-7b-v2), the model's own context
   * (max_position_embeddings) when it runs in-process.
   */
  readonly contextTokens?: number;
  /**
   * Sent as vLLM's `truncate_prompt_tokens`: the server keeps the prompt's last N tokens instead of
   * answering a long prompt with HTTP 400, so the overflow give-up can happen. Default 7168, as
   * StableToolBench sends (algorithms.md §6.5); 0 sends none.
   */
  readonly truncatePromptTokens?: number;
  /** Retries inside the openai package (408/409/429/5xx, connection errors); default 5. */
  readonly maxRetries?: number;
  readonly timeoutMs?: number;
  readonly limiter?: { schedule<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> };
  readonly costOf?: (usage: TokenUsage) => number;
  readonly fetch?: typeof fetch;
}

export const TOOLLLAMA_DEFAULTS = Object.freeze({
  history: 'training' as ToolLlamaHistory,
  temperature: 0,
  contextTokens: 8192,
  truncatePromptTokens: 7168,
  ...BACKBONE_DEFAULTS, // maxTokens 1024, maxRetries 5
});

/** The end-of-sequence text: the stop string, and where the Hugging Face variants cut the text. */
const EOS = '</s>';

/** Upstream's alphabet for the call id (`string.ascii_letters + string.digits`). */
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ID_LENGTH = 8;

export function createToolLlamaBackbone(options: ToolLlamaBackboneOptions): Backbone {
  const history = options.history ?? TOOLLLAMA_DEFAULTS.history;
  if (!TOOLLLAMA_HISTORIES.includes(history)) throw new RangeError(`toolllama: unknown history mode "${String(history)}"`);
  const temperature = options.temperature ?? TOOLLLAMA_DEFAULTS.temperature;
  const maxTokens = options.maxTokens ?? TOOLLLAMA_DEFAULTS.maxTokens;
  const truncatePromptTokens = options.truncatePromptTokens ?? TOOLLLAMA_DEFAULTS.truncatePromptTokens;
  if (!Number.isInteger(truncatePromptTokens) || truncatePromptTokens < 0) {
    throw new RangeError(`toolllama: truncatePromptTokens must be an integer >= 0 (0: not sent), got ${truncatePromptTokens}`);
  }
  const apiKey = options.apiKey ?? '';
  const local = options.local;
  const baseUrl = options.baseUrl ?? '';
  if ((local === undefined) === (options.baseUrl === undefined)) throw new RangeError('toolllama: give exactly one of baseUrl and local');
  const client = createOpenAIClient({
    baseUrl,
    apiKey,
    maxRetries: options.maxRetries ?? TOOLLLAMA_DEFAULTS.maxRetries,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  });
  // The URL as shown in describe() and in error texts (which end up in answer files and logs).
  const shownUrl = local !== undefined ? local.modelPath : withoutCredentials(baseUrl);
  const redact = clientRedactor({ baseUrl, apiKey });

  async function post(prompt: string, signal: AbortSignal | undefined): Promise<OpenAI.Completion> {
    const body: CompletionCreateParamsNonStreaming & { truncate_prompt_tokens?: number } = {
      model: options.model,
      prompt,
      max_tokens: maxTokens,
      temperature,
      stop: [EOS],
      echo: false,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(truncatePromptTokens > 0 ? { truncate_prompt_tokens: truncatePromptTokens } : {}),
    };
    const task = (): Promise<OpenAI.Completion> => client.completions.create(body, signal === undefined ? {} : { signal });
    return options.limiter !== undefined ? options.limiter.schedule(task, signal) : task();
  }

  async function complete(request: CompletionRequest): Promise<Completion> {
    const { signal } = request;
    signal?.throwIfAborted();
    // Ranking (DFS_wFilter) is our extension: upstream's ranking call would push the rank system
    // prompt through process_system_message and fail its assertion (quirk 31). Here the prompt is
    // built with plain roles and no function list, and the reply is returned as text.
    const isRank = request.purpose === 'rank';
    const prompt = buildToolLlamaPrompt(request.messages, isRank ? [] : request.functions, { history });
    if (local !== undefined) return completeLocally(local, prompt, request.signal, isRank);
    let response: OpenAI.Completion;
    try {
      response = await post(prompt, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!(error instanceof OpenAI.OpenAIError)) throw error;
      if (error instanceof OpenAI.AuthenticationError || error instanceof OpenAI.PermissionDeniedError || error instanceof OpenAI.NotFoundError) {
        throw new ToolbenchError(
          'llm.config',
          1,
          `toolllama: ${shownUrl} refused model "${options.model}" (HTTP ${error.status}): ${redact(error.message)}`,
        );
      }
      return failure(`toolllama: completion request to ${shownUrl} failed: ${redact(error.message)}`);
    }
    const choice = response.choices?.[0];
    if (choice === undefined || typeof choice.text !== 'string') return failure(`toolllama: the completion from ${shownUrl} has no text`);
    const usage = usageOf(response.usage);
    const cost = options.costOf?.(usage) ?? 0;
    return reply(prompt, choice.text, usage, cost, isRank, options.contextTokens ?? TOOLLLAMA_DEFAULTS.contextTokens);
  }

  function reply(prompt: string, raw: string, usage: TokenUsage, cost: number, isRank: boolean, contextTokens: number): Completion {
    const text = generatedText(raw);
    if (isRank) return { ok: true, message: { role: 'assistant', content: text }, usage, cost };
    const message =
      usage.totalTokens >= contextTokens ? overflowMessage(options.shape, text) : agentMessage(options.shape, text, callId(options.seed, prompt, text));
    return { ok: true, message, usage, cost };
  }

  async function completeLocally(runner: LocalCompleter, prompt: string, signal: AbortSignal | undefined, isRank: boolean): Promise<Completion> {
    let completion;
    try {
      completion = await runner.complete(prompt, { maxTokens, temperature, seed: options.seed ?? 0, stop: [EOS], truncatePromptTokens, ...(signal !== undefined ? { signal } : {}) });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof ToolbenchError) throw error; // the model cannot load: every query would fail
      return failure(`toolllama: the model at ${runner.modelPath} failed: ${(error as Error).message}`);
    }
    const usage = { promptTokens: completion.promptTokens, completionTokens: completion.completionTokens, totalTokens: completion.promptTokens + completion.completionTokens };
    // the context that fills up is the model's own, not the 8192 of the server upstream talks to
    return reply(prompt, completion.text, usage, 0, isRank, options.contextTokens ?? completion.contextTokens);
  }

  return {
    kind: 'toolllama',
    shape: options.shape,
    complete,
    ...(local !== undefined ? { close: () => local.close() } : {}),
    describe: () => ({
      backbone: 'toolllama',
      model: options.model,
      ...(local !== undefined ? { model_path: local.modelPath, ...(local.loraPath !== undefined ? { lora_path: local.loraPath } : {}) } : { base_url: shownUrl }),
      shape: options.shape,
      history,
      temperature,
      seed: options.seed ?? null,
      max_tokens: maxTokens,
    }),
  };
}

function failure(error: string): Completion {
  return { ok: false, error, usage: NO_USAGE, cost: 0 };
}

/** Servers that leave `usage` out get zeros (and never trigger the overflow give-up). */
function usageOf(usage: OpenAI.CompletionUsage | undefined): TokenUsage {
  return {
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens: usage?.completion_tokens ?? 0,
    totalTokens: usage?.total_tokens ?? 0,
  };
}

/** As the Hugging Face variants (algorithms.md §6.3): cut at the last `</s>`, then strip. */
function generatedText(raw: string): string {
  const end = raw.lastIndexOf(EOS);
  return pyStrip(end >= 0 ? raw.slice(0, end) : raw);
}

/**
 * The parsed reply (algorithms.md §6.3, §6.5). ToolBench (`functions`): the thought as content and
 * one `function_call`. StableToolBench (`tools`): the whole text as content and one tool call, keys
 * in upstream's order (`id`, `function`, `type`).
 */
function agentMessage(shape: MessageShape, text: string, id: string): ChatMessage {
  const { thought, action, actionInput } = reactParse(text);
  if (shape === 'functions') return { role: 'assistant', content: thought, function_call: { name: action, arguments: actionInput } };
  return {
    role: 'assistant',
    content: text,
    tool_calls: [{ id, function: { name: action, arguments: actionInput }, type: 'function' }],
  };
}

/**
 * prompts.md §1.13: the context is full, so the reply becomes a give-up. Upstream (tools shape)
 * gives the call the integer id `0`; the `functions` shape has no id.
 */
function overflowMessage(shape: MessageShape, text: string): ChatMessage {
  const content = TOOLLLAMA_OVERFLOW_PREFIX + text;
  const call = { name: 'Finish', arguments: pyJsonDumps({ return_type: 'give_up_and_restart' }) };
  if (shape === 'functions') return { role: 'assistant', content, function_call: call };
  return { role: 'assistant', content, tool_calls: [{ id: 0, function: call, type: 'function' }] };
}

/**
 * The tool call id: 8 characters of upstream's alphabet, like its `random.choice` id, but drawn
 * from SHA-256 of (seed, prompt, text) instead of the process RNG. The same call in the same
 * conversation gets the same id whatever order parallel workers run in; the prompt differs at
 * every step of a path, so ids along one conversation differ.
 */
function callId(seed: number | undefined, prompt: string, text: string): string {
  let id = '';
  for (let round = 0; id.length < ID_LENGTH; round++) {
    const digest = createHash('sha256').update(`${seed ?? ''}\u0000${round}\u0000${prompt}\u0000${text}`).digest();
    for (const byte of digest) {
      // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
      if (byte < 248 && id.length < ID_LENGTH) id += ID_ALPHABET[byte % ID_ALPHABET.length];
    }
  }
  return id;
}

/**
 * A text-completion endpoint in the process: the `toolllama` backbone's prompts run on the model
 * runner instead of a vLLM server. The model loads on the first request; requests run one at a
 * time (the runner batches within a request, not across them) in arrival order. `close` waits for
 * the requests made before it, then releases the model; later requests are refused.
 *
 * Consecutive prompts of a search share most of their start (the system prompt with the tool list,
 * then the history), so the last request's tokens and KV cache are kept (one entry) and the next
 * request prefills only what follows their longest common prefix. The comparison is on the ids
 * after truncation: a prompt cut at the front shifts every token and shares little or nothing.
 * With a generated graph's append cache the kept prefix is a view of the previous cache, not a
 * copy; the first step of the next request copies it once if it is shorter than the previous
 * cache (AppendKvCache: copy on reuse), so the kept cache is never overwritten.
 */
import { releaseCache, type CausalLmOptions, type KvCache } from './causal-lm.js';
import { findCheckpoint } from './checkpoint.js';
import { generate, type CachedSequence } from './generate.js';
import { loadLanguageModel, type LanguageModel } from './language-model.js';
import { applyLora, readLoraAdapter } from './lora.js';

export interface LocalCompletionRequest {
  readonly maxTokens: number;
  readonly temperature: number;
  readonly seed: number;
  readonly stop: readonly string[];
  /** Keep only the prompt's last N tokens (vLLM's truncate_prompt_tokens); 0 keeps all that fit the context. */
  readonly truncatePromptTokens: number;
  readonly signal?: AbortSignal;
}

export interface LocalCompletion {
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** The model's context (max_position_embeddings): a prompt and its completion never exceed it. */
  readonly contextTokens: number;
  /** The prompt's first tokens whose cache came from the previous request (not prefilled again); absent for a completer that keeps none. */
  readonly prefixTokens?: number;
}

export interface LocalCompleter {
  readonly modelPath: string;
  readonly loraPath?: string;
  complete(prompt: string, request: LocalCompletionRequest): Promise<LocalCompletion>;
  close(): Promise<void>;
}

export function createLocalCompleter(modelPath: string, options: CausalLmOptions & { readonly loraPath?: string }): LocalCompleter {
  // a path or an adapter that cannot be used fails here, at start-up, rather than at the first request
  findCheckpoint(modelPath);
  const adapter = options.loraPath === undefined ? undefined : readLoraAdapter(options.loraPath);
  let loading: Promise<LanguageModel> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  // the previous request's prompt and new tokens fed back, with their cache; requests run one at a time
  let previous: CachedSequence | undefined;
  const load = (): Promise<LanguageModel> => {
    loading ??= loadLanguageModel(modelPath, { ...options, ...(adapter !== undefined ? { adaptWeights: (weights) => applyLora(weights, adapter, 'auto') } : {}) });
    return loading;
  };
  const run = async (prompt: string, request: LocalCompletionRequest): Promise<LocalCompletion> => {
    const { lm, tokenizer } = await load();
    request.signal?.throwIfAborted();
    let ids = tokenizer.encode(prompt, { addSpecialTokens: true });
    // the prompt's last tokens, and never more than the context holds with room for one new token:
    // a prompt too long for the model is cut, as a server would, rather than failing the whole run
    const room = lm.config.maxPositions - 1;
    const keep = request.truncatePromptTokens > 0 ? Math.min(request.truncatePromptTokens, room) : room;
    if (ids.length > keep) ids = ids.slice(ids.length - keep);
    // the prompt's last token always runs: its logits give the first new token
    const prefixTokens = previous === undefined ? 0 : Math.min(commonPrefixLength(previous.ids, ids), ids.length - 1);
    let prefix: { cache: KvCache; length: number } | undefined;
    try {
      if (previous !== undefined && prefixTokens > 0) prefix = { cache: await lm.sliceCache(previous.cache, prefixTokens), length: prefixTokens };
    } finally {
      // one cache at a time: the old one is dropped before the new one grows, whether or not a
      // prefix could be cut from it (and lost if this request fails)
      if (previous !== undefined) releaseCache(previous.cache);
      previous = undefined;
    }
    let result;
    try {
      result = await generate(lm, tokenizer, [ids], {
        maxNewTokens: request.maxTokens,
        temperature: request.temperature,
        topP: 1,
        seed: request.seed,
        stop: request.stop,
        keepCache: true,
        ...(request.signal !== undefined ? { signal: request.signal } : {}),
        ...(prefix !== undefined ? { prefix } : {}),
      });
    } finally {
      // the prefix was this request's own copy, unless generation kept it as its cache (no new token ran)
      if (prefix !== undefined && result?.cached?.cache !== prefix.cache) releaseCache(prefix.cache);
    }
    previous = result.cached;
    const generation = result.generations[0];
    return { text: generation?.text ?? '', promptTokens: ids.length, completionTokens: generation?.tokens.length ?? 0, contextTokens: lm.config.maxPositions, prefixTokens };
  };
  let closed = false;
  return {
    modelPath,
    ...(options.loraPath !== undefined ? { loraPath: options.loraPath } : {}),
    complete(prompt, request) {
      if (closed) return Promise.reject(new Error(`${modelPath}: the model was closed`));
      const next = queue.then(() => run(prompt, request));
      queue = next.catch(() => undefined);
      return next;
    },
    async close() {
      closed = true;
      // the requests already made finish first: the session is never released under a generation
      await queue;
      if (previous !== undefined) releaseCache(previous.cache);
      previous = undefined;
      if (loading === undefined) return;
      const loaded = await loading.catch(() => undefined);
      await loaded?.lm.release();
    },
  };
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const limit = Math.min(a.length, b.length);
  let length = 0;
  while (length < limit && a[length] === b[length]) length++;
  return length;
}

/**
 * Text generation on a CausalLm: prompts are tokenised and left-padded into one batch, prefilled
 * together, then decoded a token per step with the KV cache until each row meets an end token, a
 * stop string or the token limit. Text is streamed as it becomes final: incomplete UTF-8 and text
 * that may be the start of a stop string are held back.
 *
 * A single prompt may start from the cache of its first tokens (`prefix`), so the prefill runs only
 * the rest, and gives back the cache it ends with (`cached`, when asked) for the next prompt to
 * start from. Caches and GPU memory: the prefix stays the caller's, and so does the returned
 * cache; every other cache a call makes is released here (causal-lm.ts releaseCache), including
 * on failure.
 */
import { ToolbenchError } from '../util/errors.js';
import { cacheBatch, cacheLength, releaseCache, type CausalLm, type KvCache } from './causal-lm.js';
import { sampleToken, seededGenerator, type SamplingSettings } from './sampling.js';
import type { TextTokenizer } from './tokenizer.js';

export interface GenerateOptions extends SamplingSettings {
  readonly maxNewTokens: number;
  readonly seed: number;
  /** Generation ends before the first of these; it is not part of the text. */
  readonly stop: readonly string[];
  readonly addSpecialTokens?: boolean;
  /** Newly final text of a row, as it comes. */
  readonly onText?: (row: number, text: string) => void;
  readonly signal?: AbortSignal;
  /**
   * For a single prompt: the cache of its first `length` ids, which the prefill then skips. At
   * least the prompt's last token must run (its logits give the first new token), so `length` is
   * at most the prompt's length - 1, and the cache holds exactly `length` positions.
   */
  readonly prefix?: CachedSequencePrefix;
  /**
   * For a single prompt: give back the cache the generation ends with (`cached`), which the caller
   * then owns (and releases: causal-lm.ts releaseCache). Otherwise it is released here.
   */
  readonly keepCache?: boolean;
}

/** The KV cache of a sequence's first `length` tokens, batch 1 ([1, kvHeads, length, headDim] each). */
export interface CachedSequencePrefix {
  readonly cache: KvCache;
  readonly length: number;
}

/** The tokens that went through the model, in order, and the cache that covers exactly them. */
export interface CachedSequence {
  readonly ids: readonly number[];
  readonly cache: KvCache;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface Generation {
  readonly text: string;
  readonly tokens: readonly number[];
  readonly promptTokens: number;
  readonly finishReason: FinishReason;
}

export interface GenerationTiming {
  /** The batched prompt pass (prefill), ms. */
  readonly prefillMs: number;
  /** From the start to the first new token of the batch, ms. */
  readonly firstTokenMs: number;
  /** Steps after the first token, and their time in ms. */
  readonly decodeSteps: number;
  readonly decodeMs: number;
  /** Each of those steps' ms, in order (the first ones include a GPU provider's shader compilation). */
  readonly stepMs: readonly number[];
  /** Tokens per row the prefill ran: the prompt less a cached prefix (0 when no token was asked for). */
  readonly prefillTokens: number;
}

export interface GenerateResult {
  readonly generations: readonly Generation[];
  readonly timing: GenerationTiming;
  /**
   * For a single prompt with `keepCache`: the prompt and the new tokens fed back, with their
   * cache. The last new token (and an end token) was sampled but never fed, so it is not there.
   */
  readonly cached?: CachedSequence;
}

/** A prompt as text, or as token ids already (special tokens included). */
export type Prompt = string | readonly number[];

export async function generate(lm: CausalLm, tokenizer: TextTokenizer, prompts: readonly Prompt[], options: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now();
  if (prompts.length === 0) throw new ToolbenchError('usage.invalid', 2, 'no prompt to generate from');
  const padId = tokenizer.padId ?? tokenizer.eosId ?? 0;
  const encoded = leftPadded(
    prompts.map((prompt) => (typeof prompt === 'string' ? tokenizer.encode(prompt, { addSpecialTokens: options.addSpecialTokens ?? true }) : [...prompt])),
    padId,
  );
  const longest = encoded.ids[0]?.length ?? 0;
  if (encoded.attentionMask.some((row) => !row.includes(1))) throw new ToolbenchError('usage.invalid', 2, 'an empty prompt: it has no tokens to start from');
  if (longest >= lm.config.maxPositions) {
    throw new ToolbenchError('usage.invalid', 2, `a prompt of ${longest} tokens does not fit the model's context of ${lm.config.maxPositions} (max_position_embeddings)`);
  }
  // the context bounds the new tokens too
  const maxNewTokens = Math.min(options.maxNewTokens, lm.config.maxPositions - longest);
  const endIds = new Set([...lm.config.eosTokenIds, ...(tokenizer.eosId !== undefined ? [tokenizer.eosId] : [])]);
  const random = seededGenerator(options.seed);
  const mask = encoded.attentionMask.map((row) => [...row]);
  // real tokens per row so far: the position of each row's next token
  const lengths = mask.map((row) => row.reduce((sum, value) => sum + value, 0));
  const rows = lengths.map((promptTokens, row) => new RowState(row, tokenizer, options, promptTokens));
  // a cached prefix is in the cache already: ids and positions start after it (the mask spans both)
  const reused = prefixLength(options.prefix, encoded.ids);
  // HF's positions for left padding: count of real tokens before, padding at 1
  let positions = mask.map((row) => {
    let seen = -1;
    return row.map((value) => (value === 1 ? ++seen : 1)).slice(reused);
  });
  let cache: KvCache = options.prefix?.cache ?? (await lm.emptyCache(prompts.length, longest + maxNewTokens));
  let ids: number[][] = encoded.ids.map((row) => row.slice(reused));
  const fed = prompts.length === 1 && options.keepCache === true ? (encoded.ids[0] ?? []).slice(0, reused) : undefined;
  const prefillTokens = maxNewTokens > 0 ? (ids[0]?.length ?? 0) : 0;
  let prefillMs = 0;
  let firstTokenMs = 0;
  let steps = 0;
  let decodeStarted = 0;
  const stepMs: number[] = [];
  let stepStarted = 0;
  try {
    while (maxNewTokens > 0) {
      options.signal?.throwIfAborted();
      stepStarted = performance.now();
      const output = await lm.forward({ ids, attentionMask: mask, positionIds: positions, lastLogitsOnly: true }, cache);
      // each step's cache is ours to release once the next one holds its positions; a prefix is the caller's
      if (cache !== options.prefix?.cache) releaseCache(cache);
      cache = output.cache;
      fed?.push(...(ids[0] ?? []));
      if (steps === 0) prefillMs = performance.now() - started;
      const vocab = output.logits.length / (ids.length * output.logitRows);
      const next = rows.map((row, index) => {
        if (row.finished) return padId;
        const offset = (index * output.logitRows + output.logitRows - 1) * vocab;
        const token = sampleToken(output.logits.subarray(offset, offset + vocab), options, random);
        row.accept(token, endIds);
        return token;
      });
      if (steps === 0) {
        firstTokenMs = performance.now() - started;
        decodeStarted = performance.now();
      } else stepMs.push(performance.now() - stepStarted);
      steps++;
      if (rows.every((row) => row.finished)) break;
      for (const row of rows) if (!row.finished && row.tokens.length >= maxNewTokens) row.finish('length');
      if (rows.every((row) => row.finished)) break;
      ids = next.map((token) => [token]);
      positions = lengths.map((length) => [length]);
      lengths.forEach((length, row) => {
        lengths[row] = length + 1;
        mask[row]?.push(1);
      });
    }
  } catch (error) {
    if (cache !== options.prefix?.cache) releaseCache(cache);
    throw error;
  }
  for (const row of rows) if (!row.finished) row.finish('length');
  // a final cache not asked for goes to no one
  if (fed === undefined && cache !== options.prefix?.cache) releaseCache(cache);
  return {
    generations: rows.map((row) => row.result()),
    timing: { prefillMs, firstTokenMs, decodeSteps: Math.max(0, steps - 1), decodeMs: steps > 1 ? performance.now() - decodeStarted : 0, stepMs, prefillTokens },
    ...(fed !== undefined ? { cached: { ids: fed, cache } } : {}),
  };
}

/** The length of a usable cached prefix of the single prompt `ids` (0 without one); misuse is a bug. */
function prefixLength(prefix: CachedSequencePrefix | undefined, ids: readonly (readonly number[])[]): number {
  if (prefix === undefined) return 0;
  const promptLength = ids[0]?.length ?? 0;
  if (ids.length !== 1) throw new RangeError(`a cached prefix is for a single prompt, not a batch of ${ids.length}`);
  if (!Number.isInteger(prefix.length) || prefix.length < 0 || prefix.length >= promptLength) {
    throw new RangeError(`a cached prefix of ${prefix.length} tokens for a prompt of ${promptLength}: at least the prompt's last token must run`);
  }
  if (cacheBatch(prefix.cache) !== 1 || cacheLength(prefix.cache) !== prefix.length) {
    throw new RangeError(`a cache of ${cacheBatch(prefix.cache)} rows and ${cacheLength(prefix.cache)} positions for a prefix of ${prefix.length} tokens`);
  }
  return prefix.length;
}

function leftPadded(rows: readonly number[][], padId: number): { ids: number[][]; attentionMask: number[][] } {
  const width = Math.max(...rows.map((row) => row.length));
  return {
    ids: rows.map((row) => [...new Array<number>(width - row.length).fill(padId), ...row]),
    attentionMask: rows.map((row) => [...new Array<number>(width - row.length).fill(0), ...row.map(() => 1)]),
  };
}

/** One row's tokens and text: decoded as they come, cut at a stop string. */
class RowState {
  readonly tokens: number[] = [];
  finished = false;
  private reason: FinishReason = 'length';
  private text = '';
  private emitted = 0;
  private readonly decoder;

  constructor(
    private readonly row: number,
    tokenizer: TextTokenizer,
    private readonly options: GenerateOptions,
    private readonly promptTokens: number,
  ) {
    this.decoder = tokenizer.streamDecoder({ skipSpecialTokens: true });
  }

  accept(token: number, endIds: ReadonlySet<number>): void {
    if (endIds.has(token)) {
      this.finish('eos');
      return;
    }
    this.tokens.push(token);
    this.text += this.decoder.push(token);
    this.settle(false);
  }

  finish(reason: FinishReason): void {
    if (this.finished) return;
    this.text += this.decoder.flush();
    this.reason = reason;
    this.settle(true);
    this.finished = true;
  }

  result(): Generation {
    return { text: this.text, tokens: this.tokens, promptTokens: this.promptTokens, finishReason: this.reason };
  }

  /** Cuts at the first stop string; emits what can no longer become one. */
  private settle(final: boolean): void {
    let safe = this.text.length;
    for (const stop of this.options.stop) {
      if (stop === '') continue;
      const at = this.text.indexOf(stop);
      if (at >= 0) {
        this.text = this.text.slice(0, at);
        this.reason = 'stop';
        this.finished = true;
        safe = Math.min(safe, at);
      } else if (!final) {
        safe = Math.min(safe, this.text.length - partialStopLength(this.text, stop));
      }
    }
    if (this.finished && this.reason === 'stop') safe = this.text.length;
    if (safe > this.emitted) {
      this.options.onText?.(this.row, this.text.slice(this.emitted, safe));
      this.emitted = safe;
    }
  }
}

/** The length of the longest end of `text` that begins `stop`. */
function partialStopLength(text: string, stop: string): number {
  for (let length = Math.min(stop.length - 1, text.length); length > 0; length--) {
    if (text.endsWith(stop.slice(0, length))) return length;
  }
  return 0;
}

/**
 * Streaming detokenisation: token ids in, text out as soon as it is final.
 *
 * The contract: for any id sequence, the pushes' results concatenated with `flush()` equal
 * `decode(allIds)` exactly. Two things make text provisional, and both are held back:
 *
 * - U+FFFD at the end of the decoded text. An incomplete UTF-8 sequence from byte-fallback
 *   tokens (`<0xE2>` `<0x82>` ... in LLaMA's SentencePiece) or byte-level BPE decodes to U+FFFD
 *   until its last byte arrives, so a trailing U+FFFD is never emitted before `flush()`.
 * - The tail that transformers' `clean_up_tokenization` may still rewrite (" ' s" -> "'s",
 *   " n't" -> "n't"), when the tokenizer cleans up spaces (see `cleanUpTokenizationSpaces`).
 *
 * Each push decodes a small window: one context token already emitted, then the tokens since.
 * Its new text is the window's text after the context token's own text, as in text-generation-
 * inference's `decode_token`. The context token restores what decoders do to the first token
 * (SentencePiece strips its leading space, WordPiece omits the space and keeps `##`), so the
 * window's new text is the same as the whole sequence's. A token becomes the context only where
 * that holds: its own text is not empty (a skipped special token or a bare `▁` would let the
 * strip reach the next token), it is not a byte token and ends no partial character.
 */

/** What a stream decoder needs from a tokenizer. */
export interface StreamDecodeSource {
  /** Decodes ids as `decode` does but without the tokenizer-level clean-up of spaces. */
  decodeWithoutCleanUp(ids: readonly number[]): string;
  /** Whether `decode` applies `cleanUpTokenizationSpaces` to that text. */
  readonly cleansUpSpaces: boolean;
  /** Whether the id is a byte-fallback token such as `<0xE2>`. */
  isByteToken(id: number): boolean;
  /** Whether the decoder is known to make window decoding exact; if not, each push decodes everything. */
  readonly windowed: boolean;
}

const REPLACEMENT = '\uFFFD';

/**
 * transformers' `clean_up_tokenization` (tokenization_utils_base.py), as `@huggingface/tokenizers`
 * applies it when `clean_up_tokenization_spaces` is set. Passes run in this order over the whole text.
 */
export function cleanUpTokenizationSpaces(text: string): string {
  return text
    .replace(/ \./g, '.')
    .replace(/ \?/g, '?')
    .replace(/ !/g, '!')
    .replace(/ ,/g, ',')
    .replace(/ ' /g, "'")
    .replace(/ n't/g, "n't")
    .replace(/ 'm/g, "'m")
    .replace(/ 's/g, "'s")
    .replace(/ 've/g, "'ve")
    .replace(/ 're/g, "'re");
}

/**
 * The characters that a clean-up pattern can continue past: ' ' (" .", " n't", ...), "'" (" ' ",
 * " 's"), 'n' (" n't"), 'v' (" 've"), 'r' (" 're"). The passes only ever delete spaces, so a text
 * cut after any other character cleans up the same in two parts as in one: no match can straddle.
 */
const CLEAN_UP_CONTINUES = new Set([' ', "'", 'n', 'v', 'r']);

export class StreamDecoder {
  /** The context token (when `contextLength` says there is one), then the tokens pushed since. */
  private window: number[] = [];
  /** Length of the context token's own text at the start of the window's text. */
  private contextLength = 0;
  /** Characters of the window's text after the context that have been emitted. */
  private emitted = 0;
  /** Text decoded but held back by the clean-up of spaces. */
  private uncleaned = '';

  constructor(private readonly source: StreamDecodeSource) {}

  /** Adds one token; returns the text that became final with it (often '', never a partial character). */
  push(id: number): string {
    this.window.push(id);
    const text = this.source.decodeWithoutCleanUp(this.window);
    const start = this.contextLength + this.emitted;
    let end = text.length;
    while (end > start && text.charCodeAt(end - 1) === 0xfffd) end--;
    const fresh = text.slice(start, end);
    this.emitted += fresh.length;
    if (end === text.length && this.source.windowed) this.anchorAt(id);
    return this.cleanUp(fresh, false);
  }

  /** Ends the stream: returns everything held back. The next push starts a new stream. */
  flush(): string {
    const text = this.window.length > 0 ? this.source.decodeWithoutCleanUp(this.window) : '';
    const rest = this.cleanUp(text.slice(this.contextLength + this.emitted), true);
    this.window = [];
    this.contextLength = 0;
    this.emitted = 0;
    this.uncleaned = '';
    return rest;
  }

  /** Makes `id`, whose text is all emitted, the context of the next window when it is a safe one. */
  private anchorAt(id: number): void {
    if (this.source.isByteToken(id)) return;
    const own = this.source.decodeWithoutCleanUp([id]);
    if (own === '' || own.endsWith(REPLACEMENT)) return;
    this.window = [id];
    this.contextLength = own.length;
    this.emitted = 0;
  }

  private cleanUp(text: string, final: boolean): string {
    if (!this.source.cleansUpSpaces) return text;
    const pending = this.uncleaned + text;
    let cut = pending.length;
    if (!final) while (cut > 0 && CLEAN_UP_CONTINUES.has(pending[cut - 1] as string)) cut--;
    this.uncleaned = pending.slice(cut);
    return cleanUpTokenizationSpaces(pending.slice(0, cut));
  }
}

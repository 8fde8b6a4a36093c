/**
 * Text <-> token ids for the model runner: a Hugging Face `tokenizer.json` run by
 * `@huggingface/tokenizers` (LLaMA SentencePiece-BPE with byte fallback, byte-level BPE, BERT
 * WordPiece), plus what that library lacks: batches with padding and truncation, the special
 * token ids, `add_bos_token`/`add_eos_token`, and streaming detokenisation (stream-decoder.ts).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ToolbenchError, describeJsonType, inputError, usageError } from '../util/errors.js';
import { fileError } from '../util/json-file.js';
import { StreamDecoder, type StreamDecodeSource } from './stream-decoder.js';

/** The contents of `tokenizer.json` and (optionally) `tokenizer_config.json`. */
export interface TokenizerFiles {
  tokenizerJson: object;
  tokenizerConfig?: object;
}

export interface EncodeOptions {
  /** Add the special tokens of the post-processor (`<s>`; `[CLS]` ... `[SEP]`). Default true. */
  addSpecialTokens?: boolean;
}

export interface EncodeBatchOptions extends EncodeOptions {
  /** Pad every row to the longest one, before or after the tokens. Default: `padding_side`, else 'right'. */
  padding?: 'left' | 'right' | 'none';
  /** Longest row, special tokens included. Unset: no truncation. */
  maxLength?: number;
  /** Which end loses tokens past `maxLength`. Default: `truncation_side`, else 'right'. */
  truncation?: 'left' | 'right';
}

/** Rows of token ids and their attention masks (1 = token, 0 = padding). */
export interface BatchEncoding {
  ids: number[][];
  attentionMask: number[][];
}

export interface DecodeOptions {
  /** Leave out special tokens (`<s>`, `</s>`, `[CLS]`, ...). Default false, as in transformers. */
  skipSpecialTokens?: boolean;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
/** Decoder types for which window decoding equals whole decoding (see stream-decoder.ts). */
const WINDOW_SAFE_DECODERS = new Set(['ByteLevel', 'WordPiece', 'Metaspace', 'BPEDecoder', 'Replace', 'ByteFallback', 'Fuse', 'Strip']);

export class TextTokenizer {
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  /** One past the largest token id, added tokens included (`len(tokenizer)` for a dense vocabulary). */
  readonly vocabSize: number;
  private readonly tokenizer: Tokenizer;
  private readonly cleansUpSpaces: boolean;
  private readonly windowed: boolean;
  private readonly paddingSide: 'left' | 'right';
  private readonly truncationSide: 'left' | 'right';

  private constructor(tokenizerJson: unknown, config: Json, source: { json: string; config: string }) {
    if (!isObject(tokenizerJson)) throw inputError(source.json, '$', 'an object', { got: describeJsonType(tokenizerJson) });
    if (!isObject(tokenizerJson.model)) throw inputError(source.json, '$.model', 'an object', { got: describeJsonType(tokenizerJson.model) });
    const json: Json = {
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...tokenizerJson,
    };
    json.post_processor = specialTokenTemplate(json.post_processor, config, source.config);
    this.cleansUpSpaces = config.clean_up_tokenization_spaces === true;
    const libraryConfig = {
      ...Object.fromEntries(Object.entries(config).map(([key, value]) => [key, key.endsWith('_token') ? (tokenContent(value) ?? value) : value])),
      clean_up_tokenization_spaces: this.cleansUpSpaces,
      additional_special_tokens: Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens.map(tokenContent) : [],
    };
    try {
      this.tokenizer = new Tokenizer(json, libraryConfig);
    } catch (error) {
      throw inputError(source.json, '$', 'a tokenizer that @huggingface/tokenizers can load', { got: (error as Error).message, cause: error });
    }
    const idOf = (key: string) => {
      const content = tokenContent(config[key]);
      return content === undefined ? undefined : this.tokenizer.token_to_id(content);
    };
    this.bosId = idOf('bos_token');
    this.eosId = idOf('eos_token');
    this.padId = idOf('pad_token') ?? (isObject(json.padding) && typeof json.padding.pad_id === 'number' ? json.padding.pad_id : undefined);
    let largest = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) largest = Math.max(largest, id);
    this.vocabSize = largest + 1;
    this.windowed = isWindowSafe(json.decoder) && !(isObject(json.model) && json.model.end_of_word_suffix);
    this.paddingSide = config.padding_side === 'left' ? 'left' : 'right';
    this.truncationSide = config.truncation_side === 'left' ? 'left' : 'right';
  }

  /**
   * Reads a Hugging Face tokenizer folder: `tokenizer.json` (required), `tokenizer_config.json`
   * and `special_tokens_map.json` (optional; the config wins where both name a token).
   */
  static fromDir(dir: string): TextTokenizer {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(dir).isDirectory();
    } catch (error) {
      throw new ToolbenchError('input.unreadable', 2, `${dir}: no such folder (a tokenizer folder holds tokenizer.json)`, { cause: error });
    }
    if (!isDirectory) throw new ToolbenchError('input.unreadable', 2, `${dir}: not a folder (a tokenizer folder holds tokenizer.json)`);
    const jsonFile = join(dir, 'tokenizer.json');
    const configFile = join(dir, 'tokenizer_config.json');
    const tokenizerJson = readJson(jsonFile, true);
    const config = readJson(configFile, false) ?? {};
    const specialTokens = readJson(join(dir, 'special_tokens_map.json'), false) ?? {};
    return new TextTokenizer(tokenizerJson, { ...specialTokens, ...withoutNulls(config) }, { json: jsonFile, config: configFile });
  }

  static fromFiles(files: TokenizerFiles): TextTokenizer {
    const config = files.tokenizerConfig ?? {};
    if (!isObject(config)) throw inputError('tokenizer_config.json', '$', 'an object', { got: describeJsonType(config) });
    return new TextTokenizer(files.tokenizerJson, config, { json: 'tokenizer.json', config: 'tokenizer_config.json' });
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /**
   * Encodes texts as one batch. Truncation happens to the text's own tokens, before the special
   * tokens go around them (as in transformers), so `<s>` or `[CLS]` ... `[SEP]` always survive;
   * a `maxLength` too short for the special tokens alone is a usage error. Padding goes up to the
   * longest row with `padId`, else `eosId` (LLaMA has no pad token), else 0; the mask marks it.
   */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    const { maxLength } = options;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) {
      throw usageError(`maxLength must be a positive integer, got ${maxLength}`);
    }
    const side = options.truncation ?? this.truncationSide;
    const rows = texts.map((text) => {
      const ids = this.encode(text, { addSpecialTokens });
      if (maxLength === undefined || ids.length <= maxLength) return ids;
      return this.truncate(text, ids, maxLength, side, addSpecialTokens);
    });
    const padding = options.padding ?? this.paddingSide;
    const longest = Math.max(0, ...rows.map((row) => row.length));
    const padId = this.padId ?? this.eosId ?? 0;
    const ids: number[][] = [];
    const attentionMask: number[][] = [];
    for (const row of rows) {
      const fill = padding === 'none' ? 0 : longest - row.length;
      const pad = new Array<number>(fill).fill(padId);
      const ones = new Array<number>(row.length).fill(1);
      const zeros = new Array<number>(fill).fill(0);
      ids.push(padding === 'left' ? [...pad, ...row] : [...row, ...pad]);
      attentionMask.push(padding === 'left' ? [...zeros, ...ones] : [...ones, ...zeros]);
    }
    return { ids, attentionMask };
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return ''; // the library rejects an empty list
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: this.cleansUpSpaces });
  }

  /** A decoder for one generated sequence; see stream-decoder.ts for what it holds back. */
  streamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const skip = options.skipSpecialTokens ?? false;
    const source: StreamDecodeSource = {
      decodeWithoutCleanUp: (ids) => (ids.length === 0 ? '' : this.tokenizer.decode([...ids], { skip_special_tokens: skip, clean_up_tokenization_spaces: false })),
      cleansUpSpaces: this.cleansUpSpaces,
      isByteToken: (id) => BYTE_TOKEN.test(this.tokenizer.id_to_token(id) ?? ''),
      windowed: this.windowed,
    };
    return new StreamDecoder(source);
  }

  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** Keeps `maxLength` ids: the special tokens around the text's tokens, and the text's tokens from the kept end. */
  private truncate(text: string, ids: number[], maxLength: number, side: 'left' | 'right', addSpecialTokens: boolean): number[] {
    const content = addSpecialTokens ? this.encode(text, { addSpecialTokens: false }) : ids;
    let start = 0;
    while (start + content.length <= ids.length && content.some((id, index) => ids[start + index] !== id)) start++;
    if (start + content.length > ids.length) start = 0; // an unusual post-processor: cut the whole row
    const prefix = content === ids ? [] : ids.slice(0, start);
    const suffix = content === ids ? [] : ids.slice(start + content.length);
    const room = maxLength - prefix.length - suffix.length;
    if (room < 0) throw usageError(`maxLength ${maxLength} is shorter than the ${prefix.length + suffix.length} special tokens each row gets`);
    const kept = side === 'right' ? content.slice(0, room) : content.slice(content.length - room);
    return [...prefix, ...kept, ...suffix];
  }
}

/** A special token in a config: `"<s>"` or an AddedToken object `{ "content": "<s>", ... }`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  return undefined;
}

/**
 * transformers' `LlamaTokenizerFast.update_post_processor`: where `tokenizer_config.json` sets
 * `add_bos_token`/`add_eos_token` differently from what the post-processor does, the post-processor
 * becomes `[bos] $A [eos]` (pair: `[bos] $A [eos] [bos] $B [eos]`). A flag left out keeps what
 * the post-processor does; a post-processor that already agrees is kept as it is.
 */
function specialTokenTemplate(postProcessor: unknown, config: Json, configFile: string): unknown {
  const template = templateOf(postProcessor);
  const single = Array.isArray(template?.single) ? (template.single as unknown[]) : [];
  const specialAt = (item: unknown) => (isObject(item) && isObject(item.SpecialToken) ? item.SpecialToken.id : undefined);
  const bos = tokenContent(config.bos_token);
  const eos = tokenContent(config.eos_token);
  const hasBos = bos !== undefined && specialAt(single[0]) === bos;
  const hasEos = eos !== undefined && single.length > 1 && specialAt(single[single.length - 1]) === eos;
  const addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : hasBos;
  const addEos = typeof config.add_eos_token === 'boolean' ? config.add_eos_token : hasEos;
  if (addBos === hasBos && addEos === hasEos) return postProcessor;
  if (addBos && bos === undefined) throw inputError(configFile, '$.bos_token', 'a token, since add_bos_token is true', { got: 'none' });
  if (addEos && eos === undefined) throw inputError(configFile, '$.eos_token', 'a token, since add_eos_token is true', { got: 'none' });
  const special = (id: string | undefined, typeId: number) => (id === undefined ? [] : [{ SpecialToken: { id, type_id: typeId } }]);
  const sequence = (typeId: number) => {
    const id = typeId === 0 ? 'A' : 'B';
    return [...special(addBos ? bos : undefined, typeId), { Sequence: { id, type_id: typeId } }, ...special(addEos ? eos : undefined, typeId)];
  };
  return { type: 'TemplateProcessing', single: sequence(0), pair: [...sequence(0), ...sequence(1)], special_tokens: {} };
}

function templateOf(postProcessor: unknown): Json | undefined {
  if (!isObject(postProcessor)) return undefined;
  if (postProcessor.type === 'TemplateProcessing') return postProcessor;
  if (postProcessor.type === 'Sequence' && Array.isArray(postProcessor.processors)) {
    return postProcessor.processors.map(templateOf).find((found) => found !== undefined);
  }
  return undefined;
}

function isWindowSafe(decoder: unknown): boolean {
  if (decoder === null || decoder === undefined) return true; // the library joins tokens with spaces
  if (!isObject(decoder)) return false;
  if (decoder.type === 'Sequence') return Array.isArray(decoder.decoders) && decoder.decoders.every(isWindowSafe);
  return typeof decoder.type === 'string' && WINDOW_SAFE_DECODERS.has(decoder.type);
}

/** The keys of a `tokenizer_config.json` that are set (`"pad_token": null` does not hide special_tokens_map.json). */
function withoutNulls(config: Json): Json {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== null));
}

/** A JSON object file, or undefined for an optional one that is absent. */
function readJson(file: string, required: true): Json;
function readJson(file: string, required: false): Json | undefined;
function readJson(file: string, required: boolean): Json | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(file, error);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw inputError(file, '$', 'a JSON document', { got: (error as Error).message, cause: error });
  }
  if (!isObject(value)) throw inputError(file, '$', 'an object', { got: describeJsonType(value) });
  return value;
}

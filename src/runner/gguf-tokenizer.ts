/**
 * A Hugging Face `tokenizer.json` and `tokenizer_config.json` built from a GGUF file's
 * `tokenizer.ggml.*` metadata, for `@huggingface/tokenizers`:
 *
 * - `llama` (SentencePiece BPE): the vocabulary with byte fallback, merges derived from the
 *   piece scores as transformers' `LlamaConverter` derives them (`generate_merges`), and the
 *   legacy Llama-2 pipeline: normalizer Prepend("▁") + Replace(" " -> "▁"), decoder Replace,
 *   ByteFallback, Fuse, Strip(1 leading space).
 * - `gpt2` (byte-level BPE): tokens and `tokenizer.ggml.merges` as they are, with the
 *   pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre` (llama-vocab.cpp `llm_tokenizer_bpe`).
 *
 * Token types (llama.cpp `llama_token_type`): 1 normal, 2 unknown, 3 control, 4 user-defined,
 * 5 unused, 6 byte. Unknown and control tokens become special added tokens, user-defined ones
 * plain added tokens, as transformers' SentencePiece extractor does.
 */
import { ggufError, ggufValue, type GgufFile, type GgufValue } from './gguf.js';

export interface GgufTokenizer {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
}

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const splitThenByteLevel = (pattern: string) => ({
  type: 'Sequence',
  pretokenizers: [{ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false }, byteLevel(false)],
});

/**
 * `tokenizer.ggml.pre` values -> the Hugging Face pre-tokenizer with the same splits as
 * llama.cpp's regexes for that type (GPT-2's, GPT-2's after single digits, Llama-3's, Qwen2's).
 */
const BPE_PRE_TOKENIZERS: Readonly<Record<string, () => object>> = {
  default: () => byteLevel(true),
  gpt2: () => byteLevel(true),
  'gpt-2': () => byteLevel(true),
  mpt: () => byteLevel(true),
  olmo: () => byteLevel(true),
  jais: () => byteLevel(true),
  smollm: () => ({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] }),
  starcoder: () => ({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] }),
  refact: () => ({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] }),
  'command-r': () => ({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] }),
  codeshell: () => ({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] }),
  'llama-bpe': () => splitThenByteLevel(LLAMA3_PATTERN),
  llama3: () => splitThenByteLevel(LLAMA3_PATTERN),
  dbrx: () => splitThenByteLevel(LLAMA3_PATTERN),
  'smaug-bpe': () => splitThenByteLevel(LLAMA3_PATTERN),
  qwen2: () => splitThenByteLevel(QWEN2_PATTERN),
  stablelm2: () => splitThenByteLevel(QWEN2_PATTERN),
};

function stringArray(gguf: GgufFile, key: string): string[] {
  const value = ggufValue(gguf, key);
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw ggufError(gguf.file, `metadata ${key}: expected an array of strings`);
  return value as string[];
}

function numberArray(gguf: GgufFile, key: string, length: number): number[] | undefined {
  const value = ggufValue(gguf, key);
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length !== length) throw ggufError(gguf.file, `metadata ${key}: expected an array of ${length} numbers`);
  return value.map((item: GgufValue) => Number(item));
}

function optionalId(gguf: GgufFile, key: string, vocabSize: number): number | undefined {
  const value = ggufValue(gguf, key);
  if (value === undefined) return undefined;
  const id = Number(value);
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw ggufError(gguf.file, `metadata ${key}: ${String(value)} is not a token id (the vocabulary has ${vocabSize} tokens)`);
  return id;
}

function optionalBoolean(gguf: GgufFile, key: string): boolean | undefined {
  const value = ggufValue(gguf, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw ggufError(gguf.file, `metadata ${key}: expected a BOOL`);
  return value;
}

/** token -> first id, in an object without a prototype (a vocabulary may hold "__proto__"). */
function vocabulary(tokens: readonly string[]): Record<string, number> {
  const vocab = Object.create(null) as Record<string, number>;
  tokens.forEach((token, id) => {
    if (!(token in vocab)) vocab[token] = id;
  });
  return vocab;
}

/**
 * BPE merges for a SentencePiece vocabulary (transformers `generate_merges` with scores): every
 * split of every piece into two pieces of the vocabulary, ordered by the piece's score (highest
 * first), then the longer left part, then the longer right part; splits of one piece in the
 * order of their parts' ids.
 */
export function sentencePieceMerges(tokens: readonly string[], scores: readonly number[], vocab: Readonly<Record<string, number>>): [string, string][] {
  const merges: { left: string; right: string; score: number; leftLength: number; rightLength: number }[] = [];
  tokens.forEach((piece, id) => {
    if (vocab[piece] !== id) return; // a repeated piece counts once, as in a Python dict
    const characters = Array.from(piece);
    const local: { left: string; right: string; leftId: number; rightId: number; leftLength: number }[] = [];
    for (let cut = 1; cut < characters.length; cut++) {
      const left = characters.slice(0, cut).join('');
      const right = characters.slice(cut).join('');
      const leftId = vocab[left];
      const rightId = vocab[right];
      if (leftId !== undefined && rightId !== undefined) local.push({ left, right, leftId, rightId, leftLength: cut });
    }
    local.sort((a, b) => a.leftId - b.leftId || a.rightId - b.rightId);
    const score = scores[id] as number;
    for (const merge of local) merges.push({ left: merge.left, right: merge.right, score, leftLength: merge.leftLength, rightLength: characters.length - merge.leftLength });
  });
  merges.sort((a, b) => b.score - a.score || b.leftLength - a.leftLength || b.rightLength - a.rightLength); // stable
  return merges.map(({ left, right }) => [left, right]);
}

function addedTokens(tokens: readonly string[], types: readonly number[] | undefined): object[] {
  const added: object[] = [];
  if (types === undefined) return added;
  types.forEach((type, id) => {
    if (type === TOKEN_TYPE.unknown || type === TOKEN_TYPE.control || type === TOKEN_TYPE.userDefined) {
      const special = type !== TOKEN_TYPE.userDefined;
      added.push({ id, content: tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special });
    }
  });
  return added;
}

/** TemplateProcessing that puts BOS before and/or EOS after each sequence, as LlamaTokenizerFast does. */
function specialTokenTemplate(bos: { token: string; id: number } | undefined, eos: { token: string; id: number } | undefined): object {
  const sequence = (id: 'A' | 'B', typeId: number) => {
    const items: object[] = [];
    if (bos) items.push({ SpecialToken: { id: bos.token, type_id: typeId } });
    items.push({ Sequence: { id, type_id: typeId } });
    if (eos) items.push({ SpecialToken: { id: eos.token, type_id: typeId } });
    return items;
  };
  const special: Record<string, object> = {};
  for (const token of [bos, eos]) if (token) special[token.token] = { id: token.token, ids: [token.id], tokens: [token.token] };
  return { type: 'TemplateProcessing', single: sequence('A', 0), pair: [...sequence('A', 0), ...sequence('B', 1)], special_tokens: special };
}

/** The Hugging Face tokenizer files for the vocabulary stored in `gguf`. */
export function buildGgufTokenizer(gguf: GgufFile): GgufTokenizer {
  const model = ggufValue(gguf, 'tokenizer.ggml.model');
  if (model !== 'llama' && model !== 'gpt2') {
    throw ggufError(gguf.file, `tokenizer.ggml.model is ${JSON.stringify(model)}; toolbench reads "llama" (SentencePiece) and "gpt2" (byte-level BPE) vocabularies`);
  }
  const tokens = stringArray(gguf, 'tokenizer.ggml.tokens');
  const types = numberArray(gguf, 'tokenizer.ggml.token_type', tokens.length);
  const vocab = vocabulary(tokens);
  const tokenAt = (id: number | undefined) => (id === undefined ? undefined : { token: tokens[id] as string, id });
  const bos = tokenAt(optionalId(gguf, 'tokenizer.ggml.bos_token_id', tokens.length));
  const eos = tokenAt(optionalId(gguf, 'tokenizer.ggml.eos_token_id', tokens.length));
  const unk = tokenAt(optionalId(gguf, 'tokenizer.ggml.unknown_token_id', tokens.length));
  const pad = tokenAt(optionalId(gguf, 'tokenizer.ggml.padding_token_id', tokens.length));
  // llama.cpp's defaults when the keys are absent: SentencePiece adds BOS, byte-level BPE does not
  const addBos = optionalBoolean(gguf, 'tokenizer.ggml.add_bos_token') ?? model === 'llama';
  const addEos = optionalBoolean(gguf, 'tokenizer.ggml.add_eos_token') ?? false;
  const template = (addBos && bos) || (addEos && eos) ? specialTokenTemplate(addBos ? bos : undefined, addEos ? eos : undefined) : undefined;
  let tokenizerJson: Record<string, unknown>;
  if (model === 'llama') {
    const scores = numberArray(gguf, 'tokenizer.ggml.scores', tokens.length) ?? tokens.map((_, id) => -id);
    const addSpacePrefix = optionalBoolean(gguf, 'tokenizer.ggml.add_space_prefix') ?? true;
    const replace = { type: 'Replace', pattern: { String: ' ' }, content: '▁' };
    tokenizerJson = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens(tokens, types),
      normalizer: { type: 'Sequence', normalizers: addSpacePrefix ? [{ type: 'Prepend', prepend: '▁' }, replace] : [replace] },
      pre_tokenizer: null,
      post_processor: template ?? null,
      decoder: {
        type: 'Sequence',
        decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])],
      },
      model: bpeModel(unk?.token, true, vocab, sentencePieceMerges(tokens, scores, vocab)),
    };
  } else {
    const pre = ggufValue(gguf, 'tokenizer.ggml.pre') ?? 'default';
    const preTokenizer = typeof pre === 'string' ? BPE_PRE_TOKENIZERS[pre] : undefined;
    if (preTokenizer === undefined) {
      throw ggufError(gguf.file, `tokenizer.ggml.pre is ${JSON.stringify(pre)}, a pre-tokenizer toolbench does not know (known: ${Object.keys(BPE_PRE_TOKENIZERS).join(', ')})`);
    }
    const merges = ggufValue(gguf, 'tokenizer.ggml.merges') === undefined ? [] : stringArray(gguf, 'tokenizer.ggml.merges');
    tokenizerJson = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens(tokens, types),
      normalizer: null,
      pre_tokenizer: preTokenizer(),
      post_processor: template ?? byteLevel(true),
      decoder: byteLevel(true),
      model: bpeModel(
        unk?.token,
        false,
        vocab,
        merges.map((merge) => {
          const space = merge.indexOf(' ', 1); // a part never starts with a space: byte-level text has none
          if (space < 0) throw ggufError(gguf.file, `metadata tokenizer.ggml.merges: ${JSON.stringify(merge)} is not two tokens separated by a space`);
          return [merge.slice(0, space), merge.slice(space + 1)];
        }),
      ),
    };
  }
  const chatTemplate = ggufValue(gguf, 'tokenizer.chat_template');
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: model === 'llama' ? 'LlamaTokenizer' : 'GPT2Tokenizer',
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: false,
    ...(model === 'llama' ? { legacy: true } : {}),
    ...(bos ? { bos_token: bos.token } : {}),
    ...(eos ? { eos_token: eos.token } : {}),
    ...(unk ? { unk_token: unk.token } : {}),
    ...(pad ? { pad_token: pad.token } : {}),
    ...(typeof chatTemplate === 'string' ? { chat_template: chatTemplate } : {}),
  };
  return { tokenizerJson, tokenizerConfig };
}

/** tokenizers' BPE model: SentencePiece's (unknown pieces fused, bytes as fallback tokens) or byte-level BPE's (neither). */
function bpeModel(unkToken: string | undefined, sentencePiece: boolean, vocab: unknown, merges: unknown): Record<string, unknown> {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: unkToken ?? null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: sentencePiece,
    byte_fallback: sentencePiece,
    ignore_merges: false,
    vocab,
    merges,
  };
}

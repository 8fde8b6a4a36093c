/**
 * Tiny LLaMA GGUF files written as llama.cpp's converter writes them (convert_hf_to_gguf.py,
 * `LlamaModel`): HF tensors under GGUF names, shapes innermost first, q/k rows permuted from HF's
 * rotate-half layout to llama.cpp's interleaved one, 2-D weights in the chosen ggml type and 1-D
 * ones in F32, the `llama.*` hyperparameters and a SentencePiece vocabulary as `tokenizer.ggml.*`.
 * `convertToGguf` does this for a tiny safetensors checkpoint (tiny-checkpoint.ts), so that a test
 * can load the same weights both ways.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantise, writeGguf, type QuantType, type WriterTensor, type WriterValue } from './gguf-writer.js';
import type { LlamaConfigJson, TinyCheckpoint } from './tiny-checkpoint.js';

const str = (value: string): WriterValue => ({ type: 'STRING', value });
const u32 = (value: number): WriterValue => ({ type: 'UINT32', value });
const f32 = (value: number): WriterValue => ({ type: 'FLOAT32', value });

/** The sizes of a LLaMA model. */
export interface LlamaSize {
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly inner: number;
  readonly layers: number;
  readonly vocab: number;
}

// ---------------------------------------------------------------- tokenizer metadata

/** A SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then pieces. */
function llamaVocabulary(pieces: string[]): { tokens: string[]; types: number[]; scores: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  for (let byte = 0; byte < 256; byte++) tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
  tokens.push(...pieces);
  const types = tokens.map((_, id) => (id === 0 ? 2 : id < 3 ? 3 : id < 259 ? 6 : 1));
  const scores = tokens.map((_, id) => (id < 259 ? 0 : -(id - 259)));
  return { tokens, types, scores };
}

/** `tokenizer.ggml.*` for a `llamaVocabulary` with BOS 1, EOS 2 and UNK 0. */
export function llamaTokenizerMetadata(pieces: string[], extra: [string, WriterValue][] = []): [string, WriterValue][] {
  const { tokens, types, scores } = llamaVocabulary(pieces);
  return [
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', { type: 'ARRAY', elementType: 'STRING', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'ARRAY', elementType: 'FLOAT32', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'ARRAY', elementType: 'INT32', value: types }],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ...extra,
  ];
}

/**
 * The vocabulary of a tiny-tokenizers.ts LLaMA tokenizer.json (specials, bytes, characters, then
 * one piece per BPE merge in merge order, then fillers) as `tokenizer.ggml.*`. `llamaVocabulary`'s
 * scores fall with the id, so the merges a reader derives from them (transformers'
 * `generate_merges`) come in the trained order.
 */
export function sentencePieceMetadataOf(tokenizerJson: { model: { vocab: Record<string, number> } }): [string, WriterValue][] {
  const tokens = Object.entries(tokenizerJson.model.vocab)
    .sort((a, b) => a[1] - b[1])
    .map(([token]) => token);
  const base = llamaVocabulary([]).tokens;
  if (tokens.slice(0, base.length).join('\n') !== base.join('\n')) throw new Error('tokenizer.json does not start with <unk> <s> </s> and the byte tokens');
  return llamaTokenizerMetadata(tokens.slice(base.length));
}

// ---------------------------------------------------------------- tensors

/** HF rotate-half rows -> llama.cpp interleaved rows, as convert_hf_to_gguf.py `permute` does (rows of stored bytes). */
function permuteLikeLlamaCpp(bytes: Uint8Array, heads: number, rows: number): Uint8Array {
  const headDim = rows / heads;
  const rowBytes = bytes.length / rows;
  const out = new Uint8Array(bytes.length);
  // reshape (heads, 2, headDim / 2, row), swap axes 1 and 2, reshape back
  for (let head = 0; head < heads; head++)
    for (let half = 0; half < 2; half++)
      for (let j = 0; j < headDim / 2; j++) {
        const source = head * headDim + half * (headDim / 2) + j;
        const target = head * headDim + j * 2 + half;
        out.set(bytes.subarray(source * rowBytes, (source + 1) * rowBytes), target * rowBytes);
      }
  return out;
}

/** [GGUF name, HF name, HF shape, heads whose q/k rows llama.cpp permutes], in llama.cpp's file order. */
function llamaTensors(size: LlamaSize, tied: boolean): [string, string, number[], number?][] {
  const { hidden, heads, kvHeads, headDim, inner, layers, vocab } = size;
  const tensors: [string, string, number[], number?][] = [['token_embd.weight', 'model.embed_tokens.weight', [vocab, hidden]]];
  for (let layer = 0; layer < layers; layer++) {
    const g = `blk.${layer}.`, h = `model.layers.${layer}.`;
    tensors.push(
      [`${g}attn_norm.weight`, `${h}input_layernorm.weight`, [hidden]],
      [`${g}attn_q.weight`, `${h}self_attn.q_proj.weight`, [heads * headDim, hidden], heads],
      [`${g}attn_k.weight`, `${h}self_attn.k_proj.weight`, [kvHeads * headDim, hidden], kvHeads],
      [`${g}attn_v.weight`, `${h}self_attn.v_proj.weight`, [kvHeads * headDim, hidden]],
      [`${g}attn_output.weight`, `${h}self_attn.o_proj.weight`, [hidden, heads * headDim]],
      [`${g}ffn_norm.weight`, `${h}post_attention_layernorm.weight`, [hidden]],
      [`${g}ffn_gate.weight`, `${h}mlp.gate_proj.weight`, [inner, hidden]],
      [`${g}ffn_up.weight`, `${h}mlp.up_proj.weight`, [inner, hidden]],
      [`${g}ffn_down.weight`, `${h}mlp.down_proj.weight`, [hidden, inner]],
    );
  }
  tensors.push(['output_norm.weight', 'model.norm.weight', [hidden]]);
  if (!tied) tensors.push(['output.weight', 'lm_head.weight', [vocab, hidden]]);
  return tensors;
}

/** A written tensor by HF name: its shape, the values its stored quants stand for, and its bytes, all in HF row order. */
export type WrittenLlamaTensors = Map<string, { shape: number[]; data: Float32Array; type: QuantType; bytes: Uint8Array }>;

export interface LlamaGgufOptions {
  readonly size: LlamaSize;
  /** The HF values of each tensor, asked for in llama.cpp's file order. */
  readonly values: (hfName: string, shape: number[]) => Float32Array;
  readonly tokenizer: [string, WriterValue][];
  /** The type of every 2-D weight (embeddings included); F32 when not given. 1-D ones are F32. */
  readonly matrixType?: QuantType;
  /** No output.weight: the head shares the embeddings. */
  readonly tied?: boolean;
  readonly architecture?: string;
  readonly contextLength?: number;
  readonly rmsNormEps?: number;
  readonly ropeTheta?: number;
  readonly extraMetadata?: [string, WriterValue][];
  readonly extraTensors?: WriterTensor[];
  readonly typeCode?: (tensor: WriterTensor) => number;
}

/** Writes a LLaMA GGUF file; returns what was stored, by HF name. */
export function writeLlamaGguf(file: string, options: LlamaGgufOptions): WrittenLlamaTensors {
  const { size } = options;
  const written: WrittenLlamaTensors = new Map();
  const tensors: WriterTensor[] = [];
  for (const [ggufName, hfName, shape, permuteHeads] of llamaTensors(size, options.tied === true)) {
    const type = shape.length === 2 ? (options.matrixType ?? 'F32') : 'F32';
    const { bytes, reconstruction } = quantise(options.values(hfName, shape), type);
    written.set(hfName, { shape, data: reconstruction, type, bytes });
    const stored = permuteHeads === undefined ? bytes : permuteLikeLlamaCpp(bytes, permuteHeads, shape[0] as number);
    tensors.push({ name: ggufName, dims: [...shape].reverse(), type, bytes: stored });
  }
  const arch = options.architecture ?? 'llama';
  const metadata: [string, WriterValue][] = [
    ['general.architecture', str(arch)],
    [`${arch}.context_length`, u32(options.contextLength ?? 256)],
    [`${arch}.embedding_length`, u32(size.hidden)],
    [`${arch}.block_count`, u32(size.layers)],
    [`${arch}.feed_forward_length`, u32(size.inner)],
    [`${arch}.rope.dimension_count`, u32(size.headDim)],
    [`${arch}.attention.head_count`, u32(size.heads)],
    [`${arch}.attention.head_count_kv`, u32(size.kvHeads)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(options.rmsNormEps ?? 1e-5)],
    [`${arch}.rope.freq_base`, f32(options.ropeTheta ?? 10000)],
    ...options.tokenizer,
    ...(options.extraMetadata ?? []),
  ];
  writeGguf(file, { metadata, tensors: [...tensors, ...(options.extraTensors ?? [])], typeCode: options.typeCode });
  return written;
}

/**
 * A tiny safetensors checkpoint as a GGUF file at `file`, as convert_hf_to_gguf.py converts it
 * (without RoPE scaling): its weights, config and tokenizer.json vocabulary.
 */
export function convertToGguf(checkpoint: TinyCheckpoint<LlamaConfigJson>, file: string, matrixType: QuantType = 'F32'): WrittenLlamaTensors {
  const { config, weights } = checkpoint;
  if (config.rope_scaling !== null) throw new Error('convertToGguf writes no RoPE scaling');
  const tokenizerJson = JSON.parse(readFileSync(join(checkpoint.dir, 'tokenizer.json'), 'utf8')) as Parameters<typeof sentencePieceMetadataOf>[0];
  return writeLlamaGguf(file, {
    size: {
      hidden: config.hidden_size,
      heads: config.num_attention_heads,
      kvHeads: config.num_key_value_heads,
      headDim: config.head_dim ?? config.hidden_size / config.num_attention_heads,
      inner: config.intermediate_size,
      layers: config.num_hidden_layers,
      vocab: config.vocab_size,
    },
    values: (name) => weights.get(name) ?? missing(name),
    tokenizer: sentencePieceMetadataOf(tokenizerJson),
    matrixType,
    tied: config.tie_word_embeddings,
    contextLength: config.max_position_embeddings,
    rmsNormEps: config.rms_norm_eps,
    ropeTheta: config.rope_theta,
  });
}

function missing(name: string): never {
  throw new Error(`the checkpoint has no ${name}`);
}

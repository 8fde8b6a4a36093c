/**
 * A LLaMA-family GGUF checkpoint (general.architecture "llama": LLaMA 1/2, Mistral, SmolLM,
 * TinyLlama ...) as a Hugging Face one: a `LlamaConfig`-style config, tensors under transformers'
 * names and shapes, and tokenizer files. The graph builder consumes this exactly as it consumes a
 * safetensors checkpoint. Tensors are read from the file when asked for, as float32 or, for a
 * 2-D block-quantised one, repacked for MatMulNBits (matmul-nbits.ts), so that a graph built on
 * the packed weights never holds a float32 copy.
 *
 * Two conversions undo what llama.cpp's `convert_hf_to_gguf.py` (`LlamaModel`) did:
 * - shapes: ggml lists dimensions innermost first, so a HF [out, in] weight is stored [in, out];
 * - q/k rows: `permute` reorders each head's rows from HF's rotate-half RoPE layout (first half,
 *   second half) to llama.cpp's interleaved one (pairs), per attention head for q and per KV head
 *   for k: GGUF row h*hd + 2j + t holds HF row h*hd + t*hd/2 + j.
 */
import { ToolbenchError } from '../util/errors.js';
import { ggufError, ggufValue, readGguf, readGgufTensorBytes, type GgufFile, type GgufTensorInfo } from './gguf.js';
import { canDequantize, dequantize, DEQUANTIZABLE_TYPE_NAMES } from './gguf-dequant.js';
import { buildGgufTokenizer, type GgufTokenizer } from './gguf-tokenizer.js';
import { canRepackForMatMulNBits, repackForMatMulNBits, reorderQuantizedRows } from './matmul-nbits.js';
import type { QuantizedWeight } from './weights.js';

/** GGUF tensor names inside `blk.N.` -> transformers names inside `model.layers.N.`. */
const LAYER_TENSORS: Readonly<Record<string, string>> = {
  'attn_norm.weight': 'input_layernorm.weight',
  'attn_q.weight': 'self_attn.q_proj.weight',
  'attn_k.weight': 'self_attn.k_proj.weight',
  'attn_v.weight': 'self_attn.v_proj.weight',
  'attn_output.weight': 'self_attn.o_proj.weight',
  'attn_q.bias': 'self_attn.q_proj.bias',
  'attn_k.bias': 'self_attn.k_proj.bias',
  'attn_v.bias': 'self_attn.v_proj.bias',
  'attn_output.bias': 'self_attn.o_proj.bias',
  'ffn_norm.weight': 'post_attention_layernorm.weight',
  'ffn_gate.weight': 'mlp.gate_proj.weight',
  'ffn_up.weight': 'mlp.up_proj.weight',
  'ffn_down.weight': 'mlp.down_proj.weight',
};
const GLOBAL_TENSORS: Readonly<Record<string, string>> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};
const REQUIRED_LAYER_TENSORS = ['attn_norm.weight', 'attn_q.weight', 'attn_k.weight', 'attn_v.weight', 'attn_output.weight', 'ffn_norm.weight', 'ffn_gate.weight', 'ffn_up.weight', 'ffn_down.weight'];

function unsupported(file: string, message: string): ToolbenchError {
  return new ToolbenchError('model.unsupported', 2, `${file}: ${message}`);
}

function integer(gguf: GgufFile, key: string, fallback?: number): number {
  const value = ggufValue(gguf, key);
  if (value === undefined && fallback !== undefined) return fallback;
  if ((typeof value !== 'number' && typeof value !== 'bigint') || !Number.isSafeInteger(Number(value)) || Number(value) < 0) {
    throw ggufError(gguf.file, `metadata ${key}: expected a non-negative integer, got ${value === undefined ? 'nothing' : JSON.stringify(String(value))}`);
  }
  return Number(value);
}

function float(gguf: GgufFile, key: string, fallback?: number): number {
  const value = ggufValue(gguf, key);
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number') throw ggufError(gguf.file, `metadata ${key}: expected a number, got ${value === undefined ? 'nothing' : JSON.stringify(String(value))}`);
  return value;
}

/** transformers `LlamaConfig` fields from the `llama.*` and `tokenizer.ggml.*` metadata. */
export function ggufLlamaConfig(gguf: GgufFile): Record<string, unknown> {
  const architecture = ggufValue(gguf, 'general.architecture');
  if (architecture !== 'llama') {
    throw unsupported(gguf.file, `general.architecture is ${JSON.stringify(architecture ?? null)}; toolbench reads LLaMA-family GGUF checkpoints ("llama") only`);
  }
  if (integer(gguf, 'llama.expert_count', 0) > 0) throw unsupported(gguf.file, `a mixture-of-experts model (llama.expert_count ${integer(gguf, 'llama.expert_count')}) is not supported`);
  const hidden = integer(gguf, 'llama.embedding_length');
  const heads = integer(gguf, 'llama.attention.head_count');
  const kvHeads = integer(gguf, 'llama.attention.head_count_kv', heads);
  if (heads === 0 || kvHeads === 0 || heads % kvHeads !== 0) throw ggufError(gguf.file, `${heads} attention heads cannot share ${kvHeads} key/value heads`);
  const headDim = integer(gguf, 'llama.attention.key_length', Math.floor(hidden / heads));
  if (integer(gguf, 'llama.attention.value_length', headDim) !== headDim) throw unsupported(gguf.file, 'key and value heads of different sizes are not supported');
  const ropeDims = integer(gguf, 'llama.rope.dimension_count', headDim);
  if (ropeDims !== headDim) throw unsupported(gguf.file, `RoPE on ${ropeDims} of ${headDim} head dimensions (partial rotary) is not supported`);
  const embedding = gguf.tensors.get('token_embd.weight');
  if (embedding === undefined || embedding.dims.length !== 2) throw ggufError(gguf.file, 'no 2-D token_embd.weight tensor');
  const scalingType = ggufValue(gguf, 'llama.rope.scaling.type');
  const linearScale = ggufValue(gguf, 'llama.rope.scale_linear'); // the key before llama.rope.scaling.*
  let ropeScaling: Record<string, unknown> | null = null;
  if (scalingType === 'linear' || (scalingType === undefined && linearScale !== undefined && linearScale !== 1)) {
    const factor = scalingType === 'linear' ? float(gguf, 'llama.rope.scaling.factor') : float(gguf, 'llama.rope.scale_linear');
    ropeScaling = { type: 'linear', rope_type: 'linear', factor };
  } else if (scalingType !== undefined && scalingType !== 'none') {
    throw unsupported(gguf.file, `llama.rope.scaling.type is ${JSON.stringify(scalingType)}; toolbench supports linear RoPE scaling only`);
  }
  const tokenId = (key: string) => (ggufValue(gguf, key) === undefined ? undefined : integer(gguf, key));
  const bos = tokenId('tokenizer.ggml.bos_token_id');
  const eos = tokenId('tokenizer.ggml.eos_token_id');
  const pad = tokenId('tokenizer.ggml.padding_token_id');
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    hidden_size: hidden,
    intermediate_size: integer(gguf, 'llama.feed_forward_length'),
    num_hidden_layers: integer(gguf, 'llama.block_count'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    rms_norm_eps: float(gguf, 'llama.attention.layer_norm_rms_epsilon'),
    rope_theta: float(gguf, 'llama.rope.freq_base', 10000),
    rope_scaling: ropeScaling,
    max_position_embeddings: integer(gguf, 'llama.context_length'),
    vocab_size: embedding.dims[1],
    tie_word_embeddings: !gguf.tensors.has('output.weight'),
    attention_bias: gguf.tensors.has('blk.0.attn_q.bias'),
    mlp_bias: false,
    torch_dtype: 'float32',
    ...(bos === undefined ? {} : { bos_token_id: bos }),
    ...(eos === undefined ? {} : { eos_token_id: eos }),
    ...(pad === undefined ? {} : { pad_token_id: pad }),
  };
}

/** The transformers name of a GGUF tensor, or undefined for a tensor LLaMA does not have. */
export function hfTensorName(name: string): string | undefined {
  const global = GLOBAL_TENSORS[name];
  if (global !== undefined) return global;
  const match = /^blk\.(\d+)\.(.+)$/.exec(name);
  const inner = match ? LAYER_TENSORS[match[2] as string] : undefined;
  return inner === undefined ? undefined : `model.layers.${match?.[1]}.${inner}`;
}

/**
 * Where each HF row of a q/k projection is stored: `rows` in heads of `rows / heads`, GGUF row
 * h*hd + 2j + t holding HF row h*hd + t*hd/2 + j. Result[hfRow] = ggufRow.
 */
export function llamaCppRowOrder(rows: number, heads: number): Uint32Array {
  const headDim = rows / heads;
  const half = headDim / 2;
  const order = new Uint32Array(rows);
  for (let head = 0; head < heads; head++) {
    for (let j = 0; j < half; j++) {
      for (let t = 0; t < 2; t++) order[head * headDim + t * half + j] = head * headDim + 2 * j + t;
    }
  }
  return order;
}

/** Undoes llama.cpp's q/k row permutation: `rows` of `columns` values, in heads of `rows / heads`. */
export function unpermuteRows(data: Float32Array, heads: number, columns: number): Float32Array {
  const order = llamaCppRowOrder(data.length / columns, heads);
  const out = new Float32Array(data.length);
  order.forEach((from, row) => out.set(data.subarray(from * columns, (from + 1) * columns), row * columns));
  return out;
}

function expectedShapes(config: Record<string, unknown>): (suffix: string) => number[] | undefined {
  const [hidden, inner, vocab, heads, kvHeads, headDim] = ['hidden_size', 'intermediate_size', 'vocab_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim'].map((key) => config[key] as number) as [number, number, number, number, number, number];
  const shapes: Record<string, number[]> = {
    'embed_tokens.weight': [vocab, hidden],
    'lm_head.weight': [vocab, hidden],
    'norm.weight': [hidden],
    'input_layernorm.weight': [hidden],
    'post_attention_layernorm.weight': [hidden],
    'q_proj.weight': [heads * headDim, hidden],
    'k_proj.weight': [kvHeads * headDim, hidden],
    'v_proj.weight': [kvHeads * headDim, hidden],
    'o_proj.weight': [hidden, heads * headDim],
    'q_proj.bias': [heads * headDim],
    'k_proj.bias': [kvHeads * headDim],
    'v_proj.bias': [kvHeads * headDim],
    'o_proj.bias': [hidden],
    'gate_proj.weight': [inner, hidden],
    'up_proj.weight': [inner, hidden],
    'down_proj.weight': [hidden, inner],
  };
  return (name) => shapes[name.split('.').slice(-2).join('.')];
}

/** A tensor of an opened checkpoint: its HF shape and where its bytes are, read on demand. */
export interface GgufLlamaTensor {
  readonly shape: readonly number[];
  readonly stored: GgufTensorInfo;
  /** For q_proj and k_proj: the heads whose rows llama.cpp interleaved (`llamaCppRowOrder`). */
  readonly interleavedHeads?: number;
}

export interface GgufLlamaFile {
  readonly gguf: GgufFile;
  readonly config: Record<string, unknown>;
  readonly tokenizer: GgufTokenizer;
  /** By transformers name. */
  readonly tensors: ReadonlyMap<string, GgufLlamaTensor>;
}

/**
 * Opens a LLaMA-family GGUF file as a Hugging Face-style checkpoint: config, tokenizer, and every
 * tensor checked (name, type, shape) but not read. Throws a ToolbenchError naming the file for
 * another architecture, a tensor type it cannot dequantise, a missing or misshapen tensor, or
 * unsupported RoPE variants.
 */
export function openGgufLlama(file: string): GgufLlamaFile {
  const gguf = readGguf(file);
  const config = ggufLlamaConfig(gguf);
  const tokenizer = buildGgufTokenizer(gguf);
  const layers = config.num_hidden_layers as number;
  const shapeOf = expectedShapes(config);
  const heads = config.num_attention_heads as number;
  const kvHeads = config.num_key_value_heads as number;
  const tensors = new Map<string, GgufLlamaTensor>();
  for (const tensor of gguf.tensors.values()) {
    const name = hfTensorName(tensor.name);
    const layer = /^blk\.(\d+)\./.exec(tensor.name)?.[1];
    if (tensor.name === 'rope_freqs.weight') throw unsupported(file, 'rope_freqs.weight (per-dimension RoPE factors, as in Llama 3.1) is not supported');
    if (name === undefined || (layer !== undefined && Number(layer) >= layers)) throw unsupported(file, `tensor ${tensor.name} is not part of a LLaMA model`);
    if (!canDequantize(tensor.type)) throw unsupported(file, `tensor ${tensor.name} is ${tensor.typeName}, which toolbench cannot dequantise (supported: ${DEQUANTIZABLE_TYPE_NAMES.join(', ')})`);
    const shape = [...tensor.dims].reverse();
    const expected = shapeOf(name);
    if (expected !== undefined && shape.join() !== expected.join()) {
      throw ggufError(file, `tensor ${tensor.name} has shape [${shape.join(', ')}] (as ${name}), expected [${expected.join(', ')}] from the metadata`);
    }
    const interleavedHeads = name.includes('.q_proj.') ? heads : name.includes('.k_proj.') ? kvHeads : undefined;
    tensors.set(name, { shape, stored: tensor, ...(interleavedHeads === undefined ? {} : { interleavedHeads }) });
  }
  const required = ['token_embd.weight', 'output_norm.weight'];
  for (let layer = 0; layer < layers; layer++) for (const suffix of REQUIRED_LAYER_TENSORS) required.push(`blk.${layer}.${suffix}`);
  for (const name of required) if (!gguf.tensors.has(name)) throw ggufError(file, `tensor ${name} is missing`);
  return { gguf, config, tokenizer, tensors };
}

/** A tensor's values as float32 in HF row order (dequantised from the file on each call). */
export function readGgufLlamaTensor(model: GgufLlamaFile, tensor: GgufLlamaTensor): Float32Array {
  const { stored, shape, interleavedHeads } = tensor;
  const data = dequantize(stored.type, readGgufTensorBytes(model.gguf, stored), stored.elementCount);
  return interleavedHeads === undefined ? data : unpermuteRows(data, interleavedHeads, shape[1] ?? 1); // a bias has one value a row
}

/**
 * A 2-D tensor in MatMulNBits form in HF row order (repacked from the file on each call), or
 * undefined when its type does not repack exactly (matmul-nbits.ts).
 */
export function readGgufLlamaQuantized(model: GgufLlamaFile, tensor: GgufLlamaTensor): QuantizedWeight | undefined {
  const { stored, shape, interleavedHeads } = tensor;
  if (shape.length !== 2 || !canRepackForMatMulNBits(stored.type)) return undefined;
  const [rows, columns] = shape as [number, number];
  const weight = repackForMatMulNBits(stored.type, readGgufTensorBytes(model.gguf, stored), rows, columns);
  return weight === undefined || interleavedHeads === undefined ? weight : reorderQuantizedRows(weight, llamaCppRowOrder(rows, interleavedHeads));
}

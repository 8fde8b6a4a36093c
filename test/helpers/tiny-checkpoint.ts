/**
 * Tiny random Hugging Face checkpoints, written from a seed in the real HF layout, for the model
 * runner's tests: a LlamaForCausalLM directory and a BertModel sentence-transformers directory,
 * each with config.json, safetensors weights (F32, F16 or BF16; optionally two shards with an
 * index) and a tokenizer.json. The weights come back as the values actually stored.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors, type NamedTensor, type StoredDtype } from './safetensors-writer.js';
import { bertWordPieceTokenizer, llamaSentencePieceTokenizer, LLAMA_TOKENIZER_BASE_SIZE } from './tiny-tokenizers.js';

export type { StoredDtype };

export interface TinyCheckpoint<Config> {
  readonly dir: string;
  readonly config: Config;
  /** Every stored tensor by its HF name, as float32 after rounding to the stored dtype. */
  readonly weights: ReadonlyMap<string, Float32Array>;
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** The safetensors file names written, in shard order. */
  readonly files: readonly string[];
}

// ---------- seeded normal numbers (mulberry32 + Box-Muller) ----------

export function normalRandom(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

/** model.safetensors, or model-0000N-of-00002.safetensors + model.safetensors.index.json. */
function writeWeights(dir: string, tensors: NamedTensor[], dtype: StoredDtype, shards: 1 | 2) {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const weights = new Map<string, Float32Array>();
  const shapes = new Map<string, readonly number[]>(sorted.map((tensor) => [tensor.name, [...tensor.shape]]));
  if (shards === 1) {
    const { bytes, stored } = encodeSafetensors(sorted, dtype);
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    return { weights: stored, shapes, files: ['model.safetensors'] };
  }
  const cut = Math.ceil(sorted.length / 2);
  const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  [sorted.slice(0, cut), sorted.slice(cut)].forEach((part, index) => {
    const file = files[index]!;
    const { bytes, stored, dataBytes } = encodeSafetensors(part, dtype);
    writeFileSync(join(dir, file), bytes);
    totalSize += dataBytes;
    for (const [name, values] of stored) {
      weights.set(name, values);
      weightMap[name] = file;
    }
  });
  writeJson(join(dir, 'model.safetensors.index.json'), { metadata: { total_size: totalSize }, weight_map: weightMap });
  return { weights, shapes, files };
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

const TORCH_DTYPE: Record<StoredDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

function tensorMaker(seed: number) {
  const random = normalRandom(seed);
  const tensors: NamedTensor[] = [];
  return {
    tensors,
    normal(name: string, shape: number[], scale: number, mean = 0) {
      const count = shape.reduce((product, size) => product * size, 1);
      tensors.push({ name, shape, data: Float32Array.from({ length: count }, () => mean + scale * random()) });
    },
  };
}

// ---------- LLaMA ----------

export interface LlamaConfigJson {
  readonly architectures: readonly ['LlamaForCausalLM'];
  readonly model_type: 'llama';
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly num_key_value_heads: number;
  readonly head_dim?: number;
  readonly hidden_act: 'silu';
  readonly rms_norm_eps: number;
  readonly rope_theta: number;
  readonly rope_scaling: { readonly type: 'linear'; readonly rope_type: 'linear'; readonly factor: number } | null;
  readonly max_position_embeddings: number;
  readonly tie_word_embeddings: boolean;
  readonly attention_bias: false;
  readonly mlp_bias: false;
  readonly pretraining_tp: 1;
  readonly initializer_range: number;
  readonly use_cache: true;
  readonly torch_dtype: string;
  readonly bos_token_id: number;
  readonly eos_token_id: number;
}

export interface TinyLlamaOptions {
  readonly seed?: number;
  /** At least the tokenizer's base size (3 specials, 256 bytes, the basic characters). */
  readonly vocabSize?: number;
  readonly hiddenSize?: number;
  readonly intermediateSize?: number;
  readonly numHiddenLayers?: number;
  readonly numAttentionHeads?: number;
  readonly numKeyValueHeads?: number;
  /** Written to config.json only when given (default hidden_size / num_attention_heads). */
  readonly headDim?: number;
  readonly rmsNormEps?: number;
  readonly ropeTheta?: number;
  readonly maxPositionEmbeddings?: number;
  readonly tieWordEmbeddings?: boolean;
  /** Linear RoPE scaling (`rope_scaling: {type: 'linear', factor}`); none when left out. */
  readonly ropeScalingFactor?: number;
  readonly dtype?: StoredDtype;
  readonly shards?: 1 | 2;
}

export function writeTinyLlama(dir: string, options: TinyLlamaOptions = {}): TinyCheckpoint<LlamaConfigJson> {
  const hidden = options.hiddenSize ?? 32;
  const heads = options.numAttentionHeads ?? 4;
  const kvHeads = options.numKeyValueHeads ?? 2;
  const headDim = options.headDim ?? hidden / heads;
  const dtype = options.dtype ?? 'F32';
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new Error(`head dimension ${headDim} must be an even integer`);
  if (heads % kvHeads !== 0) throw new Error(`${heads} attention heads do not share ${kvHeads} key/value heads evenly`);
  const config: LlamaConfigJson = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: options.vocabSize ?? 384,
    hidden_size: hidden,
    intermediate_size: options.intermediateSize ?? 64,
    num_hidden_layers: options.numHiddenLayers ?? 2,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    ...(options.headDim === undefined ? {} : { head_dim: options.headDim }),
    hidden_act: 'silu',
    rms_norm_eps: options.rmsNormEps ?? 1e-5,
    rope_theta: options.ropeTheta ?? 10000,
    rope_scaling:
      options.ropeScalingFactor === undefined ? null : { type: 'linear', rope_type: 'linear', factor: options.ropeScalingFactor },
    max_position_embeddings: options.maxPositionEmbeddings ?? 128,
    tie_word_embeddings: options.tieWordEmbeddings ?? false,
    attention_bias: false,
    mlp_bias: false,
    pretraining_tp: 1,
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: TORCH_DTYPE[dtype],
    bos_token_id: 1,
    eos_token_id: 2,
  };
  if (config.vocab_size < LLAMA_TOKENIZER_BASE_SIZE) throw new Error(`vocab_size must be at least ${LLAMA_TOKENIZER_BASE_SIZE}`);

  const { tensors, normal } = tensorMaker(options.seed ?? 1);
  const { vocab_size: vocab, intermediate_size: intermediate } = config;
  normal('model.embed_tokens.weight', [vocab, hidden], 0.5);
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const prefix = `model.layers.${layer}.`;
    normal(`${prefix}input_layernorm.weight`, [hidden], 0.1, 1);
    normal(`${prefix}self_attn.q_proj.weight`, [heads * headDim, hidden], 0.2);
    normal(`${prefix}self_attn.k_proj.weight`, [kvHeads * headDim, hidden], 0.2);
    normal(`${prefix}self_attn.v_proj.weight`, [kvHeads * headDim, hidden], 0.2);
    normal(`${prefix}self_attn.o_proj.weight`, [hidden, heads * headDim], 0.2);
    normal(`${prefix}post_attention_layernorm.weight`, [hidden], 0.1, 1);
    normal(`${prefix}mlp.gate_proj.weight`, [intermediate, hidden], 0.2);
    normal(`${prefix}mlp.up_proj.weight`, [intermediate, hidden], 0.2);
    normal(`${prefix}mlp.down_proj.weight`, [hidden, intermediate], 0.2);
  }
  normal('model.norm.weight', [hidden], 0.1, 1);
  if (!config.tie_word_embeddings) normal('lm_head.weight', [vocab, hidden], 0.3);

  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'config.json'), config);
  writeJson(join(dir, 'generation_config.json'), { bos_token_id: 1, eos_token_id: 2 });
  const { tokenizer, tokenizerConfig } = llamaSentencePieceTokenizer(vocab, config.max_position_embeddings);
  writeJson(join(dir, 'tokenizer.json'), tokenizer);
  writeJson(join(dir, 'tokenizer_config.json'), tokenizerConfig);
  writeJson(join(dir, 'special_tokens_map.json'), { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' });
  return { dir, config, ...writeWeights(dir, tensors, dtype, options.shards ?? 1) };
}

// ---------- BERT (sentence-transformers) ----------

export interface BertConfigJson {
  readonly architectures: readonly ['BertModel'];
  readonly model_type: 'bert';
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly intermediate_size: number;
  readonly max_position_embeddings: number;
  readonly type_vocab_size: number;
  readonly layer_norm_eps: number;
  readonly hidden_act: 'gelu';
  readonly hidden_dropout_prob: number;
  readonly attention_probs_dropout_prob: number;
  readonly initializer_range: number;
  readonly pad_token_id: 0;
  readonly position_embedding_type: 'absolute';
  readonly torch_dtype: string;
}

export interface TinyBertOptions {
  readonly seed?: number;
  readonly vocabSize?: number;
  readonly hiddenSize?: number;
  readonly numHiddenLayers?: number;
  readonly numAttentionHeads?: number;
  readonly intermediateSize?: number;
  readonly maxPositionEmbeddings?: number;
  readonly typeVocabSize?: number;
  readonly layerNormEps?: number;
  readonly dtype?: StoredDtype;
  readonly shards?: 1 | 2;
  /** Store the encoder under `bert.` (as BertForMaskedLM / BertForPreTraining checkpoints do). */
  readonly bertPrefix?: boolean;
  /** Store pooler.dense.{weight,bias} too (unused by mean pooling). */
  readonly pooler?: boolean;
}

export function writeTinyBert(dir: string, options: TinyBertOptions = {}): TinyCheckpoint<BertConfigJson> {
  const hidden = options.hiddenSize ?? 32;
  const dtype = options.dtype ?? 'F32';
  const config: BertConfigJson = {
    architectures: ['BertModel'],
    model_type: 'bert',
    vocab_size: options.vocabSize ?? 256,
    hidden_size: hidden,
    num_hidden_layers: options.numHiddenLayers ?? 2,
    num_attention_heads: options.numAttentionHeads ?? 4,
    intermediate_size: options.intermediateSize ?? 64,
    max_position_embeddings: options.maxPositionEmbeddings ?? 64,
    type_vocab_size: options.typeVocabSize ?? 2,
    layer_norm_eps: options.layerNormEps ?? 1e-12,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    initializer_range: 0.02,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    torch_dtype: TORCH_DTYPE[dtype],
  };
  if (hidden % config.num_attention_heads !== 0) throw new Error(`hidden size ${hidden} is not a multiple of the head count`);
  const { tokenizer, tokenizerConfig } = bertWordPieceTokenizer(config.vocab_size, config.max_position_embeddings);

  const { tensors, normal } = tensorMaker(options.seed ?? 1);
  const root = options.bertPrefix === true ? 'bert.' : '';
  const layerNorm = (name: string) => {
    normal(`${name}.weight`, [hidden], 0.1, 1);
    normal(`${name}.bias`, [hidden], 0.1);
  };
  const linear = (name: string, out: number, inputs: number) => {
    normal(`${name}.weight`, [out, inputs], 0.2);
    normal(`${name}.bias`, [out], 0.05);
  };
  normal(`${root}embeddings.word_embeddings.weight`, [config.vocab_size, hidden], 0.5);
  normal(`${root}embeddings.position_embeddings.weight`, [config.max_position_embeddings, hidden], 0.5);
  normal(`${root}embeddings.token_type_embeddings.weight`, [config.type_vocab_size, hidden], 0.5);
  layerNorm(`${root}embeddings.LayerNorm`);
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const prefix = `${root}encoder.layer.${layer}.`;
    for (const part of ['query', 'key', 'value']) linear(`${prefix}attention.self.${part}`, hidden, hidden);
    linear(`${prefix}attention.output.dense`, hidden, hidden);
    layerNorm(`${prefix}attention.output.LayerNorm`);
    linear(`${prefix}intermediate.dense`, config.intermediate_size, hidden);
    linear(`${prefix}output.dense`, hidden, config.intermediate_size);
    layerNorm(`${prefix}output.LayerNorm`);
  }
  if (options.pooler === true) linear(`${root}pooler.dense`, hidden, hidden);

  mkdirSync(join(dir, '1_Pooling'), { recursive: true });
  mkdirSync(join(dir, '2_Normalize'), { recursive: true });
  writeJson(join(dir, 'config.json'), config);
  writeJson(join(dir, 'tokenizer.json'), tokenizer);
  writeJson(join(dir, 'tokenizer_config.json'), tokenizerConfig);
  writeJson(join(dir, 'special_tokens_map.json'), {
    cls_token: '[CLS]',
    mask_token: '[MASK]',
    pad_token: '[PAD]',
    sep_token: '[SEP]',
    unk_token: '[UNK]',
  });
  writeJson(join(dir, 'modules.json'), [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ]);
  writeJson(join(dir, '1_Pooling', 'config.json'), {
    word_embedding_dimension: hidden,
    pooling_mode_cls_token: false,
    pooling_mode_mean_tokens: true,
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
  });
  writeJson(join(dir, 'sentence_bert_config.json'), { max_seq_length: config.max_position_embeddings, do_lower_case: false });
  return { dir, config, ...writeWeights(dir, tensors, dtype, options.shards ?? 1) };
}

/**
 * The parts of a Hugging Face `config.json` the runner uses, checked and named: a LLaMA-family
 * decoder or a BERT encoder. Anything else is refused with the architecture named.
 */
import { ToolbenchError } from '../util/errors.js';

export interface RopeScaling {
  /** linear: positions divided by `factor`; llama3: Llama 3.1's frequency-dependent scaling. */
  readonly type: 'linear' | 'llama3';
  readonly factor: number;
  readonly lowFreqFactor?: number;
  readonly highFreqFactor?: number;
  readonly originalMaxPositions?: number;
}

export interface LlamaConfig {
  readonly kind: 'llama';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling?: RopeScaling;
  readonly maxPositions: number;
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId?: number;
  readonly eosTokenIds: readonly number[];
}

export interface BertConfig {
  readonly kind: 'bert';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
}

export type ModelConfig = LlamaConfig | BertConfig;

const LLAMA_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM'];
const BERT_ARCHITECTURES = ['BertModel', 'BertForMaskedLM', 'BertForPreTraining', 'BertForSequenceClassification'];

export function parseModelConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw configError(file, '', 'a JSON object');
  const config = json as Record<string, unknown>;
  const architectures = Array.isArray(config['architectures']) ? (config['architectures'] as unknown[]) : [];
  const modelType = config['model_type'];
  const number = (key: string, fallback?: number): number => {
    const value = config[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw configError(file, key, 'a number', value);
    return value;
  };
  if (architectures.some((name) => LLAMA_ARCHITECTURES.includes(name as string)) || modelType === 'llama' || modelType === 'mistral') {
    const hiddenSize = number('hidden_size');
    const heads = number('num_attention_heads');
    const kvHeads = number('num_key_value_heads', heads);
    if (heads % kvHeads !== 0) throw configError(file, 'num_key_value_heads', `a divisor of num_attention_heads (${heads})`, kvHeads);
    const eos = config['eos_token_id'];
    const eosTokenIds = Array.isArray(eos) ? eos.filter((id): id is number => typeof id === 'number') : typeof eos === 'number' ? [eos] : [];
    const bos = config['bos_token_id'];
    const ropeScaling = parseRopeScaling(config['rope_scaling'], file);
    return {
      kind: 'llama',
      vocabSize: number('vocab_size'),
      hiddenSize,
      intermediateSize: number('intermediate_size'),
      layers: number('num_hidden_layers'),
      heads,
      kvHeads,
      headDim: number('head_dim', hiddenSize / heads),
      rmsNormEps: number('rms_norm_eps', 1e-6),
      ropeTheta: number('rope_theta', 10000),
      ...(ropeScaling !== undefined ? { ropeScaling } : {}),
      maxPositions: number('max_position_embeddings', 2048),
      tieWordEmbeddings: config['tie_word_embeddings'] === true,
      ...(typeof bos === 'number' ? { bosTokenId: bos } : {}),
      eosTokenIds,
    };
  }
  if (architectures.some((name) => BERT_ARCHITECTURES.includes(name as string)) || modelType === 'bert') {
    const act = config['hidden_act'] ?? 'gelu';
    if (act !== 'gelu') throw configError(file, 'hidden_act', '"gelu" (the BERT activation the runner implements)', act);
    const embeddingType = config['position_embedding_type'] ?? 'absolute';
    if (embeddingType !== 'absolute') throw configError(file, 'position_embedding_type', '"absolute"', embeddingType);
    return {
      kind: 'bert',
      vocabSize: number('vocab_size'),
      hiddenSize: number('hidden_size'),
      intermediateSize: number('intermediate_size'),
      layers: number('num_hidden_layers'),
      heads: number('num_attention_heads'),
      maxPositions: number('max_position_embeddings', 512),
      typeVocabSize: number('type_vocab_size', 2),
      layerNormEps: number('layer_norm_eps', 1e-12),
    };
  }
  const found = architectures.length > 0 ? architectures.join(', ') : String(modelType ?? 'none');
  throw new ToolbenchError(
    'model.unsupported',
    2,
    `${file}: architecture ${found} is not supported: the runner runs LLaMA-family decoders (${LLAMA_ARCHITECTURES.join(', ')}) and BERT encoders (${BERT_ARCHITECTURES.join(', ')})`,
  );
}

function parseRopeScaling(value: unknown, file: string): RopeScaling | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw configError(file, 'rope_scaling', 'an object or null', value);
  const scaling = value as Record<string, unknown>;
  const type = scaling['rope_type'] ?? scaling['type'];
  const factor = scaling['factor'];
  if (typeof factor !== 'number' || !(factor > 0)) throw configError(file, 'rope_scaling.factor', 'a positive number', factor);
  if (type === 'linear') return { type, factor };
  if (type === 'llama3') {
    const field = (key: string): number => {
      const number = scaling[key];
      if (typeof number !== 'number') throw configError(file, `rope_scaling.${key}`, 'a number', number);
      return number;
    };
    return { type, factor, lowFreqFactor: field('low_freq_factor'), highFreqFactor: field('high_freq_factor'), originalMaxPositions: field('original_max_position_embeddings') };
  }
  throw configError(file, 'rope_scaling.type', '"linear" or "llama3" (the scalings the runner implements)', type);
}

function configError(file: string, key: string, expected: string, got?: unknown): ToolbenchError {
  const where = key === '' ? '' : `${key}: `;
  const found = got === undefined ? '' : `, got ${JSON.stringify(got)}`;
  return new ToolbenchError('model.invalid', 2, `${file}: ${where}expected ${expected}${found}`);
}

/**
 * RoPE inverse frequencies (HF's `_compute_*_parameters`): theta^(-2i/d), adjusted by llama3
 * scaling; linear scaling divides positions instead and is applied by the caller.
 */
export function ropeInverseFrequencies(config: LlamaConfig): Float64Array {
  const half = config.headDim / 2;
  const frequencies = Float64Array.from({ length: half }, (_, index) => 1 / config.ropeTheta ** ((2 * index) / config.headDim));
  const scaling = config.ropeScaling;
  if (scaling?.type !== 'llama3') return frequencies;
  const low = scaling.lowFreqFactor as number;
  const high = scaling.highFreqFactor as number;
  const original = scaling.originalMaxPositions as number;
  const lowWavelength = original / low;
  const highWavelength = original / high;
  return frequencies.map((frequency) => {
    const wavelength = (2 * Math.PI) / frequency;
    if (wavelength < highWavelength) return frequency;
    if (wavelength > lowWavelength) return frequency / scaling.factor;
    const smooth = (original / wavelength - low) / (high - low);
    return (1 - smooth) * (frequency / scaling.factor) + smooth * frequency;
  });
}

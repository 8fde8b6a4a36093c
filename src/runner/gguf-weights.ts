/**
 * A GGUF LLaMA-family file as the runner's config and weights: tensors are read from the file
 * when the graph builder asks, dequantised to float32 by `read`, or repacked for MatMulNBits by
 * `quantized` for the linear layers, so that a graph on packed weights never makes float copies.
 */
import { openGgufLlama, readGgufLlamaQuantized, readGgufLlamaTensor, type GgufLlamaTensor } from './gguf-checkpoint.js';
import type { LoadedWeights } from './causal-lm.js';
import { parseModelConfig, type LlamaConfig } from './model-config.js';
import type { TokenizerFiles } from './tokenizer.js';
import { missingWeight, type WeightSource } from './weights.js';

export interface GgufLlama extends LoadedWeights {
  readonly tokenizer: TokenizerFiles;
}

/**
 * The weights a graph multiplies by: the projections and an untied output head. The embeddings
 * stay float (they are gathered, not multiplied), and a tied head shares them.
 */
const isLinearWeight = (name: string): boolean => name.endsWith('_proj.weight') || name === 'lm_head.weight';

export function loadGgufLlamaWeights(file: string): GgufLlama {
  const model = openGgufLlama(file);
  const config = parseModelConfig(model.config, file) as LlamaConfig;
  const tensorOf = (name: string): GgufLlamaTensor => {
    const tensor = model.tensors.get(name);
    if (tensor === undefined) throw missingWeight(file, name);
    return tensor;
  };
  const weights: WeightSource = {
    origin: file,
    has: (name) => model.tensors.has(name),
    read: (name) => {
      const tensor = tensorOf(name);
      return { shape: tensor.shape, data: readGgufLlamaTensor(model, tensor) };
    },
    quantized: (name) => (isLinearWeight(name) ? readGgufLlamaQuantized(model, tensorOf(name)) : undefined),
  };
  // judged by a projection: some files keep the embeddings in F32 beside 4-bit layers
  const type = model.tensors.get('model.layers.0.self_attn.q_proj.weight')?.stored.typeName;
  const storage = type === 'F32' ? 'float32' : type === 'F16' ? 'float16' : type === 'BF16' ? 'bfloat16' : 'quantized';
  return { config, weights, tokenizer: model.tokenizer, storage };
}

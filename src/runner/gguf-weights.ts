/** A GGUF LLaMA-family file as the runner's config and weights (dequantised to float32). */
import { loadGgufLlama } from './gguf-checkpoint.js';
import type { LoadedWeights } from './causal-lm.js';
import { parseModelConfig, type LlamaConfig } from './model-config.js';
import type { TokenizerFiles } from './tokenizer.js';
import { memoryWeights } from './weights.js';

export interface GgufLlama extends LoadedWeights {
  readonly tokenizer: TokenizerFiles;
}

export function loadGgufLlamaWeights(file: string): GgufLlama {
  const loaded = loadGgufLlama(file);
  const config = parseModelConfig(loaded.config, file) as LlamaConfig;
  return { config, weights: memoryWeights(file, loaded.tensors), tokenizer: loaded.tokenizer };
}

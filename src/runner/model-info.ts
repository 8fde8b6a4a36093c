/**
 * What a checkpoint is, from its headers only (no weights read, no runtime loaded): format,
 * architecture, sizes, parameter count and bytes by stored type, tokenizer files.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findCheckpoint, readModelConfig } from './checkpoint.js';
import { ggufValue, readGguf } from './gguf.js';
import { ggufLlamaConfig } from './gguf-checkpoint.js';
import { parseModelConfig, type ModelConfig } from './model-config.js';
import { readCheckpointTensors } from './safetensors.js';

export interface ModelDescription {
  readonly path: string;
  readonly format: 'safetensors' | 'onnx' | 'gguf';
  readonly architecture: string;
  readonly config: ModelConfig;
  readonly parameters?: number;
  /** Bytes of weights by stored type (F32, F16, BF16, Q4_1, ...). */
  readonly weight_bytes?: Readonly<Record<string, number>>;
  readonly tensors?: number;
  readonly tokenizer: string;
  readonly name?: string;
}

export function describeModel(path: string): ModelDescription {
  const layout = findCheckpoint(path);
  if (layout.format === 'gguf') {
    const gguf = readGguf(layout.file);
    const config = parseModelConfig(ggufLlamaConfig(gguf), layout.file);
    const bytes: Record<string, number> = {};
    let parameters = 0;
    for (const tensor of gguf.tensors.values()) {
      bytes[tensor.typeName] = (bytes[tensor.typeName] ?? 0) + tensor.byteLength;
      parameters += tensor.elementCount;
    }
    const name = ggufValue(gguf, 'general.name');
    return {
      path,
      format: 'gguf',
      architecture: String(ggufValue(gguf, 'general.architecture')),
      config,
      parameters,
      weight_bytes: bytes,
      tensors: gguf.tensors.size,
      tokenizer: `GGUF metadata (${String(ggufValue(gguf, 'tokenizer.ggml.model'))})`,
      ...(typeof name === 'string' ? { name } : {}),
    };
  }
  const config = readModelConfig(layout.configFile);
  const architecture = config.kind === 'llama' ? 'LlamaForCausalLM' : 'BertModel';
  const tokenizer = existsSync(join(layout.dir, 'tokenizer.json')) ? 'tokenizer.json' : 'none (tokenizer.json is missing)';
  if (layout.format === 'onnx') return { path, format: 'onnx', architecture, config, weight_bytes: { onnx: statSync(layout.modelFile).size }, tokenizer };
  const tensors = readCheckpointTensors(layout.dir);
  const bytes: Record<string, number> = {};
  let parameters = 0;
  for (const tensor of tensors.values()) {
    bytes[tensor.dtype] = (bytes[tensor.dtype] ?? 0) + tensor.byteLength;
    parameters += tensor.shape.reduce((product, dim) => product * dim, 1);
  }
  return { path, format: 'safetensors', architecture, config, parameters, weight_bytes: bytes, tensors: tensors.size, tokenizer };
}

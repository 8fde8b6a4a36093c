/**
 * Where a graph builder gets its weights: by Hugging Face tensor name, as float32 values with HF
 * shapes (`[out, in]` for linear layers). Safetensors checkpoints, GGUF files and LoRA-merged
 * weights all present themselves this way; a source of block-quantised weights (GGUF) also
 * offers its linear weights in onnxruntime's MatMulNBits layout, and a LoRA source can offer a
 * linear weight's adapter as a low-rank side branch instead of merging it (lora.ts). A
 * safetensors source also says where each tensor's bytes lie, so that a graph of the same float
 * type references them in place (`addWeight`) and they are never read into JavaScript.
 */
import { ToolbenchError } from '../util/errors.js';
import type { GraphBuilder } from './onnx-graph.js';
import { readTensorFloat32, type StoredTensor } from './safetensors.js';

export interface WeightValues {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * A linear weight as the inputs of com.microsoft MatMulNBits (y = A @ dequant(B)^T), where value
 * (n, k) = (q - zeroPoints[b]) * scales[b] for block b = n * K/blockSize + floor(k / blockSize).
 */
export interface QuantizedWeight {
  readonly bits: 4 | 8;
  /** A power of two, 16 or more. */
  readonly blockSize: number;
  /** N: output features (the HF [out, in] weight's rows). */
  readonly rows: number;
  /** K: input features. */
  readonly columns: number;
  /** MatMulNBits B, [N, K/blockSize, blockSize * bits/8]: 4-bit quants two a byte, low nibble first. */
  readonly data: Uint8Array;
  /** [N * K/blockSize]. */
  readonly scales: Float32Array;
  /** [N * K/blockSize], float zero points. */
  readonly zeroPoints: Float32Array;
}

/** A linear layer's LoRA side branch: y = x @ W^T + (x @ A^T) @ B^T. */
export interface LoraBranch {
  /** A, [rank, in]. */
  readonly a: Float32Array;
  /** B, [out, rank], already times the adapter's scale. */
  readonly b: Float32Array;
  readonly rank: number;
}

export interface WeightSource {
  /** Where the weights come from, for messages. */
  readonly origin: string;
  has(name: string): boolean;
  /** The float32 values (a GGUF source dequantises them anew on each call: callers keep what they need). */
  read(name: string): WeightValues;
  /** The weight's own quants repacked for MatMulNBits (not re-quantised), or undefined when only `read` has it. */
  quantized?(name: string): QuantizedWeight | undefined;
  /** A side branch to add to the linear layer of `name` (whose `read` and `quantized` leave it out), or undefined. */
  lora?(name: string): LoraBranch | undefined;
  /** Where a file holds the weight's bytes as `read` gives its values (in the file's dtype), or undefined when only `read` has it. */
  stored?(name: string): StoredTensor | undefined;
}

export function safetensorsWeights(origin: string, tensors: ReadonlyMap<string, StoredTensor>): WeightSource {
  return { ...lookupWeights(origin, tensors, (tensor) => ({ shape: tensor.shape, data: readTensorFloat32(tensor) })), stored: (name) => tensors.get(name) };
}

export function memoryWeights(origin: string, tensors: ReadonlyMap<string, WeightValues>): WeightSource {
  return lookupWeights(origin, tensors, (tensor) => tensor);
}

function lookupWeights<T>(origin: string, tensors: ReadonlyMap<string, T>, values: (tensor: T) => WeightValues): WeightSource {
  return {
    origin,
    has: (name) => tensors.has(name),
    read(name) {
      const tensor = tensors.get(name);
      if (tensor === undefined) throw missingWeight(origin, name);
      return values(tensor);
    },
  };
}

export function missingWeight(origin: string, name: string): ToolbenchError {
  return new ToolbenchError('model.invalid', 2, `${origin}: the weight ${name} is missing`);
}

/** Reads `name`, checking its shape against what the config implies. */
export function readChecked(source: WeightSource, name: string, shape: readonly number[]): Float32Array {
  const weight = source.read(name);
  checkShape(source, name, weight.shape, shape);
  return weight.data;
}

/**
 * `name` as a weight of the graph, its shape checked: referenced in place when its file stores it
 * in the graph's float type (F32 for float32 graphs, F16 for float16), else read and converted.
 */
export function addWeight(g: GraphBuilder, source: WeightSource, name: string, shape: readonly number[]): string {
  const stored = source.stored?.(name);
  if (stored !== undefined && stored.dtype === (g.floatType === 'float16' ? 'F16' : 'F32')) {
    checkShape(source, name, stored.shape, shape);
    const referenced = g.fileWeight(name, shape, stored);
    if (referenced !== undefined) return referenced;
  }
  return g.weight(name, shape, readChecked(source, name, shape));
}

function checkShape(source: WeightSource, name: string, actual: readonly number[], expected: readonly number[]): void {
  if (actual.length !== expected.length || actual.some((dim, index) => dim !== expected[index])) {
    throw new ToolbenchError('model.invalid', 2, `${source.origin}: ${name} has shape [${actual.join(', ')}], the config implies [${expected.join(', ')}]`);
  }
}

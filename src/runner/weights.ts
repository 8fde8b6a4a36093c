/**
 * Where a graph builder gets its weights: by Hugging Face tensor name, as float32 values with HF
 * shapes (`[out, in]` for linear layers). Safetensors checkpoints, GGUF files and LoRA-merged
 * weights all present themselves this way.
 */
import { ToolbenchError } from '../util/errors.js';
import { readTensorFloat32, type StoredTensor } from './safetensors.js';

export interface WeightValues {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface WeightSource {
  /** Where the weights come from, for messages. */
  readonly origin: string;
  has(name: string): boolean;
  read(name: string): WeightValues;
}

export function safetensorsWeights(origin: string, tensors: ReadonlyMap<string, StoredTensor>): WeightSource {
  return lookupWeights(origin, tensors, (tensor) => ({ shape: tensor.shape, data: readTensorFloat32(tensor) }));
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
  if (weight.shape.length !== shape.length || weight.shape.some((dim, index) => dim !== shape[index])) {
    throw new ToolbenchError('model.invalid', 2, `${source.origin}: ${name} has shape [${weight.shape.join(', ')}], the config implies [${shape.join(', ')}]`);
  }
  return weight.data;
}

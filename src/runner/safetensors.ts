/**
 * Reads Hugging Face `.safetensors` checkpoints in place: the header of each file (8-byte length,
 * JSON), and each tensor's file, absolute byte offset and type, so that weights are read one
 * tensor at a time and never a whole file. A sharded checkpoint is found through
 * `model.safetensors.index.json`.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ToolbenchError } from '../util/errors.js';
import { bfloat16ToFloat32, halfToFloat32 } from './float16.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface StoredTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly file: string;
  /** Absolute offset of the tensor's bytes in `file`. */
  readonly offset: number;
  readonly byteLength: number;
}

function checkpointError(file: string, message: string, cause?: unknown): ToolbenchError {
  return new ToolbenchError('model.invalid', 2, `${file}: ${message}`, { cause });
}

/** The tensors of one `.safetensors` file, by name (the `__metadata__` entry left out). */
export function readSafetensorsHeader(file: string): Map<string, StoredTensor> {
  let descriptor: number;
  try {
    descriptor = openSync(file, 'r');
  } catch (error) {
    throw checkpointError(file, `cannot read: ${(error as Error).message}`, error);
  }
  try {
    const size = statSync(file).size;
    const prefix = Buffer.alloc(8);
    if (size < 8 || readSync(descriptor, prefix, 0, 8, 0) !== 8) throw checkpointError(file, 'not a safetensors file (shorter than its 8-byte header length)');
    const headerLength = Number(prefix.readBigUInt64LE(0));
    if (headerLength > size - 8 || headerLength > 100 * 2 ** 20) throw checkpointError(file, `not a safetensors file (header length ${headerLength} does not fit the file)`);
    const headerBytes = Buffer.alloc(headerLength);
    readSync(descriptor, headerBytes, 0, headerLength, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
    } catch (error) {
      throw checkpointError(file, 'not a safetensors file (its header is not JSON)', error);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw checkpointError(file, 'the safetensors header is not a JSON object');
    const dataStart = 8 + headerLength;
    const tensors = new Map<string, StoredTensor>();
    for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = entry.dtype as SafetensorsDtype;
      const offsets = entry.data_offsets as [number, number] | undefined;
      const shape = entry.shape as number[] | undefined;
      if (!(typeof dtype === 'string' && dtype in DTYPE_BYTES) || !Array.isArray(shape) || !Array.isArray(offsets) || offsets.length !== 2) {
        throw checkpointError(file, `tensor ${name}: expected {dtype (one of ${Object.keys(DTYPE_BYTES).join(', ')}), shape, data_offsets}, got ${JSON.stringify(value).slice(0, 120)}`);
      }
      const byteLength = offsets[1] - offsets[0];
      const count = shape.reduce((product, dim) => product * dim, 1);
      if (byteLength !== count * DTYPE_BYTES[dtype] || dataStart + offsets[1] > size) {
        throw checkpointError(file, `tensor ${name}: its data_offsets ${JSON.stringify(offsets)} do not fit its shape ${JSON.stringify(shape)} ${dtype} or the file`);
      }
      tensors.set(name, { name, dtype, shape, file, offset: dataStart + offsets[0], byteLength });
    }
    return tensors;
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Every tensor of a checkpoint folder: the files named by `model.safetensors.index.json` when
 * there is one, else every `*.safetensors` file in it.
 */
export function readCheckpointTensors(dir: string): Map<string, StoredTensor> {
  const index = join(dir, 'model.safetensors.index.json');
  let files: string[];
  if (existsSync(index)) {
    let weightMap: unknown;
    try {
      weightMap = (JSON.parse(readFileText(index)) as { weight_map?: unknown }).weight_map;
    } catch (error) {
      throw checkpointError(index, 'not valid JSON', error);
    }
    if (typeof weightMap !== 'object' || weightMap === null) throw checkpointError(index, 'expected a "weight_map" object');
    files = [...new Set(Object.values(weightMap as Record<string, string>))].sort();
  } else {
    files = readdirSync(dir)
      .filter((name) => name.endsWith('.safetensors'))
      .sort();
  }
  if (files.length === 0) throw new ToolbenchError('model.invalid', 2, `${dir}: no *.safetensors weights found (a Hugging Face checkpoint folder has model.safetensors or model.safetensors.index.json)`);
  const tensors = new Map<string, StoredTensor>();
  for (const name of files) for (const [key, tensor] of readSafetensorsHeader(join(dir, name))) tensors.set(key, tensor);
  return tensors;
}

function readFileText(file: string): string {
  const descriptor = openSync(file, 'r');
  try {
    const bytes = Buffer.alloc(statSync(file).size);
    readSync(descriptor, bytes, 0, bytes.length, 0);
    return bytes.toString('utf8');
  } finally {
    closeSync(descriptor);
  }
}

/** The tensor's bytes as stored, in memory of their own (offset 0, so any typed view fits). */
export function readTensorBytes(tensor: Pick<StoredTensor, 'name' | 'file' | 'offset' | 'byteLength'>): Uint8Array {
  const bytes = new Uint8Array(tensor.byteLength);
  const descriptor = openSync(tensor.file, 'r');
  try {
    for (let done = 0; done < bytes.length; ) {
      const read = readSync(descriptor, bytes, done, bytes.length - done, tensor.offset + done);
      if (read === 0) throw checkpointError(tensor.file, `tensor ${tensor.name}: the file ends before its data`);
      done += read;
    }
  } finally {
    closeSync(descriptor);
  }
  return bytes;
}

/** The tensor's values as float32, from F32, F16, BF16 or F64. */
export function readTensorFloat32(tensor: StoredTensor): Float32Array {
  const aligned = readTensorBytes(tensor);
  switch (tensor.dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer);
    case 'F16':
      return halfToFloat32(new Uint16Array(aligned.buffer));
    case 'BF16':
      return bfloat16ToFloat32(new Uint16Array(aligned.buffer));
    case 'F64':
      return Float32Array.from(new Float64Array(aligned.buffer));
    default:
      throw checkpointError(tensor.file, `tensor ${tensor.name}: ${tensor.dtype} weights cannot be used as floating-point values`);
  }
}

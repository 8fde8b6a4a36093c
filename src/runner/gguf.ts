/**
 * Reads GGUF files (llama.cpp's checkpoint format, versions 2 and 3, little-endian) in place:
 * the header, every metadata key/value, and each tensor's type, dimensions and absolute byte
 * offset, so that weights are read one tensor at a time and never a whole file.
 *
 * Layout (ggml docs/gguf.md): magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
 * the metadata (string key, u32 value type, value), the tensor infos (string name, u32 n_dims,
 * u64 dims[n_dims] innermost first, u32 ggml type, u64 offset from the data section), padding to
 * `general.alignment` (default 32), then the tensor data.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ToolbenchError } from '../util/errors.js';

/** Metadata value types, numbered as in the GGUF spec (`gguf_metadata_value_type`). */
export const GGUF_VALUE_TYPES = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64', 'FLOAT64'] as const;
export type GgufValueTypeName = (typeof GGUF_VALUE_TYPES)[number];

/** UINT64 and INT64 read as bigint; every other number as number. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufMetadataEntry {
  readonly type: GgufValueTypeName;
  /** The element type of an ARRAY (ARRAY itself for nested arrays). */
  readonly elementType?: GgufValueTypeName;
  readonly value: GgufValue;
}

/** ggml tensor types: block size in elements and bytes per block (ggml.c `type_traits`). */
export const GGML_TYPES: Readonly<Record<number, { readonly name: string; readonly blockSize: number; readonly typeSize: number }>> = {
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  10: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  16: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  17: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  18: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  19: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  20: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  21: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  22: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  23: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  24: { name: 'I8', blockSize: 1, typeSize: 1 },
  25: { name: 'I16', blockSize: 1, typeSize: 2 },
  26: { name: 'I32', blockSize: 1, typeSize: 4 },
  27: { name: 'I64', blockSize: 1, typeSize: 8 },
  28: { name: 'F64', blockSize: 1, typeSize: 8 },
  29: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  30: { name: 'BF16', blockSize: 1, typeSize: 2 },
  34: { name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  35: { name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  39: { name: 'MXFP4', blockSize: 32, typeSize: 17 },
  40: { name: 'NVFP4', blockSize: 64, typeSize: 36 },
  41: { name: 'Q1_0', blockSize: 128, typeSize: 18 },
};

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension, the reverse of a row-major shape. */
  readonly dims: readonly number[];
  readonly type: number;
  readonly typeName: string;
  readonly elementCount: number;
  /** Absolute offset of the tensor's bytes in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GgufFile {
  readonly file: string;
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufMetadataEntry>;
  readonly tensors: ReadonlyMap<string, GgufTensorInfo>;
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
  readonly fileSize: number;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const FIRST_READ = 1 << 20;

export function ggufError(file: string, message: string, cause?: unknown): ToolbenchError {
  return new ToolbenchError('model.invalid', 2, `${file}: ${message}`, { cause });
}

/**
 * Sequential reader over a file descriptor: a window of the file that grows (doubling) when a
 * value does not fit, so a header of any size is read once, in a few large reads.
 */
class HeaderReader {
  private buffer: Buffer;
  private start = 0; // file offset of buffer[0]
  private end = 0; // file offset just past the valid bytes in buffer
  private offset = 0; // file offset of the next value

  get position(): number {
    return this.offset;
  }

  constructor(
    private readonly descriptor: number,
    private readonly file: string,
    readonly size: number,
  ) {
    this.buffer = Buffer.alloc(Math.min(FIRST_READ, Math.max(size, 1)));
  }

  /** Makes `count` bytes from `position` available; returns their index in `buffer`. */
  private take(count: number, what: string): number {
    if (this.offset + count > this.size) {
      throw ggufError(this.file, `truncated: ${what} at byte ${this.offset} needs ${count} bytes, the file has ${this.size}`);
    }
    if (this.offset + count > this.end) {
      const keep = this.end - this.offset;
      const next = this.buffer.length >= count ? this.buffer : Buffer.alloc(Math.max(this.buffer.length * 2, count));
      if (keep > 0) this.buffer.copy(next, 0, this.offset - this.start, this.end - this.start); // copy allows overlap
      this.buffer = next;
      this.start = this.offset;
      this.end = this.offset + keep;
      const wanted = Math.min(this.buffer.length - keep, this.size - this.end);
      let filled = 0;
      while (filled < wanted) {
        const read = readSync(this.descriptor, this.buffer, keep + filled, wanted - filled, this.end + filled);
        if (read === 0) break;
        filled += read;
      }
      this.end += filled;
      if (this.offset + count > this.end) throw ggufError(this.file, `truncated: the file ends at byte ${this.end}, before ${what}`);
    }
    const index = this.offset - this.start;
    this.offset += count;
    return index;
  }

  u8(what: string): number {
    return this.buffer[this.take(1, what)] as number;
  }
  i8(what: string): number {
    return this.buffer.readInt8(this.take(1, what));
  }
  u16(what: string): number {
    return this.buffer.readUInt16LE(this.take(2, what));
  }
  i16(what: string): number {
    return this.buffer.readInt16LE(this.take(2, what));
  }
  u32(what: string): number {
    return this.buffer.readUInt32LE(this.take(4, what));
  }
  i32(what: string): number {
    return this.buffer.readInt32LE(this.take(4, what));
  }
  f32(what: string): number {
    return this.buffer.readFloatLE(this.take(4, what));
  }
  f64(what: string): number {
    return this.buffer.readDoubleLE(this.take(8, what));
  }
  u64(what: string): bigint {
    return this.buffer.readBigUInt64LE(this.take(8, what));
  }
  i64(what: string): bigint {
    return this.buffer.readBigInt64LE(this.take(8, what));
  }
  /** A u64 that must be a safe integer (a count, a length, a dimension, an offset). */
  count(what: string): number {
    const value = this.u64(what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw ggufError(this.file, `${what} at byte ${this.position - 8} is ${value}, too large to be real`);
    return Number(value);
  }
  string(what: string): string {
    const length = this.count(what); // the length; a message is built only for an error
    if (length > this.size - this.position) throw ggufError(this.file, `truncated: ${what} at byte ${this.position} is ${length} bytes long, past the end of the file (${this.size} bytes)`);
    const index = this.take(length, what);
    return this.buffer.toString('utf8', index, index + length);
  }
}

const SCALAR_SIZES: Partial<Record<GgufValueTypeName, number>> = { UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, UINT32: 4, INT32: 4, FLOAT32: 4, BOOL: 1, UINT64: 8, INT64: 8, FLOAT64: 8, STRING: 8 };

function valueTypeName(reader: HeaderReader, file: string, what: string): GgufValueTypeName {
  const at = reader.position;
  const code = reader.u32(`the value type of ${what}`);
  const name = GGUF_VALUE_TYPES[code];
  if (name === undefined) throw ggufError(file, `${what}: unknown metadata value type ${code} at byte ${at} (known: 0-12)`);
  return name;
}

function readValue(reader: HeaderReader, file: string, type: GgufValueTypeName, what: string): GgufValue {
  switch (type) {
    case 'UINT8':
      return reader.u8(what);
    case 'INT8':
      return reader.i8(what);
    case 'UINT16':
      return reader.u16(what);
    case 'INT16':
      return reader.i16(what);
    case 'UINT32':
      return reader.u32(what);
    case 'INT32':
      return reader.i32(what);
    case 'FLOAT32':
      return reader.f32(what);
    case 'BOOL':
      return reader.u8(what) !== 0;
    case 'STRING':
      return reader.string(what);
    case 'UINT64':
      return reader.u64(what);
    case 'INT64':
      return reader.i64(what);
    case 'FLOAT64':
      return reader.f64(what);
    case 'ARRAY':
      return readArray(reader, file, what).values;
  }
}

function readArray(reader: HeaderReader, file: string, what: string): { elementType: GgufValueTypeName; values: GgufValue[] } {
  const elementType = valueTypeName(reader, file, `the elements of ${what}`);
  const length = reader.count(`the length of ${what}`);
  const minimum = SCALAR_SIZES[elementType] ?? 12; // a nested array is at least its type and length
  if (length * minimum > reader.size - reader.position) throw ggufError(file, `truncated: ${what} has ${length} elements, more than the rest of the file can hold`);
  const values = new Array<GgufValue>(length);
  for (let index = 0; index < length; index++) values[index] = readValue(reader, file, elementType, what);
  return { elementType, values };
}

/**
 * The header of a GGUF file: metadata, tensor infos with absolute offsets, alignment. Reads only
 * the header; throws a ToolbenchError naming the file for anything that is not a GGUF v2/v3 file
 * whose tensors fit in it.
 */
export function readGguf(file: string): GgufFile {
  let descriptor: number;
  try {
    descriptor = openSync(file, 'r');
  } catch (error) {
    throw ggufError(file, `cannot read: ${(error as Error).message}`, error);
  }
  try {
    const fileSize = fstatSync(descriptor).size;
    const reader = new HeaderReader(descriptor, file, fileSize);
    if (fileSize < 4) throw ggufError(file, `not a GGUF file (${fileSize} bytes, shorter than the magic)`);
    const magic = reader.u32('the magic');
    if (magic !== MAGIC) {
      const shown = Buffer.alloc(4);
      shown.writeUInt32LE(magic);
      throw ggufError(file, `not a GGUF file (it starts with ${JSON.stringify(shown.toString('latin1'))}, not "GGUF")`);
    }
    const version = reader.u32('the version');
    if (version === 1) throw ggufError(file, 'GGUF version 1 is not supported (only 2 and 3); convert the file again with a current llama.cpp');
    if (version !== 2 && version !== 3) {
      const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
      if (swapped === 2 || swapped === 3) throw ggufError(file, 'big-endian GGUF files are not supported');
      throw ggufError(file, `unsupported GGUF version ${version} (supported: 2, 3)`);
    }
    const tensorCount = reader.count('the tensor count');
    const metadataCount = reader.count('the metadata count');
    const metadata = new Map<string, GgufMetadataEntry>();
    for (let index = 0; index < metadataCount; index++) {
      const key = reader.string(`metadata key #${index}`);
      const type = valueTypeName(reader, file, `metadata ${key}`);
      if (type === 'ARRAY') {
        const { elementType, values } = readArray(reader, file, `metadata ${key}`);
        metadata.set(key, { type, elementType, value: values });
      } else {
        metadata.set(key, { type, value: readValue(reader, file, type, `metadata ${key}`) });
      }
    }
    const alignmentEntry = metadata.get('general.alignment');
    let alignment = DEFAULT_ALIGNMENT;
    if (alignmentEntry !== undefined) {
      const value = alignmentEntry.value;
      if (alignmentEntry.type !== 'UINT32' || typeof value !== 'number' || value === 0 || (value & (value - 1)) !== 0) {
        throw ggufError(file, `metadata general.alignment: expected a UINT32 power of two, got ${alignmentEntry.type} ${String(value)}`);
      }
      alignment = value;
    }
    const infos: { name: string; dims: number[]; type: number; relative: number }[] = [];
    for (let index = 0; index < tensorCount; index++) {
      const name = reader.string(`tensor name #${index}`);
      const dimCount = reader.u32(`the dimension count of tensor ${name}`);
      if (dimCount < 1 || dimCount > MAX_DIMS) throw ggufError(file, `tensor ${name}: ${dimCount} dimensions (expected 1 to ${MAX_DIMS})`);
      const dims: number[] = [];
      for (let dim = 0; dim < dimCount; dim++) dims.push(reader.count(`dimension ${dim} of tensor ${name}`));
      const type = reader.u32(`the type of tensor ${name}`);
      const relative = reader.count(`the offset of tensor ${name}`);
      infos.push({ name, dims, type, relative });
    }
    const dataOffset = Math.ceil(reader.position / alignment) * alignment;
    const tensors = new Map<string, GgufTensorInfo>();
    for (const { name, dims, type, relative } of infos) {
      const traits = GGML_TYPES[type];
      if (traits === undefined) throw ggufError(file, `tensor ${name}: unknown ggml type ${type}`);
      if (tensors.has(name)) throw ggufError(file, `tensor ${name} is listed twice`);
      const elementCount = dims.reduce((product, dim) => product * dim, 1);
      if ((dims[0] as number) % traits.blockSize !== 0) {
        throw ggufError(file, `tensor ${name}: its row length ${dims[0]} is not a multiple of the ${traits.name} block size ${traits.blockSize}`);
      }
      if (relative % alignment !== 0) throw ggufError(file, `tensor ${name}: its offset ${relative} is not a multiple of the alignment ${alignment}`);
      const byteLength = (elementCount / traits.blockSize) * traits.typeSize;
      const offset = dataOffset + relative;
      if (offset + byteLength > fileSize) {
        throw ggufError(file, `truncated: tensor ${name} (${traits.name} [${dims.join(', ')}]) needs bytes ${offset} to ${offset + byteLength}, the file has ${fileSize}`);
      }
      tensors.set(name, { name, dims, type, typeName: traits.name, elementCount, offset, byteLength });
    }
    return { file, version, metadata, tensors, alignment, dataOffset, fileSize };
  } finally {
    closeSync(descriptor);
  }
}

/** The tensor's bytes as stored, in memory of their own (offset 0, so any typed view fits). */
export function readGgufTensorBytes(gguf: GgufFile, tensor: GgufTensorInfo): Uint8Array {
  const bytes = new Uint8Array(tensor.byteLength);
  const descriptor = openSync(gguf.file, 'r');
  try {
    for (let done = 0; done < bytes.length; ) {
      const read = readSync(descriptor, bytes, done, bytes.length - done, tensor.offset + done);
      if (read === 0) throw ggufError(gguf.file, `truncated: the file ends inside tensor ${tensor.name}`);
      done += read;
    }
  } finally {
    closeSync(descriptor);
  }
  return bytes;
}

/** A metadata value, or undefined when the key is absent. */
export function ggufValue(gguf: GgufFile, key: string): GgufValue | undefined {
  return gguf.metadata.get(key)?.value;
}

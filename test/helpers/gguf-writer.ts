/**
 * Test-side GGUF writer and ggml block quantisers, written from the format definitions
 * (ggml docs/gguf.md, ggml-common.h block structs) independently of src/runner's readers: each
 * quantiser keeps the integer quants and scales it chose and computes its own reconstruction
 * from them, before packing the bits, so a round trip checks the packing and the unpacking.
 * The quantisers are simple (no ggml-style search for the best scale) but use the full range.
 */
import { writeFileSync } from 'node:fs';
import { numberToHalf } from '../../src/runner/float16.js';

export type WriterValueType = 'UINT8' | 'INT8' | 'UINT16' | 'INT16' | 'UINT32' | 'INT32' | 'FLOAT32' | 'BOOL' | 'STRING' | 'UINT64' | 'INT64' | 'FLOAT64';
export type WriterValue =
  | { type: WriterValueType; value: number | bigint | boolean | string }
  | { type: 'ARRAY'; elementType: WriterValueType | 'ARRAY'; value: (number | bigint | boolean | string | WriterValue)[] };

export interface WriterTensor {
  name: string;
  /** ggml order: innermost first (a HF [out, in] weight is [in, out]). */
  dims: number[];
  type: QuantType;
  bytes: Uint8Array;
}

const TYPE_CODES: Record<WriterValueType | 'ARRAY', number> = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 };
export const GGML_TYPE_CODES = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 } as const;
export type QuantType = keyof typeof GGML_TYPE_CODES;

class ByteSink {
  private readonly parts: Buffer[] = [];
  length = 0;
  push(buffer: Buffer | Uint8Array): void {
    const part = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    this.parts.push(part);
    this.length += part.length;
  }
  scalar(size: number, write: (buffer: Buffer) => void): void {
    const buffer = Buffer.alloc(size);
    write(buffer);
    this.push(buffer);
  }
  u32(value: number): void {
    this.scalar(4, (buffer) => buffer.writeUInt32LE(value));
  }
  u64(value: number | bigint): void {
    this.scalar(8, (buffer) => buffer.writeBigUInt64LE(BigInt(value)));
  }
  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  pad(alignment: number): void {
    const rest = this.length % alignment;
    if (rest !== 0) this.push(Buffer.alloc(alignment - rest));
  }
  concat(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function writeScalar(sink: ByteSink, type: WriterValueType, value: number | bigint | boolean | string): void {
  const number = value as number;
  switch (type) {
    case 'UINT8':
      return sink.scalar(1, (buffer) => buffer.writeUInt8(number));
    case 'INT8':
      return sink.scalar(1, (buffer) => buffer.writeInt8(number));
    case 'UINT16':
      return sink.scalar(2, (buffer) => buffer.writeUInt16LE(number));
    case 'INT16':
      return sink.scalar(2, (buffer) => buffer.writeInt16LE(number));
    case 'UINT32':
      return sink.u32(number);
    case 'INT32':
      return sink.scalar(4, (buffer) => buffer.writeInt32LE(number));
    case 'FLOAT32':
      return sink.scalar(4, (buffer) => buffer.writeFloatLE(number));
    case 'BOOL':
      return sink.scalar(1, (buffer) => buffer.writeUInt8(value ? 1 : 0));
    case 'STRING':
      return sink.string(value as string);
    case 'UINT64':
      return sink.u64(value as bigint | number);
    case 'INT64':
      return sink.scalar(8, (buffer) => buffer.writeBigInt64LE(BigInt(value as bigint | number)));
    case 'FLOAT64':
      return sink.scalar(8, (buffer) => buffer.writeDoubleLE(number));
  }
}

function writeValue(sink: ByteSink, value: WriterValue): void {
  sink.u32(TYPE_CODES[value.type]);
  writeValueBody(sink, value);
}

function writeValueBody(sink: ByteSink, value: WriterValue): void {
  if (value.type !== 'ARRAY') return writeScalar(sink, value.type, value.value);
  sink.u32(TYPE_CODES[value.elementType]);
  sink.u64(value.value.length);
  for (const item of value.value) {
    if (value.elementType === 'ARRAY') writeValueBody(sink, item as WriterValue);
    else writeScalar(sink, value.elementType, item as number | bigint | boolean | string);
  }
}

export interface GgufWriteOptions {
  version?: number;
  metadata?: [string, WriterValue][];
  tensors?: WriterTensor[];
  /** Pad to this alignment; also written as general.alignment unless `writeAlignment` is false. */
  alignment?: number;
  writeAlignment?: boolean;
  /** Overrides the magic (4 ASCII bytes), for error tests. */
  magic?: string;
  /** Overrides each tensor's type code, for error tests. */
  typeCode?: (tensor: WriterTensor) => number;
}

/** The bytes of a GGUF file. */
export function encodeGguf(options: GgufWriteOptions): Buffer {
  const alignment = options.alignment ?? 32;
  const metadata = [...(options.metadata ?? [])];
  if (options.alignment !== undefined && options.writeAlignment !== false) metadata.push(['general.alignment', { type: 'UINT32', value: alignment }]);
  const tensors = options.tensors ?? [];
  const sink = new ByteSink();
  sink.push(Buffer.from(options.magic ?? 'GGUF', 'latin1'));
  sink.u32(options.version ?? 3);
  sink.u64(tensors.length);
  sink.u64(metadata.length);
  for (const [key, value] of metadata) {
    sink.string(key);
    writeValue(sink, value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    sink.string(tensor.name);
    sink.u32(tensor.dims.length);
    for (const dim of tensor.dims) sink.u64(dim);
    sink.u32(options.typeCode?.(tensor) ?? GGML_TYPE_CODES[tensor.type]);
    sink.u64(offset);
    offset += Math.ceil(tensor.bytes.byteLength / alignment) * alignment;
  }
  sink.pad(alignment);
  for (const tensor of tensors) {
    sink.push(tensor.bytes);
    sink.pad(alignment);
  }
  return sink.concat();
}

export function writeGguf(file: string, options: GgufWriteOptions): void {
  writeFileSync(file, encodeGguf(options));
}

// ---------------------------------------------------------------- quantisers

/** IEEE half bits -> value, from the definition (sign, 5-bit exponent bias 15, 10-bit fraction). */
export function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 31;
  const fraction = bits & 1023;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** A float16 scale: its bits and the value they hold. */
function halfScale(value: number): { bits: number; value: number } {
  const bits = numberToHalf(value);
  return { bits, value: halfValue(bits) };
}

const putHalf = (out: Uint8Array, at: number, bits: number) => {
  out[at] = bits & 255;
  out[at + 1] = bits >> 8;
};
const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
/** A stored quant: an integer in [low, high] (never -0, which no byte holds). */
const quant = (value: number, low: number, high: number) => clamp(Math.round(value), low, high) + 0;
const at = (values: Float32Array, index: number) => values[index] as number;

export interface Quantised {
  bytes: Uint8Array;
  /** The values the quants and scales stand for, computed before packing. */
  reconstruction: Float32Array;
}

/** The value of largest magnitude, with its sign (ggml's `max` in the symmetric formats). */
function signedMax(values: Float32Array, start: number, count: number): number {
  let best = 0;
  for (let index = start; index < start + count; index++) if (Math.abs(at(values, index)) > Math.abs(best)) best = at(values, index);
  return best;
}

function range(values: Float32Array, start: number, count: number): [number, number] {
  let low = Infinity, high = -Infinity;
  for (let index = start; index < start + count; index++) {
    low = Math.min(low, at(values, index));
    high = Math.max(high, at(values, index));
  }
  return [low, high];
}

/** Symmetric 32-value blocks: Q4_0 (bits 4), Q5_0 (5), Q8_0 (8). */
function quantiseSymmetric(values: Float32Array, bits: 4 | 5 | 8): Quantised {
  const blockBytes = { 4: 18, 5: 22, 8: 34 }[bits];
  const blocks = values.length / 32;
  const bytes = new Uint8Array(blocks * blockBytes);
  const reconstruction = new Float32Array(values.length);
  const offset = 1 << (bits - 1);
  for (let block = 0; block < blocks; block++) {
    const base = block * 32, out = block * blockBytes;
    const max = signedMax(values, base, 32);
    const scale = halfScale(bits === 8 ? Math.abs(max) / 127 : max / -offset);
    const inverse = scale.value === 0 ? 0 : 1 / scale.value;
    const quants: number[] = [];
    for (let j = 0; j < 32; j++) {
      const q = quant(at(values, base + j) * inverse, -offset, offset - 1); // signed quant
      quants.push(q);
      reconstruction[base + j] = q * scale.value;
    }
    putHalf(bytes, out, scale.bits);
    if (bits === 8) {
      quants.forEach((q, j) => (bytes[out + 2 + j] = q & 255));
      continue;
    }
    const stored = quants.map((q) => q + offset); // 0 .. 2^bits - 1
    const qs = out + (bits === 5 ? 6 : 2);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const low = stored[j] as number, high = stored[j + 16] as number;
      bytes[qs + j] = (low & 15) | ((high & 15) << 4);
      qh |= ((low >> 4) & 1) << j;
      qh |= ((high >> 4) & 1) << (j + 16);
    }
    if (bits === 5) new DataView(bytes.buffer).setUint32(out + 2, qh >>> 0, true);
  }
  return { bytes, reconstruction };
}

/** Affine 32-value blocks: Q4_1 (bits 4), Q5_1 (5). x = q d + m. */
function quantiseAffine(values: Float32Array, bits: 4 | 5): Quantised {
  const blockBytes = bits === 4 ? 20 : 24;
  const blocks = values.length / 32;
  const bytes = new Uint8Array(blocks * blockBytes);
  const reconstruction = new Float32Array(values.length);
  const top = (1 << bits) - 1;
  for (let block = 0; block < blocks; block++) {
    const base = block * 32, out = block * blockBytes;
    const [low, high] = range(values, base, 32);
    const scale = halfScale((high - low) / top);
    const minimum = halfScale(low);
    const inverse = scale.value === 0 ? 0 : 1 / scale.value;
    const stored: number[] = [];
    for (let j = 0; j < 32; j++) {
      const q = quant((at(values, base + j) - minimum.value) * inverse, 0, top);
      stored.push(q);
      reconstruction[base + j] = q * scale.value + minimum.value;
    }
    putHalf(bytes, out, scale.bits);
    putHalf(bytes, out + 2, minimum.bits);
    const qs = out + (bits === 5 ? 8 : 4);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const a = stored[j] as number, b = stored[j + 16] as number;
      bytes[qs + j] = (a & 15) | ((b & 15) << 4);
      qh |= ((a >> 4) & 1) << j;
      qh |= ((b >> 4) & 1) << (j + 16);
    }
    if (bits === 5) new DataView(bytes.buffer).setUint32(out + 4, qh >>> 0, true);
  }
  return { bytes, reconstruction };
}

/**
 * Q4_K / Q5_K super-blocks of 256: eight sub-blocks of 32 with a 6-bit scale and a 6-bit min
 * each, themselves scaled by float16 d and dmin. x = (d sc) q - (dmin m).
 */
function quantiseK(values: Float32Array, bits: 4 | 5): Quantised {
  const blockBytes = bits === 4 ? 144 : 176;
  const blocks = values.length / 256;
  const bytes = new Uint8Array(blocks * blockBytes);
  const reconstruction = new Float32Array(values.length);
  const top = (1 << bits) - 1;
  for (let block = 0; block < blocks; block++) {
    const base = block * 256, out = block * blockBytes;
    const scales: number[] = [], mins: number[] = [];
    for (let sub = 0; sub < 8; sub++) {
      const [low, high] = range(values, base + 32 * sub, 32);
      const floor = Math.min(0, low);
      scales.push((high - floor) / top);
      mins.push(-floor);
    }
    const d = halfScale(Math.max(...scales) / 63);
    const dmin = halfScale(Math.max(...mins) / 63);
    const scaleQuants = scales.map((scale) => (d.value === 0 ? 0 : quant(scale / d.value, 0, 63)));
    const minQuants = mins.map((min) => (dmin.value === 0 ? 0 : quant(min / dmin.value, 0, 63)));
    const quants = new Uint8Array(256);
    for (let sub = 0; sub < 8; sub++) {
      const step = Math.fround(d.value * (scaleQuants[sub] as number));
      const shift = Math.fround(dmin.value * (minQuants[sub] as number));
      for (let l = 0; l < 32; l++) {
        const index = 32 * sub + l;
        const q = step === 0 ? 0 : quant((at(values, base + index) + shift) / step, 0, top);
        quants[index] = q;
        reconstruction[base + index] = step * q - shift;
      }
    }
    putHalf(bytes, out, d.bits);
    putHalf(bytes, out + 2, dmin.bits);
    // 12 bytes of scales: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scale) and 4-7 (min);
    // sub-blocks 4-7 in the nibbles of bytes 8-11, their top 2 bits in the spare bits of 0-7.
    const packed = out + 4;
    for (let sub = 0; sub < 8; sub++) {
      const scale = scaleQuants[sub] as number, min = minQuants[sub] as number;
      if (sub < 4) {
        bytes[packed + sub] = (bytes[packed + sub] as number) | scale;
        bytes[packed + sub + 4] = (bytes[packed + sub + 4] as number) | min;
      } else {
        bytes[packed + sub + 4] = (scale & 15) | ((min & 15) << 4);
        bytes[packed + sub - 4] = (bytes[packed + sub - 4] as number) | ((scale >> 4) << 6);
        bytes[packed + sub] = (bytes[packed + sub] as number) | ((min >> 4) << 6);
      }
    }
    const qh = out + 16, qs = out + (bits === 5 ? 48 : 16);
    for (let pair = 0; pair < 4; pair++) {
      for (let l = 0; l < 32; l++) {
        const low = quants[64 * pair + l] as number, high = quants[64 * pair + 32 + l] as number;
        bytes[qs + 32 * pair + l] = (low & 15) | ((high & 15) << 4);
        if (bits === 5) bytes[qh + l] = (bytes[qh + l] as number) | ((low >> 4) << (2 * pair)) | ((high >> 4) << (2 * pair + 1));
      }
    }
  }
  return { bytes, reconstruction };
}

/** Q6_K super-blocks of 256: sixteen sub-blocks of 16 with int8 scales times float16 d; 6-bit quants. */
function quantiseQ6K(values: Float32Array): Quantised {
  const blocks = values.length / 256;
  const bytes = new Uint8Array(blocks * 210);
  const reconstruction = new Float32Array(values.length);
  for (let block = 0; block < blocks; block++) {
    const base = block * 256, out = block * 210;
    const scales: number[] = [];
    for (let sub = 0; sub < 16; sub++) scales.push(signedMax(values, base + 16 * sub, 16) / -32);
    const largest = scales.reduce((best, scale) => (Math.abs(scale) > Math.abs(best) ? scale : best), 0);
    const d = halfScale(largest / -128);
    const scaleQuants = scales.map((scale) => (d.value === 0 ? 0 : quant(scale / d.value, -128, 127)));
    const quants = new Uint8Array(256); // q + 32, 0 .. 63
    for (let sub = 0; sub < 16; sub++) {
      const step = Math.fround(d.value * (scaleQuants[sub] as number));
      for (let l = 0; l < 16; l++) {
        const index = 16 * sub + l;
        const q = step === 0 ? 0 : quant(at(values, base + index) / step, -32, 31);
        quants[index] = q + 32;
        reconstruction[base + index] = step * q;
      }
    }
    // value 128 h + 32 k + l: low nibble in ql[64 h + l + 32 (k & 1)] (k < 2 low, else high
    // nibble), top 2 bits in qh[32 h + l] at bit 2 k.
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const q = [0, 1, 2, 3].map((k) => quants[128 * h + 32 * k + l] as number) as [number, number, number, number];
        bytes[out + 64 * h + l] = (q[0] & 15) | ((q[2] & 15) << 4);
        bytes[out + 64 * h + l + 32] = (q[1] & 15) | ((q[3] & 15) << 4);
        bytes[out + 128 + 32 * h + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
      }
    }
    scaleQuants.forEach((scale, sub) => (bytes[out + 192 + sub] = scale & 255));
    putHalf(bytes, out + 208, d.bits);
  }
  return { bytes, reconstruction };
}

function quantiseFloat(values: Float32Array, type: 'F32' | 'F16' | 'BF16'): Quantised {
  if (type === 'F32') return { bytes: new Uint8Array(values.slice().buffer), reconstruction: values.slice() };
  const bits = new Uint16Array(values.length);
  const reconstruction = new Float32Array(values.length);
  const view = new DataView(new ArrayBuffer(4));
  values.forEach((value, index) => {
    if (type === 'F16') {
      bits[index] = numberToHalf(value);
      reconstruction[index] = halfValue(bits[index] as number);
    } else {
      view.setFloat32(0, value);
      bits[index] = view.getUint16(0); // truncation: the high half of the float32
      view.setUint16(2, 0);
      reconstruction[index] = view.getFloat32(0);
    }
  });
  return { bytes: new Uint8Array(bits.buffer), reconstruction };
}

/** Quantises `values` (a multiple of the block size) to `type`. */
export function quantise(values: Float32Array, type: QuantType): Quantised {
  switch (type) {
    case 'F32':
    case 'F16':
    case 'BF16':
      return quantiseFloat(values, type);
    case 'Q4_0':
      return quantiseSymmetric(values, 4);
    case 'Q5_0':
      return quantiseSymmetric(values, 5);
    case 'Q8_0':
      return quantiseSymmetric(values, 8);
    case 'Q4_1':
      return quantiseAffine(values, 4);
    case 'Q5_1':
      return quantiseAffine(values, 5);
    case 'Q4_K':
      return quantiseK(values, 4);
    case 'Q5_K':
      return quantiseK(values, 5);
    case 'Q6_K':
      return quantiseQ6K(values);
  }
}

/** Deterministic uniform values in [-scale, scale) (mulberry32). */
export function randomValues(count: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let index = 0; index < count; index++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[index] = ((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

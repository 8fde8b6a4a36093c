/**
 * Dequantisation of ggml tensor data to float32: F32, F16, BF16, F64 and the block formats
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (32 values a block) and Q4_K, Q5_K, Q6_K (256 values a
 * super-block). Block layouts and formulas are those of ggml's `ggml-common.h` and
 * `dequantize_row_*` in `ggml-quants.c`. Scales are float16; products are rounded to float32
 * where ggml keeps a float32 variable (sub-block scales), so results match ggml's to the last bit
 * except where a C compiler fuses a multiply-add (one unit in the last place at most).
 */
import { ToolbenchError } from '../util/errors.js';
import { GGML_TYPES } from './gguf.js';
import { halfToNumber } from './float16.js';

type Dequantizer = (bytes: Uint8Array, out: Float32Array) => void;

let halfTable: Float32Array | undefined;

/** float16 bits -> float32, all 65,536 of them (256 KiB, built on first use). */
export function halfLookup(): Float32Array {
  if (halfTable === undefined) {
    halfTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) halfTable[bits] = halfToNumber(bits);
  }
  return halfTable;
}

// Typed-array views read the file's little-endian values as they are: every platform Node runs
// on is little-endian.
function f32(bytes: Uint8Array, out: Float32Array): void {
  out.set(bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, out.length) : new Float32Array(bytes.slice().buffer));
}

function f64(bytes: Uint8Array, out: Float32Array): void {
  out.set(bytes.byteOffset % 8 === 0 ? new Float64Array(bytes.buffer, bytes.byteOffset, out.length) : new Float64Array(bytes.slice().buffer));
}

function f16(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  for (let index = 0, at = 0; index < out.length; index++, at += 2) out[index] = half[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;
}

function bf16(bytes: Uint8Array, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let index = 0, at = 0; index < out.length; index++, at += 2) bits[index] = ((bytes[at] as number) << 16) | ((bytes[at + 1] as number) << 24);
}

// Q4_0, 18 bytes: f16 d, u8 qs[16]. x[j] = (lo(qs[j]) - 8) d, x[j + 16] = (hi(qs[j]) - 8) d.
function q4_0(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  for (let block = 0, at = 0, base = 0; base < out.length; block++, at += 18, base += 32) {
    const d = half[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;
    for (let j = 0; j < 16; j++) {
      const byte = bytes[at + 2 + j] as number;
      out[base + j] = ((byte & 15) - 8) * d;
      out[base + j + 16] = ((byte >> 4) - 8) * d;
    }
  }
}

// Q4_1, 20 bytes: f16 d, f16 m, u8 qs[16]. x = q d + m.
function q4_1(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  for (let at = 0, base = 0; base < out.length; at += 20, base += 32) {
    const d = half[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;
    const m = half[(bytes[at + 2] as number) | ((bytes[at + 3] as number) << 8)] as number;
    for (let j = 0; j < 16; j++) {
      const byte = bytes[at + 4 + j] as number;
      out[base + j] = (byte & 15) * d + m;
      out[base + j + 16] = (byte >> 4) * d + m;
    }
  }
}

// Q5_0, 22 bytes: f16 d, u32 qh (bit j = 5th bit of x[j]), u8 qs[16]. x = (q - 16) d.
function q5_0(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  for (let at = 0, base = 0; base < out.length; at += 22, base += 32) {
    const d = half[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;
    const qh = ((bytes[at + 2] as number) | ((bytes[at + 3] as number) << 8) | ((bytes[at + 4] as number) << 16) | ((bytes[at + 5] as number) << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const byte = bytes[at + 6 + j] as number;
      out[base + j] = (((byte & 15) | (((qh >>> j) & 1) << 4)) - 16) * d;
      out[base + j + 16] = (((byte >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
}

// Q5_1, 24 bytes: f16 d, f16 m, u32 qh, u8 qs[16]. x = q d + m.
function q5_1(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  for (let at = 0, base = 0; base < out.length; at += 24, base += 32) {
    const d = half[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;
    const m = half[(bytes[at + 2] as number) | ((bytes[at + 3] as number) << 8)] as number;
    const qh = ((bytes[at + 4] as number) | ((bytes[at + 5] as number) << 8) | ((bytes[at + 6] as number) << 16) | ((bytes[at + 7] as number) << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const byte = bytes[at + 8 + j] as number;
      out[base + j] = ((byte & 15) | (((qh >>> j) & 1) << 4)) * d + m;
      out[base + j + 16] = ((byte >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
    }
  }
}

// Q8_0, 34 bytes: f16 d, i8 qs[32]. x = q d.
function q8_0(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0, base = 0; base < out.length; at += 34, base += 32) {
    const d = half[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;
    for (let j = 0; j < 32; j++) out[base + j] = (signed[at + 2 + j] as number) * d;
  }
}

/**
 * The 6-bit scale and min of sub-block j (0-7) of a Q4_K/Q5_K super-block, packed in 12 bytes
 * at `at` (ggml `get_scale_min_k4`): j < 4 in the low 6 bits of bytes j and j + 4; j >= 4 in
 * the nibbles of byte j + 4, with the top 2 bits in the spare bits of bytes j - 4 and j.
 */
export function scaleMin(bytes: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [(bytes[at + j] as number) & 63, (bytes[at + j + 4] as number) & 63];
  const packed = bytes[at + j + 4] as number;
  return [(packed & 15) | (((bytes[at + j - 4] as number) >> 6) << 4), (packed >> 4) | (((bytes[at + j] as number) >> 6) << 4)];
}

// Q4_K, 144 bytes: f16 d, f16 dmin, u8 scales[12], u8 qs[128]. Eight sub-blocks of 32;
// each 32 bytes of qs hold two sub-blocks (low nibbles, then high). x = d sc q - dmin m.
function q4_K(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  for (let at = 0, base = 0; base < out.length; at += 144, base += 256) {
    const d = half[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;
    const dmin = half[(bytes[at + 2] as number) | ((bytes[at + 3] as number) << 8)] as number;
    for (let pair = 0; pair < 4; pair++) {
      const [scaleLow, minLow] = scaleMin(bytes, at + 4, 2 * pair);
      const [scaleHigh, minHigh] = scaleMin(bytes, at + 4, 2 * pair + 1);
      const d1 = Math.fround(d * scaleLow), m1 = Math.fround(dmin * minLow);
      const d2 = Math.fround(d * scaleHigh), m2 = Math.fround(dmin * minHigh);
      const qs = at + 16 + 32 * pair, y = base + 64 * pair;
      for (let l = 0; l < 32; l++) {
        const byte = bytes[qs + l] as number;
        out[y + l] = d1 * (byte & 15) - m1;
        out[y + 32 + l] = d2 * (byte >> 4) - m2;
      }
    }
  }
}

// Q5_K, 176 bytes: f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]. As Q4_K, and bit
// 2 pair (low sub-block) / 2 pair + 1 (high) of qh[l] is the 5th bit of the quant.
function q5_K(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  for (let at = 0, base = 0; base < out.length; at += 176, base += 256) {
    const d = half[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;
    const dmin = half[(bytes[at + 2] as number) | ((bytes[at + 3] as number) << 8)] as number;
    for (let pair = 0; pair < 4; pair++) {
      const [scaleLow, minLow] = scaleMin(bytes, at + 4, 2 * pair);
      const [scaleHigh, minHigh] = scaleMin(bytes, at + 4, 2 * pair + 1);
      const d1 = Math.fround(d * scaleLow), m1 = Math.fround(dmin * minLow);
      const d2 = Math.fround(d * scaleHigh), m2 = Math.fround(dmin * minHigh);
      const qh = at + 16, qs = at + 48 + 32 * pair, y = base + 64 * pair;
      const lowBit = 2 * pair, highBit = 2 * pair + 1;
      for (let l = 0; l < 32; l++) {
        const byte = bytes[qs + l] as number, high = bytes[qh + l] as number;
        out[y + l] = d1 * ((byte & 15) | (((high >> lowBit) & 1) << 4)) - m1;
        out[y + 32 + l] = d2 * ((byte >> 4) | (((high >> highBit) & 1) << 4)) - m2;
      }
    }
  }
}

// Q6_K, 210 bytes: u8 ql[128], u8 qh[64], i8 scales[16], f16 d. Two halves of 128 values; in
// half h, value 32 k + l (k 0-3, l 0-31) takes its low 4 bits from ql[64 h + l + 32 (k & 1)]
// (low nibble for k < 2, high for k >= 2), its top 2 bits from qh[32 h + l] bits 2k, 2k + 1,
// and scale scales[8 h + 2 k + l / 16]. x = d scale (q - 32).
function q6_K(bytes: Uint8Array, out: Float32Array): void {
  const half = halfLookup();
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0, base = 0; base < out.length; at += 210, base += 256) {
    const d = half[(bytes[at + 208] as number) | ((bytes[at + 209] as number) << 8)] as number;
    for (let h = 0; h < 2; h++) {
      const ql = at + 64 * h, qh = at + 128 + 32 * h, scales = at + 192 + 8 * h, y = base + 128 * h;
      for (let group = 0; group < 2; group++) {
        const s0 = Math.fround(d * (signed[scales + group] as number));
        const s1 = Math.fround(d * (signed[scales + group + 2] as number));
        const s2 = Math.fround(d * (signed[scales + group + 4] as number));
        const s3 = Math.fround(d * (signed[scales + group + 6] as number));
        for (let l = 16 * group; l < 16 * group + 16; l++) {
          const low = bytes[ql + l] as number, low2 = bytes[ql + l + 32] as number, high = bytes[qh + l] as number;
          out[y + l] = s0 * (((low & 15) | ((high & 3) << 4)) - 32);
          out[y + l + 32] = s1 * (((low2 & 15) | (((high >> 2) & 3) << 4)) - 32);
          out[y + l + 64] = s2 * (((low >> 4) | (((high >> 4) & 3) << 4)) - 32);
          out[y + l + 96] = s3 * (((low2 >> 4) | (((high >> 6) & 3) << 4)) - 32);
        }
      }
    }
  }
}

const DEQUANTIZERS: Readonly<Record<string, Dequantizer>> = { F32: f32, F16: f16, BF16: bf16, F64: f64, Q4_0: q4_0, Q4_1: q4_1, Q5_0: q5_0, Q5_1: q5_1, Q8_0: q8_0, Q4_K: q4_K, Q5_K: q5_K, Q6_K: q6_K };

/** The ggml type names `dequantize` accepts. */
export const DEQUANTIZABLE_TYPE_NAMES: readonly string[] = Object.keys(DEQUANTIZERS);

/** Whether `dequantize` reads ggml type `type`. */
export function canDequantize(type: number): boolean {
  const name = GGML_TYPES[type]?.name;
  return name !== undefined && name in DEQUANTIZERS;
}

/**
 * `elementCount` values of ggml type `type` stored in `bytes`, as float32 (into `out` when
 * given). Throws a ToolbenchError for a type it cannot read or bytes of the wrong length.
 */
export function dequantize(type: number, bytes: Uint8Array, elementCount: number, out = new Float32Array(elementCount)): Float32Array {
  const traits = GGML_TYPES[type];
  const dequantizer = traits === undefined ? undefined : DEQUANTIZERS[traits.name];
  if (traits === undefined || dequantizer === undefined) {
    throw new ToolbenchError('model.unsupported', 2, `ggml type ${traits?.name ?? type} cannot be dequantised (supported: ${DEQUANTIZABLE_TYPE_NAMES.join(', ')})`);
  }
  const expected = (elementCount / traits.blockSize) * traits.typeSize;
  if (elementCount % traits.blockSize !== 0 || bytes.byteLength !== expected || out.length !== elementCount) {
    throw new ToolbenchError('model.invalid', 2, `${traits.name}: ${elementCount} values need ${expected} bytes in blocks of ${traits.blockSize}, got ${bytes.byteLength} bytes and room for ${out.length}`);
  }
  dequantizer(bytes, out);
  return out;
}

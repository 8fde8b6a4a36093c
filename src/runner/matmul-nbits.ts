/**
 * GGUF block-quantised weights repacked for onnxruntime's com.microsoft MatMulNBits without
 * re-quantising: the integer quants are kept and each ggml block's scale (and min) becomes a
 * MatMulNBits scale and zero point, value = (q - zero point) * scale.
 *
 * What onnxruntime-node 1.29 (CPU) accepts decides the formats (contrib_ops/cpu/quantization/
 * matmul_nbits.cc; test/runner/matmul-nbits.test.ts pins it): float zero points only with 4-bit
 * quants, so the formats with a min (x = d q + m) repack only when their quants fit in 4 bits.
 * The symmetric formats store q + 2^(bits-1) with zero point 2^(bits-1), onnxruntime's default
 * when the zero_points input is left out (`hasDefaultZeroPoints`), the only way 8-bit works.
 *
 *   Q4_0  bits 4, block 32  scale d, zero point 8                       exact
 *   Q8_0  bits 8, block 32  scale d, zero point 128 (q + 128 stored)    exact
 *   Q5_0  bits 8, block 32  scale d, zero point 128 (q + 112 stored)    exact
 *   Q6_K  bits 8, block 16  scale d sc, zero point 128 (q + 96 stored)  exact
 *   Q4_1  bits 4, block 32  scale d, zero point -m / d                  float rounding of zp
 *   Q4_K  bits 4, block 32  scale d sc, zero point dmin m / (d sc)      float rounding of zp
 *   Q5_1, Q5_K (5-bit quants, so 8-bit with float zero points), F32, F16, BF16 and the rest:
 *   not repacked (undefined): the graph uses the float weight.
 *
 * A block whose scale is 0 holds one value (m, or -dmin m) in all its places: its quants become
 * 1, its scale that value and its zero point 0, which is exact.
 *
 * Speed on the CPU provider (1.29): only 4-bit weights without float zero points are prepacked for
 * MLAS's kernels (faster than an fp32 MatMul); float zero points and 8-bit weights at the default
 * accuracy_level dequantise all of B on every run, many times slower than the fp32 MatMul.
 */
import { ToolbenchError } from '../util/errors.js';
import { GGML_TYPES } from './gguf.js';
import { halfLookup, scaleMin } from './gguf-dequant.js';
import type { QuantizedWeight } from './weights.js';

/**
 * One ggml block: its `ggmlBlock` quants (0 .. 2^bits - 1) into `quants`, and a scale and zero
 * point for each of its ggmlBlock / blockSize MatMulNBits blocks, from index `block` on.
 */
type BlockDecoder = (bytes: Uint8Array, at: number, quants: Uint8Array, scales: Float32Array, zeroPoints: Float32Array, block: number) => void;

interface Repacking {
  readonly bits: 4 | 8;
  readonly blockSize: number;
  readonly decode: BlockDecoder;
}

const half = (table: Float32Array, bytes: Uint8Array, at: number): number => table[(bytes[at] as number) | ((bytes[at + 1] as number) << 8)] as number;

/** An affine block x = scale q - offset (both float32), as a zero point; one value when scale is 0. */
function affine(quants: Uint8Array, from: number, count: number, scale: number, offset: number, scales: Float32Array, zeroPoints: Float32Array, block: number): void {
  if (scale === 0) {
    quants.fill(1, from, from + count);
    scales[block] = 0 - offset; // +0 for offset 0, as 0 q - 0 is
    zeroPoints[block] = 0;
  } else {
    scales[block] = scale;
    zeroPoints[block] = offset / scale;
  }
}

// Q4_0, 18 bytes: f16 d, u8 qs[16]; x[j] = (lo(qs[j]) - 8) d, x[j + 16] = (hi(qs[j]) - 8) d.
const q4_0: BlockDecoder = (bytes, at, quants, scales, zeroPoints, block) => {
  scales[block] = half(halfLookup(), bytes, at);
  zeroPoints[block] = 8;
  for (let j = 0; j < 16; j++) {
    const byte = bytes[at + 2 + j] as number;
    quants[j] = byte & 15;
    quants[j + 16] = byte >> 4;
  }
};

// Q4_1, 20 bytes: f16 d, f16 m, u8 qs[16]; x = q d + m.
const q4_1: BlockDecoder = (bytes, at, quants, scales, zeroPoints, block) => {
  const table = halfLookup();
  for (let j = 0; j < 16; j++) {
    const byte = bytes[at + 4 + j] as number;
    quants[j] = byte & 15;
    quants[j + 16] = byte >> 4;
  }
  affine(quants, 0, 32, half(table, bytes, at), -half(table, bytes, at + 2), scales, zeroPoints, block);
};

// Q5_0, 22 bytes: f16 d, u32 qh (bit j: the 5th bit of x[j]), u8 qs[16]; x = (q - 16) d.
const q5_0: BlockDecoder = (bytes, at, quants, scales, zeroPoints, block) => {
  scales[block] = half(halfLookup(), bytes, at);
  zeroPoints[block] = 128;
  const qh = ((bytes[at + 2] as number) | ((bytes[at + 3] as number) << 8) | ((bytes[at + 4] as number) << 16) | ((bytes[at + 5] as number) << 24)) >>> 0;
  for (let j = 0; j < 16; j++) {
    const byte = bytes[at + 6 + j] as number;
    quants[j] = ((byte & 15) | (((qh >>> j) & 1) << 4)) + 112;
    quants[j + 16] = ((byte >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + 112;
  }
};

// Q8_0, 34 bytes: f16 d, i8 qs[32]; x = q d. q + 128 is the byte with its top bit flipped.
const q8_0: BlockDecoder = (bytes, at, quants, scales, zeroPoints, block) => {
  scales[block] = half(halfLookup(), bytes, at);
  zeroPoints[block] = 128;
  for (let j = 0; j < 32; j++) quants[j] = (bytes[at + 2 + j] as number) ^ 0x80;
};

// Q4_K, 144 bytes: f16 d, f16 dmin, u8 scales[12], u8 qs[128]; eight sub-blocks of 32, each 32
// bytes of qs holding two (low nibbles, then high); x = (d sc) q - (dmin m), each product float32.
const q4_K: BlockDecoder = (bytes, at, quants, scales, zeroPoints, block) => {
  const table = halfLookup();
  const d = half(table, bytes, at), dmin = half(table, bytes, at + 2);
  for (let sub = 0; sub < 8; sub++) {
    const [scale, min] = scaleMin(bytes, at + 4, sub);
    const qs = at + 16 + 32 * (sub >> 1), shift = 4 * (sub & 1);
    for (let l = 0; l < 32; l++) quants[32 * sub + l] = ((bytes[qs + l] as number) >> shift) & 15;
    affine(quants, 32 * sub, 32, Math.fround(d * scale), Math.fround(dmin * min), scales, zeroPoints, block + sub);
  }
};

// Q6_K, 210 bytes: u8 ql[128], u8 qh[64], i8 scales[16], f16 d; sixteen sub-blocks of 16, x =
// (d sc) (q - 32). In half h, value 32 k + l takes its low 4 bits from ql[64 h + l + 32 (k & 1)]
// (low nibble for k < 2) and its top 2 from qh[32 h + l] bits 2k, 2k + 1 (as gguf-dequant.ts).
const q6_K: BlockDecoder = (bytes, at, quants, scales, zeroPoints, block) => {
  const d = half(halfLookup(), bytes, at + 208);
  for (let sub = 0; sub < 16; sub++) {
    scales[block + sub] = Math.fround(d * ((((bytes[at + 192 + sub] as number) << 24) >> 24)));
    zeroPoints[block + sub] = 128;
  }
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const low = bytes[at + 64 * h + l] as number, low2 = bytes[at + 64 * h + l + 32] as number, high = bytes[at + 128 + 32 * h + l] as number;
      const y = 128 * h + l;
      quants[y] = ((low & 15) | ((high & 3) << 4)) + 96;
      quants[y + 32] = ((low2 & 15) | (((high >> 2) & 3) << 4)) + 96;
      quants[y + 64] = ((low >> 4) | (((high >> 4) & 3) << 4)) + 96;
      quants[y + 96] = ((low2 >> 4) | (((high >> 6) & 3) << 4)) + 96;
    }
  }
};

const REPACKINGS: Readonly<Record<string, Repacking>> = {
  Q4_0: { bits: 4, blockSize: 32, decode: q4_0 },
  Q4_1: { bits: 4, blockSize: 32, decode: q4_1 },
  Q5_0: { bits: 8, blockSize: 32, decode: q5_0 },
  Q8_0: { bits: 8, blockSize: 32, decode: q8_0 },
  Q4_K: { bits: 4, blockSize: 32, decode: q4_K },
  Q6_K: { bits: 8, blockSize: 16, decode: q6_K },
};

/** Whether `repackForMatMulNBits` repacks ggml type `type`. */
export function canRepackForMatMulNBits(type: number): boolean {
  const name = GGML_TYPES[type]?.name;
  return name !== undefined && name in REPACKINGS;
}

/**
 * A 2-D weight of ggml type `type` (`rows` of `columns` values, row-major, as stored) in
 * MatMulNBits form, or undefined for a type that does not repack exactly (see above).
 */
export function repackForMatMulNBits(type: number, bytes: Uint8Array, rows: number, columns: number): QuantizedWeight | undefined {
  const traits = GGML_TYPES[type];
  const repacking = traits === undefined ? undefined : REPACKINGS[traits.name];
  if (traits === undefined || repacking === undefined) return undefined;
  const { bits, blockSize, decode } = repacking;
  const ggmlBlocks = (rows * columns) / traits.blockSize;
  if (columns % traits.blockSize !== 0 || bytes.byteLength !== ggmlBlocks * traits.typeSize) {
    throw new ToolbenchError('model.invalid', 2, `${traits.name}: ${rows}x${columns} values need ${ggmlBlocks * traits.typeSize} bytes in rows of whole blocks of ${traits.blockSize}, got ${bytes.byteLength} bytes`);
  }
  // rows are whole ggml blocks, so the flat block order is MatMulNBits' [N, K/blockSize] order
  const data = new Uint8Array((rows * columns * bits) / 8);
  const scales = new Float32Array((rows * columns) / blockSize);
  const zeroPoints = new Float32Array(scales.length);
  const quants = new Uint8Array(traits.blockSize);
  const perBlock = traits.blockSize / blockSize;
  for (let index = 0; index < ggmlBlocks; index++) {
    decode(bytes, index * traits.typeSize, quants, scales, zeroPoints, index * perBlock);
    if (bits === 8) {
      data.set(quants, index * traits.blockSize);
    } else {
      const out = (index * traits.blockSize) / 2;
      for (let j = 0; j < quants.length; j += 2) data[out + j / 2] = (quants[j] as number) | ((quants[j + 1] as number) << 4);
    }
  }
  return { bits, blockSize, rows, columns, data, scales, zeroPoints };
}

/** Whether every zero point is onnxruntime's default, 2^(bits-1): the graph can leave them out. */
export function hasDefaultZeroPoints(weight: QuantizedWeight): boolean {
  const standard = 2 ** (weight.bits - 1);
  return weight.zeroPoints.every((zeroPoint) => zeroPoint === standard);
}

/** The weight with its rows reordered: row r of the result is row `order[r]` of `weight`. */
export function reorderQuantizedRows(weight: QuantizedWeight, order: ArrayLike<number>): QuantizedWeight {
  const rowBytes = weight.data.length / weight.rows;
  const rowBlocks = weight.scales.length / weight.rows;
  const data = new Uint8Array(weight.data.length);
  const scales = new Float32Array(weight.scales.length);
  const zeroPoints = new Float32Array(weight.zeroPoints.length);
  for (let row = 0; row < weight.rows; row++) {
    const from = order[row] as number;
    data.set(weight.data.subarray(from * rowBytes, (from + 1) * rowBytes), row * rowBytes);
    scales.set(weight.scales.subarray(from * rowBlocks, (from + 1) * rowBlocks), row * rowBlocks);
    zeroPoints.set(weight.zeroPoints.subarray(from * rowBlocks, (from + 1) * rowBlocks), row * rowBlocks);
  }
  return { ...weight, data, scales, zeroPoints };
}

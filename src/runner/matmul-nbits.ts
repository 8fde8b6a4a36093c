/**
 * GGUF block-quantised weights repacked for onnxruntime's com.microsoft MatMulNBits without
 * re-quantising: the 4-bit quants are kept and each ggml block's scale (and min) becomes a
 * MatMulNBits scale and zero point, value = (q - zero point) * scale.
 *
 *   Q4_0  bits 4, block 32  scale d, zero point 8                       exact
 *   Q4_1  bits 4, block 32  scale d, zero point -m / d                  float rounding of zp
 *   Q4_K  bits 4, block 32  scale d sc, zero point dmin m / (d sc)      float rounding of zp
 *
 * Only 4-bit formats repack: onnxruntime-node 1.29's CPU provider prepacks 4-bit weights for
 * MLAS's kernels (faster than an fp32 MatMul), while 8-bit MatMulNBits takes only the default zero
 * point (test/runner/matmul-nbits.test.ts pins it) and dequantises all of B on every run, about 4
 * times slower than the float weight. So Q5_x, Q6_K, Q8_0, F32, F16, BF16 and the rest give
 * undefined, and the graph uses the float weight; repacking them would be work at load for nothing.
 *
 * A block whose scale is 0 holds one value (m, or -dmin m) in all its places: its quants become
 * 1, its scale that value and its zero point 0, which is exact.
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
  /** MatMulNBits block size: ggml blocks hold a whole number of them. */
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

const REPACKINGS: Readonly<Record<string, Repacking>> = {
  Q4_0: { blockSize: 32, decode: q4_0 },
  Q4_1: { blockSize: 32, decode: q4_1 },
  Q4_K: { blockSize: 32, decode: q4_K },
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
  const { blockSize, decode } = repacking;
  const ggmlBlocks = (rows * columns) / traits.blockSize;
  if (columns % traits.blockSize !== 0 || bytes.byteLength !== ggmlBlocks * traits.typeSize) {
    throw new ToolbenchError('model.invalid', 2, `${traits.name}: ${rows}x${columns} values need ${ggmlBlocks * traits.typeSize} bytes in rows of whole blocks of ${traits.blockSize}, got ${bytes.byteLength} bytes`);
  }
  // rows are whole ggml blocks, so the flat block order is MatMulNBits' [N, K/blockSize] order
  const data = new Uint8Array((rows * columns) / 2);
  const scales = new Float32Array((rows * columns) / blockSize);
  const zeroPoints = new Float32Array(scales.length);
  const quants = new Uint8Array(traits.blockSize);
  const perBlock = traits.blockSize / blockSize;
  for (let index = 0; index < ggmlBlocks; index++) {
    decode(bytes, index * traits.typeSize, quants, scales, zeroPoints, index * perBlock);
    // two quants a byte, low nibble first
    const out = (index * traits.blockSize) / 2;
    for (let j = 0; j < quants.length; j += 2) data[out + j / 2] = (quants[j] as number) | ((quants[j + 1] as number) << 4);
  }
  return { bits: 4, blockSize, rows, columns, data, scales, zeroPoints };
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

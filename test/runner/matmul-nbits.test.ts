/**
 * GGUF blocks repacked for com.microsoft MatMulNBits: the repacked weight unpacks to what
 * gguf-dequant.ts reads (bit for bit for the symmetric formats, within one unit in the last place
 * of the block's offset for those with a min), and onnxruntime-node's MatMulNBits (CPU) multiplies
 * by it as an fp32 MatMul by the dequantised weight does. Also pins which MatMulNBits forms this
 * onnxruntime accepts, which decides the formats that repack.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readGguf, readGgufTensorBytes } from '../../src/runner/gguf.js';
import { dequantize } from '../../src/runner/gguf-dequant.js';
import { hasDefaultZeroPoints, reorderQuantizedRows, repackForMatMulNBits } from '../../src/runner/matmul-nbits.js';
import { DataType, encodeModel, type TensorProto } from '../../src/runner/onnx-proto.js';
import { loadOrt } from '../../src/runner/session.js';
import type { QuantizedWeight } from '../../src/runner/weights.js';
import { quantise, randomValues, writeGguf, GGML_TYPE_CODES, type QuantType } from '../helpers/gguf-writer.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-matmul-nbits-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Rows and columns of the test weight: whole Q4_K/Q6_K super-blocks, one row of each kind below. */
const ROWS = 6;
const COLUMNS = 512;

/** Random rows, a row of zeros, one of large values, one constant (a block with scale 0 and a min), one with an offset. */
function testValues(seed: number): Float32Array {
  const values = randomValues(ROWS * COLUMNS, seed);
  const row = (index: number) => values.subarray(index * COLUMNS, (index + 1) * COLUMNS);
  row(2).fill(0);
  row(3).forEach((value, index, array) => (array[index] = value * 1000));
  row(4).fill(-0.37);
  row(5).forEach((value, index, array) => (array[index] = value + 3));
  return values;
}

/** The test weight written as a GGUF tensor and read back: its stored bytes and what dequantize() makes of them. */
function storedWeight(type: QuantType): { bytes: Uint8Array; dequantised: Float32Array } {
  const file = join(scratch, `${type}.gguf`);
  writeGguf(file, { tensors: [{ name: 'weight', dims: [COLUMNS, ROWS], type, bytes: quantise(testValues(GGML_TYPE_CODES[type]), type).bytes }] });
  const gguf = readGguf(file);
  const tensor = gguf.tensors.get('weight');
  assert.ok(tensor);
  const bytes = readGgufTensorBytes(gguf, tensor);
  return { bytes, dequantised: dequantize(tensor.type, bytes, tensor.elementCount) };
}

/** (q - zero point) * scale in float32, as MatMulNBits defines the weight: [rows, columns] row-major. */
function unpack(weight: QuantizedWeight): Float32Array {
  const { rows, columns, bits, blockSize, data, scales, zeroPoints } = weight;
  const out = new Float32Array(rows * columns);
  for (let index = 0; index < out.length; index++) {
    const q = bits === 8 ? (data[index] as number) : ((data[index >> 1] as number) >> (4 * (index & 1))) & 15;
    const block = Math.floor(index / blockSize); // rows are whole blocks
    out[index] = Math.fround(q - (zeroPoints[block] as number)) * (scales[block] as number);
  }
  return out;
}

/** The spacing of float32 values at |value|. */
function ulp(value: number): number {
  const magnitude = Math.abs(Math.fround(value));
  return magnitude < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(magnitude)) - 23);
}

/** One MatMulNBits node, y = a @ dequant(weight)^T for a [m, K] input; zero points left out when they are the default. */
function matMulNBitsModel(weight: QuantizedWeight, m: number, options: { zeroPoints?: 'float' | 'default' } = {}): Uint8Array {
  const { rows, columns, bits, blockSize } = weight;
  const blocks = columns / blockSize;
  const floats = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const initializers: TensorProto[] = [
    { name: 'B', dims: [rows, blocks, (blockSize * bits) / 8], dataType: DataType.UINT8, bytes: weight.data },
    { name: 'scales', dims: [rows * blocks], dataType: DataType.FLOAT, bytes: floats(weight.scales) },
  ];
  const inputs = ['A', 'B', 'scales'];
  if ((options.zeroPoints ?? (hasDefaultZeroPoints(weight) ? 'default' : 'float')) === 'float') {
    initializers.push({ name: 'zero_points', dims: [rows * blocks], dataType: DataType.FLOAT, bytes: floats(weight.zeroPoints) });
    inputs.push('zero_points');
  }
  const int = (value: number) => ({ kind: 'int' as const, value });
  return encodeModel({
    opsets: { '': 17, 'com.microsoft': 1 },
    graph: {
      name: 'matmul-nbits',
      nodes: [{ op: 'MatMulNBits', domain: 'com.microsoft', name: 'matmul', inputs, outputs: ['Y'], attributes: { K: int(columns), N: int(rows), bits: int(bits), block_size: int(blockSize) } }],
      initializers,
      inputs: [{ name: 'A', elemType: DataType.FLOAT, dims: [m, columns] }],
      outputs: [{ name: 'Y', elemType: DataType.FLOAT, dims: [m, rows] }],
    },
  });
}

async function runMatMulNBits(weight: QuantizedWeight, a: Float32Array, options: { zeroPoints?: 'float' | 'default' } = {}): Promise<Float32Array> {
  const ort = await loadOrt();
  const m = a.length / weight.columns;
  // logSeverityLevel 4 (fatal only): a refused form still throws, without ORT printing it too
  const session = await ort.InferenceSession.create(matMulNBitsModel(weight, m, options), { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 4 });
  try {
    const outputs = await session.run({ A: new ort.Tensor('float32', a, [m, weight.columns]) });
    return outputs['Y']?.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * y against a @ w^T in float64, each entry within 1e-4 of the sum of |a_k w_k| (the size the
 * rounding of an fp32 dot product scales with, whatever cancels).
 */
function assertMatMul(y: Float32Array, a: Float32Array, w: Float32Array, rows: number, columns: number, label: string): void {
  const m = a.length / columns;
  assert.equal(y.length, m * rows, `${label}: output length`);
  for (let i = 0; i < m; i++) {
    for (let n = 0; n < rows; n++) {
      let sum = 0, size = 0;
      for (let k = 0; k < columns; k++) {
        const product = (a[i * columns + k] as number) * (w[n * columns + k] as number);
        sum += product;
        size += Math.abs(product);
      }
      const actual = y[i * rows + n] as number;
      if (!(Math.abs(actual - sum) <= 1e-4 * size)) assert.fail(`${label}: y[${i}, ${n}] = ${actual}, expected ${sum} (within ${1e-4 * size})`);
    }
  }
}

/** Repacked form of each format: bits, block size, and whether it is exact (symmetric, default zero points). */
const REPACKED: [QuantType, { bits: 4 | 8; blockSize: number; symmetric: boolean }][] = [
  ['Q4_0', { bits: 4, blockSize: 32, symmetric: true }],
  ['Q4_1', { bits: 4, blockSize: 32, symmetric: false }],
  ['Q4_K', { bits: 4, blockSize: 32, symmetric: false }],
];

describe('repackForMatMulNBits', () => {
  for (const [type, expected] of REPACKED) {
    test(`${type}: repacks to ${expected.bits}-bit blocks of ${expected.blockSize} that unpack to dequantize()'s values${expected.symmetric ? ', bit for bit' : ' within 1 ulp of the block offset'}`, () => {
      const { bytes, dequantised } = storedWeight(type);
      const weight = repackForMatMulNBits(GGML_TYPE_CODES[type], bytes, ROWS, COLUMNS);
      assert.ok(weight, type);
      assert.deepEqual([weight.bits, weight.blockSize, weight.rows, weight.columns], [expected.bits, expected.blockSize, ROWS, COLUMNS]);
      assert.equal(weight.data.length, (ROWS * COLUMNS * expected.bits) / 8);
      assert.equal(weight.scales.length, (ROWS * COLUMNS) / expected.blockSize);
      assert.equal(weight.zeroPoints.length, weight.scales.length);
      assert.equal(hasDefaultZeroPoints(weight), expected.symmetric);
      const unpacked = unpack(weight);
      let worst = 0;
      for (let index = 0; index < unpacked.length; index++) {
        const actual = unpacked[index] as number, reference = dequantised[index] as number;
        const block = Math.floor(index / weight.blockSize);
        // the affine formats round -m/d (or dmin m / (d sc)) to float32: the error scales with the offset
        const offset = Math.abs((weight.zeroPoints[block] as number) * (weight.scales[block] as number));
        const allowed = expected.symmetric ? 0 : ulp(Math.max(Math.abs(reference), offset));
        const error = Math.abs(actual - reference);
        if (!(error <= allowed)) assert.fail(`${type}[${index}]: ${actual} vs ${reference}, over ${allowed} by ${error - allowed}`);
        worst = Math.max(worst, error);
      }
      if (expected.symmetric) assert.equal(worst, 0);
    });

    test(`${type}: onnxruntime's MatMulNBits multiplies by it as an fp32 MatMul by the dequantised weight`, async () => {
      const { bytes, dequantised } = storedWeight(type);
      const weight = repackForMatMulNBits(GGML_TYPE_CODES[type], bytes, ROWS, COLUMNS);
      assert.ok(weight);
      const a = randomValues(3 * COLUMNS, 11);
      assertMatMul(await runMatMulNBits(weight, a), a, dequantised, ROWS, COLUMNS, type);
    });
  }

  // 8-bit MatMulNBits dequantises B on every run on the CPU (slower than the float weight), and
  // 5-bit quants need 8 bits
  for (const type of ['Q8_0', 'Q5_0', 'Q6_K', 'Q5_1', 'Q5_K', 'F32', 'F16', 'BF16'] as const) {
    test(`${type}: not repacked (the graph takes the float weight)`, () => {
      const bytes = quantise(testValues(1), type).bytes;
      assert.equal(repackForMatMulNBits(GGML_TYPE_CODES[type], bytes, ROWS, COLUMNS), undefined);
    });
  }

  test('reordered rows carry their quants, scales and zero points', () => {
    const { bytes } = storedWeight('Q4_1');
    const weight = repackForMatMulNBits(GGML_TYPE_CODES.Q4_1, bytes, ROWS, COLUMNS);
    assert.ok(weight);
    const order = [3, 0, 5, 1, 4, 2];
    const reordered = reorderQuantizedRows(weight, order);
    const unpacked = unpack(weight), unpackedReordered = unpack(reordered);
    order.forEach((from, row) => assert.deepEqual(unpackedReordered.subarray(row * COLUMNS, (row + 1) * COLUMNS), unpacked.subarray(from * COLUMNS, (from + 1) * COLUMNS), `row ${row}`));
  });
});

describe('onnxruntime MatMulNBits (CPU) forms', () => {
  /** Random quants, scales of both signs, fractional zero points (or the default). */
  function syntheticWeight(bits: 4 | 8, blockSize: number, zeroPoints: 'float' | 'default'): QuantizedWeight {
    const rows = 4, columns = 64, blocks = (rows * columns) / blockSize;
    const random = randomValues(rows * columns + 2 * blocks, bits * blockSize);
    const data = new Uint8Array((rows * columns * bits) / 8);
    for (let index = 0; index < rows * columns; index++) {
      const q = Math.floor(((random[index] as number) + 1) * 2 ** (bits - 1)) % 2 ** bits;
      data[bits === 8 ? index : index >> 1] = (data[bits === 8 ? index : index >> 1] as number) | (bits === 8 ? q : q << (4 * (index & 1)));
    }
    const scales = random.slice(rows * columns, rows * columns + blocks);
    const zero = random.slice(rows * columns + blocks).map((value) => (zeroPoints === 'default' ? 2 ** (bits - 1) : (value + 1) * 2 ** (bits - 1)));
    return { bits, blockSize, rows, columns, data, scales, zeroPoints: zero };
  }

  for (const bits of [4, 8] as const) {
    for (const blockSize of [16, 32]) {
      test(`bits ${bits}, block ${blockSize}, default zero points: accepted and exact to fp32 rounding`, async () => {
        const weight = syntheticWeight(bits, blockSize, 'default');
        const a = randomValues(2 * weight.columns, 5);
        assertMatMul(await runMatMulNBits(weight, a, { zeroPoints: 'default' }), a, unpack(weight), weight.rows, weight.columns, `bits ${bits} block ${blockSize}`);
      });
      if (bits === 4) {
        test(`bits 4, block ${blockSize}, float zero points: accepted and exact to fp32 rounding`, async () => {
          const weight = syntheticWeight(4, blockSize, 'float');
          const a = randomValues(2 * weight.columns, 6);
          assertMatMul(await runMatMulNBits(weight, a, { zeroPoints: 'float' }), a, unpack(weight), weight.rows, weight.columns, `bits 4 block ${blockSize} float zero points`);
        });
      } else {
        // matmul_nbits.cc: float zero points take the unpacked path, which reads 2- and 4-bit
        // quants only. Hence no Q5_1/Q5_K: when this fails, onnxruntime has learnt it.
        test(`bits 8, block ${blockSize}, float zero points: refused when run`, async () => {
          const weight = syntheticWeight(8, blockSize, 'float');
          await assert.rejects(runMatMulNBits(weight, randomValues(2 * weight.columns, 7), { zeroPoints: 'float' }), /2b and 4b/);
        });
      }
    }
  }
});

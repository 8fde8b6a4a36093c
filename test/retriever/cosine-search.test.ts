/** The cosine ranking under the dense retriever: order, ties, bounds, zero rows, and speed at ToolBench's corpus size. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeRows, topCosine } from '../../src/retriever/cosine-search.js';

describe('topCosine', () => {
  test('best first; equal scores in row order; n beyond the rows gives every row', () => {
    // rows (dimension 2): 0 and 3 equal, 2 best, 1 worst
    const matrix = normalizeRows(Float32Array.from([1, 1, -1, 0, 0, 1, 1, 1]), 2);
    const query = normalizeRows(Float32Array.from([0, 1]), 2);
    const ranked = topCosine(matrix, 2, query, 10);
    assert.deepEqual(ranked.map((row) => row.index), [2, 0, 3, 1]);
    assert.ok(Math.abs((ranked[1] as { score: number }).score - Math.SQRT1_2) < 1e-6);
    assert.deepEqual(topCosine(matrix, 2, query, 2).map((row) => row.index), [2, 0]);
    assert.deepEqual(topCosine(matrix, 2, query, 3).map((row) => row.index), [2, 0, 3]);
    assert.deepEqual(topCosine(matrix, 2, query, 0), []);
    assert.throws(() => topCosine(matrix, 2, Float32Array.from([1, 0, 0]), 1), RangeError);
  });

  test('ties keep row order when n is small beside the rows too (the bounded insertion path)', () => {
    // 40 rows: 7, 12 and 30 share the best score, every other row is orthogonal to the query
    const matrix = new Float32Array(40 * 2);
    for (let row = 0; row < 40; row++) matrix[row * 2 + ([7, 12, 30].includes(row) ? 0 : 1)] = 1;
    const query = Float32Array.from([1, 0]);
    assert.deepEqual(topCosine(matrix, 2, query, 2).map((row) => row.index), [7, 12]);
    assert.deepEqual(topCosine(matrix, 2, query, 4).map((row) => row.index), [7, 12, 30, 0]);
  });

  test('normalizeRows leaves an all-zero row at zero (score 0, not NaN)', () => {
    const matrix = normalizeRows(Float32Array.from([0, 0, 3, 4]), 2);
    assert.deepEqual([...matrix], [0, 0, Math.fround(0.6), Math.fround(0.8)]);
    assert.deepEqual(topCosine(matrix, 2, Float32Array.from([1, 0]), 2), [{ index: 1, score: Math.fround(0.6) }, { index: 0, score: 0 }]);
  });

  test('16,000 × 384 documents, top 50: the same as a full sort, in well under a second', () => {
    const rows = 16_000;
    const dimension = 384;
    let state = 7;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
    const matrix = normalizeRows(Float32Array.from({ length: rows * dimension }, random), dimension);
    const query = normalizeRows(Float32Array.from({ length: dimension }, random), dimension);
    const started = performance.now();
    const top = topCosine(matrix, dimension, query, 50);
    const elapsed = performance.now() - started;
    const all = topCosine(matrix, dimension, query, rows);
    assert.deepEqual(top, all.slice(0, 50));
    for (let index = 1; index < all.length; index++) assert.ok((all[index - 1] as { score: number }).score >= (all[index] as { score: number }).score);
    assert.ok(elapsed < 1000, `${elapsed.toFixed(0)} ms`);
  });
});

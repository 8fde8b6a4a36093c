/**
 * Cosine-similarity search over a row-major matrix of unit vectors, as sentence-transformers'
 * `util.semantic_search(..., score_function=cos_sim)` ranks: best first. Ties keep corpus order.
 */

export interface ScoredRow {
  readonly index: number;
  readonly score: number;
}

/**
 * Scales each row of `matrix` (rows × dimension) to unit length in place; an all-zero row stays
 * zero (torch's `normalize` divides by max(norm, 1e-12)).
 */
export function normalizeRows(matrix: Float32Array, dimension: number): Float32Array {
  for (let start = 0; start < matrix.length; start += dimension) {
    let sum = 0;
    for (let index = start; index < start + dimension; index++) sum += (matrix[index] as number) ** 2;
    const scale = 1 / Math.max(Math.sqrt(sum), 1e-12);
    for (let index = start; index < start + dimension; index++) matrix[index] = (matrix[index] as number) * scale;
  }
  return matrix;
}

/**
 * The `n` rows of `matrix` (rows × dimension, unit rows) with the largest dot product with
 * `query` (a unit vector), best first; equal scores in row order.
 */
export function topCosine(matrix: Float32Array, dimension: number, query: Float32Array, n: number): ScoredRow[] {
  if (query.length !== dimension) throw new RangeError(`query has ${query.length} values, the corpus ${dimension}`);
  const rows = matrix.length / dimension;
  const size = Math.min(n, rows);
  if (size <= 0) return [];
  if (size * 8 > rows) return sortedRows(matrix, dimension, query).slice(0, size);
  // kept sorted, best first: a row enters when it beats the worst kept (a tie does not)
  const indices = new Int32Array(size);
  const scores = new Float64Array(size);
  let kept = 0;
  for (let row = 0; row < rows; row++) {
    const score = dot(matrix, row * dimension, query);
    if (kept === size && !(score > (scores[size - 1] as number))) continue;
    let position = kept < size ? kept++ : size - 1;
    while (position > 0 && (scores[position - 1] as number) < score) {
      scores[position] = scores[position - 1] as number;
      indices[position] = indices[position - 1] as number;
      position--;
    }
    scores[position] = score;
    indices[position] = row;
  }
  return Array.from({ length: kept }, (_, position) => ({ index: indices[position] as number, score: scores[position] as number }));
}

/** Every row, best first (a stable sort keeps ties in row order): for an n near the row count. */
function sortedRows(matrix: Float32Array, dimension: number, query: Float32Array): ScoredRow[] {
  const rows = matrix.length / dimension;
  const scored = Array.from({ length: rows }, (_, row) => ({ index: row, score: dot(matrix, row * dimension, query) }));
  return scored.sort((left, right) => (right.score > left.score ? 1 : right.score < left.score ? -1 : 0));
}

/** The dot product of the row starting at `base` with `query`. */
function dot(matrix: Float32Array, base: number, query: Float32Array): number {
  let sum = 0;
  for (let index = 0; index < query.length; index++) sum += (matrix[base + index] as number) * (query[index] as number);
  return sum;
}

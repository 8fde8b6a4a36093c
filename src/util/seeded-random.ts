/**
 * A uniform draw in [0, 1) fixed by a seed and the parts it is about. Upstream draws from a
 * process-wide RNG, so its results depend on call order (algorithms.md quirk 20); a draw derived
 * from the call itself is the same whatever order workers run in.
 */
import { createHash } from 'node:crypto';

export function seededUniform(seed: number, ...parts: readonly string[]): number {
  const hash = createHash('sha256').update(`${seed}`);
  for (const part of parts) hash.update('\u0000').update(part);
  return hash.digest().readUInt32BE(0) / 2 ** 32;
}

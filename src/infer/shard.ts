/**
 * `--shard i/n`: one of n machines' share of a run. A query belongs to shard i (1-based) when its
 * position in the combined input (all `--queries` sources in order, counting from 0) modulo n is
 * i - 1. Positions do not depend on ids, filters or what is already answered, so every shard sees
 * the same split and the answer folders merge by file name.
 */
import { usageError } from '../util/errors.js';

export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = match === null ? NaN : Number(match[1]);
  const count = match === null ? NaN : Number(match[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw usageError(`--shard ${text}: expected i/n with 1 <= i <= n, e.g. 1/4 for the first of four shards`);
  }
  return { index, count };
}

export function inShard(position: number, shard: Shard | undefined): boolean {
  return shard === undefined || position % shard.count === shard.index - 1;
}

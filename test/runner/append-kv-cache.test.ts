/**
 * The append KV-cache layout (append-kv-cache.ts) against the Optimum layout, on a tiny random
 * checkpoint: the same logits step by step in both graphs and in float16, capacity growth, and a
 * kept prefix that a later call continuing from it does not overwrite.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppendKvCache } from '../../src/runner/append-kv-cache.js';
import { CausalLm, cacheLength, sliceCache, type CausalLmOptions, type ForwardInput, type KvCache } from '../../src/runner/causal-lm.js';
import { writeTinyLlama } from '../helpers/tiny-checkpoint.js';
import { onHost } from '../helpers/host-cache.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-append-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));
const { dir } = writeTinyLlama(join(root, 'llama'), { numAttentionHeads: 4, numKeyValueHeads: 2, seed: 61 });

/** The same graph and kernels read the same values: only the cache's transposes differ. */
const TOLERANCE = 1e-6;
const TOKENS = [1, 341, 259, 17, 276, 383, 280, 268, 100, 262, 270, 259, 3, 261, 277, 350];

const load = (options: Partial<CausalLmOptions>) => CausalLm.load(dir, { device: 'cpu', threads: 1, ...options });
const unpadded = (tokens: readonly number[], from = 0): ForwardInput => ({ ids: [tokens], attentionMask: [Array<number>(from + tokens.length).fill(1)], positionIds: [tokens.map((_, index) => from + index)] });

function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: lengths`);
  let max = 0;
  for (let index = 0; index < actual.length; index++) max = Math.max(max, Math.abs((actual[index] as number) - (expected[index] as number)));
  assert.ok(max <= tolerance, `${label}: max |Δ| ${max} over ${tolerance}`);
}

/** Prefill 5 tokens of a left-padded batch of 2, then single-token steps: the logits of each call. */
async function steps(lm: CausalLm, capacity: number): Promise<{ logits: Float32Array[]; cache: KvCache }> {
  const mask = [
    [0, 0, 1, 1, 1],
    [1, 1, 1, 1, 1],
  ];
  let output = await lm.forward({ ids: [[0, 0, 1, 341, 259], TOKENS.slice(0, 5)], attentionMask: mask, positionIds: [[1, 1, 0, 1, 2], [0, 1, 2, 3, 4]] }, await lm.emptyCache(2, capacity));
  const logits = [output.logits];
  for (let step = 0; step < 6; step++) {
    mask.forEach((row) => row.push(1));
    output = await lm.forward({ ids: [[TOKENS[step + 5] as number], [TOKENS[step + 8] as number]], attentionMask: mask, positionIds: [[3 + step], [5 + step]] }, output.cache);
    logits.push(output.logits);
  }
  return { logits, cache: output.cache };
}

describe('append KV cache', () => {
  for (const [graph, floatType, tolerance] of [['fused', 'float32', TOLERANCE], ['unfused', 'float32', TOLERANCE], ['fused', 'float16', 1e-3]] as const) {
    test(`${graph} ${floatType}: each step's logits are the Optimum-layout graph's (within ${tolerance})`, async () => {
      const append = await load({ graph, floatType });
      const optimum = await load({ graph, floatType, cacheLayout: 'optimum' });
      try {
        assert.equal(append.cacheLayout, 'append', 'the default for generated graphs');
        // capacity 2: the cache grows (doubling) during the prefill and twice more while decoding
        const ours = await steps(append, 2);
        const theirs = await steps(optimum, 0);
        ours.logits.forEach((logits, index) => assertClose(logits, theirs.logits[index] as Float32Array, tolerance, `call ${index}`));
        assert.ok(ours.cache instanceof AppendKvCache);
        assert.equal(ours.cache.length, 11);
        assert.ok(ours.cache.capacity >= 11);
        const key = onHost(ours.cache).get('past_key_values.1.key');
        assert.deepEqual(key?.dims, [2, 2, 11, 8]);
        assert.equal(key?.type, floatType);
        if (floatType === 'float32') assertClose(key?.data as Float32Array, onHost(theirs.cache).get('past_key_values.1.key')?.data as Float32Array, tolerance, 'layer 1 keys in the Optimum layout');
      } finally {
        await append.release();
        await optimum.release();
      }
    });
  }

  test('capacity doubles when full, and an exact capacity does not grow', async () => {
    const lm = await load({});
    try {
      const first = await lm.forward(unpadded(TOKENS.slice(0, 3)), await lm.emptyCache(1, 4));
      const cache = first.cache as AppendKvCache;
      assert.equal(cache.capacity, 4);
      const second = (await lm.forward(unpadded(TOKENS.slice(3, 5), 3), cache)).cache as AppendKvCache;
      assert.equal(second.length, 5);
      assert.equal(second.capacity, 8, 'doubled');
      const exact = (await lm.forward(unpadded(TOKENS.slice(0, 5)), await lm.emptyCache(1, 5))).cache as AppendKvCache;
      assert.equal(exact.capacity, 5);
    } finally {
      await lm.release();
    }
  });

  test('a kept cache and its prefix are not overwritten by later calls continuing from them', async () => {
    const lm = await load({});
    try {
      const whole = onHost((await lm.forward(unpadded(TOKENS.slice(0, 10)), await lm.emptyCache(1, 32))).cache);
      const before = whole.get('past_key_values.0.value')?.data as Float32Array;
      const prefix = await sliceCache(whole, 4);
      assert.equal(cacheLength(prefix), 4);
      // a different continuation of the first 4 tokens, from the prefix: would land on positions 4.. of `whole`
      const branch = await lm.forward(unpadded([5, 6, 7], 4), prefix);
      const alone = await lm.forward(unpadded([...TOKENS.slice(0, 4), 5, 6, 7]), await lm.emptyCache(1));
      assertClose(branch.logits, alone.logits.slice(4 * (alone.logits.length / 7)), 1e-5, 'the branch is the one-pass continuation');
      assertClose(whole.get('past_key_values.0.value')?.data as Float32Array, before, 0, 'the kept cache is unchanged');
      // the kept cache continued after the branch still gives its one-pass logits
      const next = await lm.forward(unpadded([9], 10), whole);
      const full = await lm.forward(unpadded([...TOKENS.slice(0, 10), 9]), await lm.emptyCache(1));
      assertClose(next.logits, full.logits.slice(10 * (full.logits.length / 11)), 1e-5, 'the kept cache continued');
      // and the prefix still holds the first 4 positions
      const again = await lm.forward(unpadded([5, 6, 7], 4), prefix);
      assertClose(again.logits, branch.logits, 0, 'the prefix continued again');
    } finally {
      await lm.release();
    }
  });
});

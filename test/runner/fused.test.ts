/**
 * The fused LLaMA graph (llama-fused-graph.ts) against the unfused one and the float64 reference
 * (test/helpers/reference-llama.ts), on tiny random checkpoints: attention layouts, RoPE scaling,
 * the KV cache, left-padded batches, float16, and block-quantised weights on MatMulNBits.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLm, type CausalLmOptions, type ForwardInput, type KvCache } from '../../src/runner/causal-lm.js';
import { parseModelConfig, type LlamaConfig } from '../../src/runner/model-config.js';
import { memoryWeights, type QuantizedWeight, type WeightSource, type WeightValues } from '../../src/runner/weights.js';
import { llamaReferenceLogits } from '../helpers/reference-llama.js';
import { writeTinyLlama, type TinyLlamaOptions } from '../helpers/tiny-checkpoint.js';
import { onHost } from '../helpers/host-cache.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-fused-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const llama = (options: TinyLlamaOptions = {}) => writeTinyLlama(join(root, `llama-${counter++}`), options);

/** fp32 graphs against the float64 reference (as llama-runner.test.ts). */
const TOLERANCE = 1e-4;
/**
 * fused against unfused, both fp32: the same products summed in other orders by other kernels,
 * under 1e-5 on these checkpoints (|logits| up to ~6).
 */
const GRAPH_TOLERANCE = 2e-5;
/** float16 graphs against the reference (see llama-runner.test.ts: ~1e-3 relative per matmul). */
const FLOAT16_TOLERANCE = 5e-2;

const TOKENS = [1, 341, 259, 17, 276, 383, 280, 268, 100, 262, 270, 259, 3, 261, 277, 350];

type Graph = NonNullable<CausalLmOptions['graph']>;
const load = (dir: string, graph: Graph, options: Partial<CausalLmOptions> = {}) => CausalLm.load(dir, { device: 'cpu', threads: 1, graph, ...options });

/** Runs `body` on the fused and the unfused model, releasing both. */
async function withBoth<T>(open: (graph: Graph) => Promise<CausalLm>, body: (fused: CausalLm, unfused: CausalLm) => Promise<T>): Promise<T> {
  const fused = await open('fused');
  const unfused = await open('unfused');
  try {
    return await body(fused, unfused);
  } finally {
    await fused.release();
    await unfused.release();
  }
}

const unpadded = (tokens: readonly number[], from = 0): ForwardInput => ({ ids: [tokens], attentionMask: [Array<number>(from + tokens.length).fill(1)], positionIds: [tokens.map((_, index) => from + index)] });

/** Largest |a - b| over two flat arrays of the same length, and where it is. */
function worst(a: Float32Array, b: ArrayLike<number>, label: string): { max: number; index: number } {
  assert.equal(a.length, b.length, `${label}: lengths`);
  let max = 0;
  let at = 0;
  for (let index = 0; index < a.length; index++) {
    const gap = Math.abs((a[index] as number) - (b[index] as number));
    if (gap > max) [max, at] = [gap, index];
  }
  return { max, index: at };
}

const difference = (a: Float32Array, b: ArrayLike<number>, label: string): number => worst(a, b, label).max;

function assertClose(actual: Float32Array, expected: ArrayLike<number>, tolerance: number, label: string): void {
  const { max, index } = worst(actual, expected, label);
  assert.ok(max <= tolerance, `${label}[${index}]: ${actual[index]} vs ${expected[index]}, max |Δ| ${max} over ${tolerance}`);
}

const flat = (rows: readonly Float64Array[]): Float64Array => Float64Array.from(rows.flatMap((row) => Array.from(row)));
const rows = (logits: Float32Array, vocab: number, from: number, to: number): Float32Array => logits.slice(from * vocab, to * vocab);

describe('fused graph against the unfused graph and the float64 reference (fp32)', () => {
  const cases: [string, TinyLlamaOptions][] = [
    ['grouped-query attention (4 heads, 2 key/value heads)', { numAttentionHeads: 4, numKeyValueHeads: 2, seed: 41 }],
    ['multi-head attention (4 heads, 4 key/value heads)', { numAttentionHeads: 4, numKeyValueHeads: 4, seed: 42 }],
    ['multi-query attention (4 heads, 1 key/value head)', { numAttentionHeads: 4, numKeyValueHeads: 1, seed: 43 }],
    ['linear RoPE scaling, factor 2', { ropeScalingFactor: 2, seed: 44 }],
    ['tied input and output embeddings', { tieWordEmbeddings: true, seed: 45 }],
    ['head_dim 16 apart from hidden_size / heads', { headDim: 16, seed: 46 }],
  ];
  for (const [name, options] of cases) {
    test(`${name}: one sequence without a cache`, async () => {
      const checkpoint = llama(options);
      const expected = flat(llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS));
      await withBoth(
        (graph) => load(checkpoint.dir, graph),
        async (fused, unfused) => {
          const logits = (await fused.forward(unpadded(TOKENS), await fused.emptyCache(1))).logits;
          assertClose(logits, expected, TOLERANCE, 'fused vs reference');
          assertClose(logits, (await unfused.forward(unpadded(TOKENS), await unfused.emptyCache(1))).logits, GRAPH_TOLERANCE, 'fused vs unfused');
        },
      );
    });
  }

  test('the comparison is sensitive: the reference without RoPE scaling is far from the scaled checkpoint', async () => {
    const checkpoint = llama({ ropeScalingFactor: 2, seed: 44 });
    const unscaled = flat(llamaReferenceLogits(checkpoint.weights, { ...checkpoint.config, rope_scaling: null }, TOKENS));
    const lm = await load(checkpoint.dir, 'fused');
    try {
      const logits = (await lm.forward(unpadded(TOKENS), await lm.emptyCache(1))).logits;
      assert.ok(difference(logits, unscaled, 'unscaled') > 100 * TOLERANCE);
    } finally {
      await lm.release();
    }
  });
});

describe('fused graph: KV cache and left-padded batches (fp32)', () => {
  const checkpoint = llama({ seed: 51 });
  const vocab = checkpoint.config.vocab_size;

  test('a prefill then single-token steps through the cache give the full pass, as the unfused graph does', async () => {
    const expected = llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS);
    await withBoth(
      (graph) => load(checkpoint.dir, graph),
      async (fused, unfused) => {
        const prefill = 6;
        let output = await fused.forward(unpadded(TOKENS.slice(0, prefill)), await fused.emptyCache(1));
        let reference = await unfused.forward(unpadded(TOKENS.slice(0, prefill)), await unfused.emptyCache(1));
        assertClose(output.logits, flat(expected.slice(0, prefill)), TOLERANCE, 'prefill');
        for (let t = prefill; t < TOKENS.length; t++) {
          output = await fused.forward(unpadded([TOKENS[t] as number], t), output.cache);
          reference = await unfused.forward(unpadded([TOKENS[t] as number], t), reference.cache);
          assertClose(output.logits, expected[t] as Float64Array, TOLERANCE, `step ${t} vs reference`);
          assertClose(output.logits, reference.logits, GRAPH_TOLERANCE, `step ${t} vs unfused`);
        }
        const key = onHost(output.cache).get('past_key_values.1.key');
        assert.deepEqual(key?.dims, [1, checkpoint.config.num_key_value_heads, TOKENS.length, checkpoint.config.hidden_size / checkpoint.config.num_attention_heads]);
        assertClose(key?.data as Float32Array, onHost(reference.cache).get('past_key_values.1.key')?.data as Float32Array, GRAPH_TOLERANCE, 'present key');
      },
    );
  });

  test('a left-padded batch of three rows gives each row its unbatched logits, in the prefill and in cached steps', async () => {
    const prompts = [TOKENS.slice(0, 12), TOKENS.slice(3, 10), TOKENS.slice(8, 11)];
    const following = [
      [300, 42, 7],
      [7, 290, 1],
      [383, 1, 99],
    ];
    const width = 12;
    const ids = prompts.map((row) => [...Array<number>(width - row.length).fill(2), ...row]);
    let mask = prompts.map((row) => [...Array<number>(width - row.length).fill(0), ...row.map(() => 1)]);
    // as generate.ts: real tokens count from 0, padding sits at position 1
    const positions = mask.map((row) => {
      let seen = -1;
      return row.map((value) => (value === 1 ? ++seen : 1));
    });
    await withBoth(
      (graph) => load(checkpoint.dir, graph),
      async (fused, unfused) => {
        let batch = await fused.forward({ ids, attentionMask: mask, positionIds: positions }, await fused.emptyCache(3));
        let unfusedBatch = await unfused.forward({ ids, attentionMask: mask, positionIds: positions }, await unfused.emptyCache(3));
        const alone: { cache: KvCache; length: number }[] = [];
        for (const [row, prompt] of prompts.entries()) {
          const single = await fused.forward(unpadded(prompt), await fused.emptyCache(1));
          const pad = width - prompt.length;
          assertClose(rows(batch.logits, vocab, row * width + pad, (row + 1) * width), single.logits, GRAPH_TOLERANCE, `row ${row} prefill vs alone`);
          assertClose(rows(batch.logits, vocab, row * width + pad, (row + 1) * width), rows(unfusedBatch.logits, vocab, row * width + pad, (row + 1) * width), GRAPH_TOLERANCE, `row ${row} prefill vs unfused`);
          assertClose(single.logits, flat(llamaReferenceLogits(checkpoint.weights, checkpoint.config, prompt)), TOLERANCE, `row ${row} vs reference`);
          alone.push({ cache: single.cache, length: prompt.length });
        }
        for (let step = 0; step < following[0]!.length; step++) {
          const next = following.map((tokens) => tokens[step] as number);
          const stepPositions = mask.map((row) => [row.reduce((sum, value) => sum + value, 0)]);
          mask = mask.map((row) => [...row, 1]);
          const input = { ids: next.map((token) => [token]), attentionMask: mask, positionIds: stepPositions };
          batch = await fused.forward(input, batch.cache);
          unfusedBatch = await unfused.forward(input, unfusedBatch.cache);
          assertClose(batch.logits, unfusedBatch.logits, GRAPH_TOLERANCE, `step ${step} vs unfused`);
          for (const [row, state] of alone.entries()) {
            const single = await fused.forward(unpadded([next[row] as number], state.length), state.cache);
            alone[row] = { cache: single.cache, length: state.length + 1 };
            assertClose(rows(batch.logits, vocab, row, row + 1), single.logits, GRAPH_TOLERANCE, `row ${row} step ${step} vs alone`);
          }
        }
      },
    );
  });

  test('several new tokens after a cache, in a left-padded batch, as the unfused graph gives them', async () => {
    // the case com.microsoft GroupQueryAttention refuses (batch > 1, sequence > 1, past > 0)
    const mask = [
      [0, 0, 1, 1, 1],
      [1, 1, 1, 1, 1],
    ];
    const ids = [
      [2, 2, 341, 259, 17],
      [1, 276, 383, 280, 268],
    ];
    const positions = [
      [1, 1, 0, 1, 2],
      [0, 1, 2, 3, 4],
    ];
    const more = { ids: [[100, 262, 270], [259, 3, 261]], attentionMask: mask.map((row) => [...row, 1, 1, 1]), positionIds: [[3, 4, 5], [5, 6, 7]] };
    await withBoth(
      (graph) => load(checkpoint.dir, graph),
      async (fused, unfused) => {
        const first = await fused.forward({ ids, attentionMask: mask, positionIds: positions }, await fused.emptyCache(2));
        const reference = await unfused.forward({ ids, attentionMask: mask, positionIds: positions }, await unfused.emptyCache(2));
        const logits = (await fused.forward(more, first.cache)).logits;
        assertClose(logits, (await unfused.forward(more, reference.cache)).logits, GRAPH_TOLERANCE, 'continuation vs unfused');
        const row0 = [341, 259, 17, 100, 262, 270];
        assertClose(rows(logits, vocab, 0, 3), flat(llamaReferenceLogits(checkpoint.weights, checkpoint.config, row0).slice(3)), TOLERANCE, 'row 0 vs reference');
      },
    );
  });
});

describe('the last position only (lastLogitsOnly, what generation asks for)', () => {
  test('both graphs give one row per sequence, the last row of the full logits, for a left-padded batch and a single row', async () => {
    const checkpoint = llama({ seed: 48 });
    const vocab = checkpoint.config.vocab_size;
    const rowsOf = [TOKENS.slice(0, 9), TOKENS.slice(4, 9)];
    const ids = rowsOf.map((row) => [...Array<number>(9 - row.length).fill(2), ...row]);
    const attentionMask = rowsOf.map((row) => [...Array<number>(9 - row.length).fill(0), ...row.map(() => 1)]);
    const positionIds = attentionMask.map((row) => {
      let seen = -1;
      return row.map((value) => (value === 1 ? ++seen : 1));
    });
    await withBoth(
      (graph) => load(checkpoint.dir, graph),
      async (fused, unfused) => {
        for (const lm of [fused, unfused]) {
          const full = await lm.forward({ ids, attentionMask, positionIds }, await lm.emptyCache(2));
          const last = await lm.forward({ ids, attentionMask, positionIds, lastLogitsOnly: true }, await lm.emptyCache(2));
          assert.equal(full.logitRows, 9);
          assert.equal(last.logitRows, 1);
          assert.equal(last.logits.length, 2 * vocab);
          for (const row of [0, 1]) assertClose(last.logits.subarray(row * vocab, (row + 1) * vocab), full.logits.subarray((row * 9 + 8) * vocab, (row * 9 + 9) * vocab), 1e-6, `row ${row}`);
          // the cache is the whole sequence's either way: the next step gives the same logits
          const step = { ids: [[300], [42]], attentionMask: attentionMask.map((row) => [...row, 1]), positionIds: rowsOf.map((row) => [row.length]) };
          assertClose((await lm.forward(step, last.cache)).logits, (await lm.forward(step, full.cache)).logits, 1e-6, 'the step after');
        }
      },
    );
  });
});

describe('fused graph in float16', () => {
  test(`stays within ${FLOAT16_TOLERANCE} of the reference and of the unfused float16 graph, with and without the cache`, async () => {
    const checkpoint = llama({ seed: 61 });
    const expected = llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS);
    await withBoth(
      (graph) => load(checkpoint.dir, graph, { floatType: 'float16' }),
      async (fused, unfused) => {
        const full = await fused.forward(unpadded(TOKENS), await fused.emptyCache(1));
        assertClose(full.logits, flat(expected), FLOAT16_TOLERANCE, 'fused fp16 vs reference');
        assert.ok(difference(full.logits, flat(expected), 'reference') > 0, 'half precision is not exact: the graph did run in float16');
        assertClose(full.logits, (await unfused.forward(unpadded(TOKENS), await unfused.emptyCache(1))).logits, FLOAT16_TOLERANCE, 'fused vs unfused fp16');
        let output = await fused.forward(unpadded(TOKENS.slice(0, 10)), await fused.emptyCache(1));
        for (let t = 10; t < TOKENS.length; t++) {
          output = await fused.forward(unpadded([TOKENS[t] as number], t), output.cache);
          assertClose(output.logits, expected[t] as Float64Array, FLOAT16_TOLERANCE, `step ${t}`);
        }
        assert.equal(onHost(output.cache).get('past_key_values.0.key')?.type, 'float16');
      },
    );
  });
});

// ---------- block-quantised weights ----------

/** Uniform numbers in [0, 1) from a seed (mulberry32). */
function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random MatMulNBits weights of `bits` for an [rows, columns] linear layer, with their float32 values. */
function randomQuantized(rows: number, columns: number, bits: 4 | 8, blockSize: number, zeroPoint: 'default' | 'float', seed: number): { quantized: QuantizedWeight; values: Float32Array } {
  const uniform = seededUniform(seed);
  const blocks = (rows * columns) / blockSize;
  const levels = 2 ** bits;
  const quants = Uint8Array.from({ length: rows * columns }, () => Math.min(levels - 1, Math.floor(uniform() * levels)));
  // scales give weights of about the checkpoint's ±0.2
  const scales = Float32Array.from({ length: blocks }, () => Math.fround((0.02 + 0.04 * uniform()) * (bits === 4 ? 1 : 1 / 16)));
  const zeroPoints = Float32Array.from({ length: blocks }, () => (zeroPoint === 'default' ? levels / 2 : Math.fround(levels / 2 - 1.5 + 3 * uniform())));
  const data = new Uint8Array((rows * columns * bits) / 8);
  const values = new Float32Array(rows * columns);
  quants.forEach((q, index) => {
    if (bits === 8) data[index] = q;
    else data[index >> 1] = (data[index >> 1] as number) | (index % 2 === 0 ? q : q << 4); // low nibble first
    const block = Math.floor(index / blockSize); // rows are whole blocks: [N, K/blockSize] order
    values[index] = Math.fround((q - (zeroPoints[block] as number)) * (scales[block] as number));
  });
  return { quantized: { bits, blockSize, rows, columns, data, scales, zeroPoints }, values };
}

/**
 * A tiny checkpoint whose linear layers are quantised in turn: 4-bit with float zero points (as
 * GGUF Q4_1), 4-bit with the default zero point (Q4_0) and 8-bit (Q8_0), which the fused graph
 * keeps as floats (llama-fused-graph.ts). `read` gives the dequantised values and records the names
 * read; `floats` is the same without `quantized`.
 */
function quantizedCheckpoint(seed: number): { config: LlamaConfig; weights: WeightSource; floats: WeightSource; reads: Set<string>; eightBit: string[] } {
  const checkpoint = llama({ seed, numHiddenLayers: 2, tieWordEmbeddings: false });
  const config = parseModelConfig(checkpoint.config, 'config.json') as LlamaConfig;
  const kinds = [
    [4, 16, 'float'],
    [4, 32, 'default'],
    [8, 32, 'default'],
  ] as const;
  const quantized = new Map<string, QuantizedWeight>();
  const values = new Map<string, WeightValues>();
  const eightBit: string[] = [];
  for (const [name, data] of checkpoint.weights) {
    const shape = checkpoint.shapes.get(name) as readonly number[];
    if (!name.endsWith('_proj.weight') && name !== 'lm_head.weight') {
      values.set(name, { shape, data });
      continue;
    }
    const [bits, blockSize, zeroPoint] = kinds[quantized.size % kinds.length] as (typeof kinds)[number];
    const made = randomQuantized(shape[0] as number, shape[1] as number, bits, blockSize, zeroPoint, seed * 100 + quantized.size);
    quantized.set(name, made.quantized);
    values.set(name, { shape, data: made.values });
    if (bits === 8) eightBit.push(name);
  }
  const floats = memoryWeights('dequantised', values);
  const reads = new Set<string>();
  const weights: WeightSource = {
    origin: 'quantised',
    has: (name) => floats.has(name),
    read: (name) => {
      reads.add(name);
      return floats.read(name);
    },
    quantized: (name) => quantized.get(name),
  };
  return { config, weights, floats, reads, eightBit };
}

describe('fused graph on block-quantised weights (MatMulNBits)', () => {
  for (const floatType of ['float32', 'float16'] as const) {
    // relative to the largest |logit|: fp32 as the graphs' tolerance; fp16 scales and activations as above
    const tolerance = floatType === 'float32' ? 1e-4 : 1e-2;
    test(`${floatType}: logits of the unfused graph on the dequantised weights, within ${tolerance} relative; no float copy of a 4-bit weight`, async () => {
      const { config, weights, floats, reads, eightBit } = quantizedCheckpoint(floatType === 'float32' ? 71 : 72);
      const options = { device: 'cpu', threads: 1, floatType } as const;
      await withBoth(
        (graph) => CausalLm.fromWeights({ config, weights: graph === 'fused' ? weights : floats }, { ...options, graph }),
        async (fused, unfused) => {
          const linearReads = [...reads].filter((name) => name.endsWith('_proj.weight') || name === 'lm_head.weight');
          assert.deepEqual(linearReads.sort(), eightBit.sort(), 'only the 8-bit weights are read as floats');
          assert.ok(fused.weightBytes < unfused.weightBytes, `packed weights are smaller: ${fused.weightBytes} vs ${unfused.weightBytes} bytes`);
          const expected = (await unfused.forward(unpadded(TOKENS), await unfused.emptyCache(1))).logits;
          const scale = Math.max(...expected.map(Math.abs));
          const logits = (await fused.forward(unpadded(TOKENS), await fused.emptyCache(1))).logits;
          assertClose(logits, expected, tolerance * scale, 'fused on quants vs unfused on floats');
        },
      );
    });
  }

  test('the comparison is sensitive: quants read with the wrong zero points give other logits', async () => {
    const { config, weights, floats } = quantizedCheckpoint(73);
    const shifted: WeightSource = {
      ...weights,
      quantized: (name) => {
        const weight = weights.quantized?.(name);
        return weight === undefined ? weight : { ...weight, zeroPoints: weight.zeroPoints.map((zeroPoint) => zeroPoint + 1) };
      },
    };
    await withBoth(
      (graph) => CausalLm.fromWeights({ config, weights: graph === 'fused' ? shifted : floats }, { device: 'cpu', threads: 1, graph }),
      async (fused, unfused) => {
        const expected = (await unfused.forward(unpadded(TOKENS), await unfused.emptyCache(1))).logits;
        const logits = (await fused.forward(unpadded(TOKENS), await fused.emptyCache(1))).logits;
        assert.ok(difference(logits, expected, 'shifted') > 1e-2 * Math.max(...expected.map(Math.abs)));
      },
    );
  });
});

/**
 * The LLaMA graph on onnxruntime (CPU) against the float64 reference (test/helpers/reference-llama.ts),
 * on tiny random checkpoints: attention layouts, tied heads, RoPE scaling, stored dtypes, shards,
 * the float16 graph, the KV cache and left-padded batches.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLm, resolveFloatType, storageOf, type CausalLmOptions, type KvCache } from '../../src/runner/causal-lm.js';
import { readCheckpointTensors } from '../../src/runner/safetensors.js';
import { parseModelConfig, ropeInverseFrequencies } from '../../src/runner/model-config.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { llamaReferenceLogits } from '../helpers/reference-llama.js';
import { writeTinyLlama, type TinyLlamaOptions } from '../helpers/tiny-checkpoint.js';
import { onHost } from '../helpers/host-cache.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-llama-runner-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const llama = (options: TinyLlamaOptions = {}) => writeTinyLlama(join(root, `llama-${counter++}`), options);

/** fp32 graph against the float64 reference. */
const TOLERANCE = 1e-4;
/**
 * The float16 graph (weights, activations and KV cache in half precision; norms and softmax in
 * float32) against the same reference: half has an 11-bit significand, so each matmul carries a
 * relative error of about 1e-3; through two layers and a head of |logits| up to ~6 that stays
 * under 5e-2 on these checkpoints.
 */
const FLOAT16_TOLERANCE = 5e-2;

/** Fixed ids spread over the 384-token vocabulary: BOS, byte tokens, characters, merges, the last id. */
const TOKENS = [1, 341, 259, 17, 276, 383, 280, 268, 100, 262, 270, 259, 3, 261, 277, 350];

const load = (dir: string, options: Partial<CausalLmOptions> = {}) => CausalLm.load(dir, { device: 'cpu', threads: 1, ...options });

/** One unpadded row through the graph without a cache: [sequence × vocab] logits. */
async function fullLogits(lm: CausalLm, tokens: readonly number[]): Promise<Float32Array> {
  const output = await lm.forward({ ids: [tokens], attentionMask: [tokens.map(() => 1)], positionIds: [tokens.map((_, index) => index)] }, await lm.emptyCache(1));
  return output.logits;
}

async function runnerLogits(dir: string, tokens: readonly number[], options: Partial<CausalLmOptions> = {}): Promise<Float32Array> {
  const lm = await load(dir, options);
  try {
    return await fullLogits(lm, tokens);
  } finally {
    await lm.release();
  }
}

/** Largest |actual - expected| over rows of `vocab` logits (`actual` flat, row-major). */
function maxDifference(actual: Float32Array, expected: readonly Float64Array[], vocab: number): number {
  assert.equal(actual.length, expected.length * vocab, 'logits of the expected shape');
  let max = 0;
  expected.forEach((row, t) => {
    for (let index = 0; index < vocab; index++) max = Math.max(max, Math.abs((actual[t * vocab + index] as number) - (row[index] as number)));
  });
  return max;
}

function rows(flat: Float32Array, vocab: number, from: number, to: number): Float32Array {
  return flat.slice(from * vocab, to * vocab);
}

function flatDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let index = 0; index < a.length; index++) max = Math.max(max, Math.abs((a[index] as number) - (b[index] as number)));
  return max;
}

describe('LLaMA graph against the float64 reference (fp32, ≤ 1e-4)', () => {
  const cases: [string, TinyLlamaOptions][] = [
    ['grouped-query attention (4 heads, 2 key/value heads)', { numAttentionHeads: 4, numKeyValueHeads: 2, seed: 11 }],
    ['multi-head attention (4 heads, 4 key/value heads)', { numAttentionHeads: 4, numKeyValueHeads: 4, seed: 12 }],
    ['multi-query attention (4 heads, 1 key/value head)', { numAttentionHeads: 4, numKeyValueHeads: 1, seed: 13 }],
    ['tied input and output embeddings', { tieWordEmbeddings: true, seed: 14 }],
    ['linear RoPE scaling, factor 2', { ropeScalingFactor: 2, seed: 15 }],
    ['F16 stored weights', { dtype: 'F16', seed: 16 }],
    ['BF16 stored weights', { dtype: 'BF16', seed: 17 }],
    ['two shards found through model.safetensors.index.json', { shards: 2, seed: 18 }],
    ['head_dim apart from hidden_size / heads (16, not 8)', { headDim: 16, seed: 19 }],
    ['rope_theta 500000 and rms_norm_eps 1e-6 from config.json', { ropeTheta: 500000, rmsNormEps: 1e-6, seed: 20 }],
  ];
  for (const [name, options] of cases) {
    test(name, async () => {
      const checkpoint = llama(options);
      const logits = await runnerLogits(checkpoint.dir, TOKENS);
      const expected = llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS);
      const difference = maxDifference(logits, expected, checkpoint.config.vocab_size);
      assert.ok(difference <= TOLERANCE, `max |Δ| ${difference}`);
    });
  }

  test('the checkpoints differ where the cases say: no lm_head when tied, two files with an index when sharded', () => {
    assert.equal(llama({ tieWordEmbeddings: true }).weights.has('lm_head.weight'), false);
    assert.deepEqual(llama({ shards: 2 }).files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  });

  test('the comparison is sensitive: RoPE scaling or the position of a token changes logits far beyond the tolerance', async () => {
    const checkpoint = llama({ ropeScalingFactor: 2, seed: 15 });
    const logits = await runnerLogits(checkpoint.dir, TOKENS);
    const vocab = checkpoint.config.vocab_size;
    const unscaled = llamaReferenceLogits(checkpoint.weights, { ...checkpoint.config, rope_scaling: null }, TOKENS);
    assert.ok(maxDifference(logits, unscaled, vocab) > 100 * TOLERANCE, 'a graph ignoring rope_scaling would fail the case above');
    // (a shift of every position is invisible to RoPE, which sees only distances: move one token)
    const moved = llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS, TOKENS.map((_, index) => (index === 5 ? 6 : index)));
    assert.ok(maxDifference(logits, moved, vocab) > 100 * TOLERANCE, 'a position off by one would fail the cases above');
  });

  test(`the float16 graph stays within ${FLOAT16_TOLERANCE} of the reference, and its cached steps too`, async () => {
    const checkpoint = llama({ seed: 21 });
    const vocab = checkpoint.config.vocab_size;
    const expected = llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS);
    const lm = await load(checkpoint.dir, { floatType: 'float16' });
    try {
      assert.equal(lm.floatType, 'float16');
      const difference = maxDifference(await fullLogits(lm, TOKENS), expected, vocab);
      assert.ok(difference <= FLOAT16_TOLERANCE, `max |Δ| ${difference}`);
      assert.ok(difference > 0, 'half precision is not exact: the graph did run in float16');
      // prefill 10 tokens, then the rest one at a time through the float16 cache
      let output = await lm.forward({ ids: [TOKENS.slice(0, 10)], attentionMask: [TOKENS.slice(0, 10).map(() => 1)], positionIds: [[...Array(10).keys()]] }, await lm.emptyCache(1));
      for (let t = 10; t < TOKENS.length; t++) {
        output = await lm.forward({ ids: [[TOKENS[t] as number]], attentionMask: [Array<number>(t + 1).fill(1)], positionIds: [[t]] }, output.cache);
        const step = maxDifference(output.logits, [expected[t] as Float64Array], vocab);
        assert.ok(step <= FLOAT16_TOLERANCE, `step ${t}: max |Δ| ${step}`);
      }
      assert.equal(onHost(output.cache).get('past_key_values.0.key')?.type, 'float16');
    } finally {
      await lm.release();
    }
  });
});

describe('KV cache and batches', () => {
  const checkpoint = llama({ seed: 31 });
  const vocab = checkpoint.config.vocab_size;

  test('a prefill then single-token steps with the cache give the logits of one full-sequence pass', async () => {
    const lm = await load(checkpoint.dir);
    try {
      const full = await fullLogits(lm, TOKENS);
      const prefill = 5;
      let output = await lm.forward({ ids: [TOKENS.slice(0, prefill)], attentionMask: [Array<number>(prefill).fill(1)], positionIds: [[0, 1, 2, 3, 4]] }, await lm.emptyCache(1));
      assert.ok(flatDifference(output.logits, rows(full, vocab, 0, prefill)) <= TOLERANCE);
      for (let t = prefill; t < TOKENS.length; t++) {
        output = await lm.forward({ ids: [[TOKENS[t] as number]], attentionMask: [Array<number>(t + 1).fill(1)], positionIds: [[t]] }, output.cache);
        assert.equal(output.sequence, 1);
        const difference = flatDifference(output.logits, rows(full, vocab, t, t + 1));
        assert.ok(difference <= TOLERANCE, `step ${t}: max |Δ| ${difference}`);
      }
      const key = onHost(output.cache).get('past_key_values.1.key');
      assert.deepEqual(key?.dims, [1, checkpoint.config.num_key_value_heads, TOKENS.length, checkpoint.config.hidden_size / checkpoint.config.num_attention_heads]);
      // and the full pass is the reference's
      assert.ok(maxDifference(full, llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS), vocab) <= TOLERANCE);
    } finally {
      await lm.release();
    }
  });

  test('a left-padded batch of three rows gives each row the logits it gets alone, in the prefill and in cached steps', async () => {
    const prompts = [TOKENS.slice(0, 12), TOKENS.slice(3, 10), TOKENS.slice(8, 11)];
    const following = [
      [300, 42],
      [7, 290],
      [383, 1],
    ];
    const width = 12;
    const padId = 2;
    const ids = prompts.map((row) => [...Array<number>(width - row.length).fill(padId), ...row]);
    let mask = prompts.map((row) => [...Array<number>(width - row.length).fill(0), ...row.map(() => 1)]);
    // as generate.ts: real tokens count from 0, padding sits at position 1 (HF's cumsum - 1, masked_fill 1)
    const positions = mask.map((row) => {
      let seen = -1;
      return row.map((value) => (value === 1 ? ++seen : 1));
    });
    assert.deepEqual(positions[2], [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 2]);
    const lm = await load(checkpoint.dir);
    try {
      let batch = await lm.forward({ ids, attentionMask: mask, positionIds: positions }, await lm.emptyCache(3));
      const alone: { cache: KvCache; length: number }[] = [];
      for (const [row, prompt] of prompts.entries()) {
        const single = await lm.forward({ ids: [prompt], attentionMask: [prompt.map(() => 1)], positionIds: [prompt.map((_, index) => index)] }, await lm.emptyCache(1));
        const pad = width - prompt.length;
        const difference = flatDifference(rows(batch.logits, vocab, row * width + pad, (row + 1) * width), single.logits);
        assert.ok(difference <= TOLERANCE, `row ${row} prefill: max |Δ| ${difference}`);
        assert.ok(maxDifference(single.logits, llamaReferenceLogits(checkpoint.weights, checkpoint.config, prompt), vocab) <= TOLERANCE);
        alone.push({ cache: single.cache, length: prompt.length });
      }
      for (let step = 0; step < 2; step++) {
        const next = following.map((tokens) => tokens[step] as number);
        const stepPositions = mask.map((row) => [row.reduce((sum, value) => sum + value, 0)]);
        mask = mask.map((row) => [...row, 1]);
        batch = await lm.forward({ ids: next.map((token) => [token]), attentionMask: mask, positionIds: stepPositions }, batch.cache);
        for (const [row, state] of alone.entries()) {
          const single = await lm.forward({ ids: [[next[row] as number]], attentionMask: [Array<number>(state.length + 1).fill(1)], positionIds: [[state.length]] }, state.cache);
          alone[row] = { cache: single.cache, length: state.length + 1 };
          const difference = flatDifference(rows(batch.logits, vocab, row, row + 1), single.logits);
          assert.ok(difference <= TOLERANCE, `row ${row} step ${step}: max |Δ| ${difference}`);
        }
      }
    } finally {
      await lm.release();
    }
  });
});

describe('config.json', () => {
  /** ToolBench/ToolLLaMA-2-7b-v2's config.json (LLaMA-2 7B with linear RoPE scaling to 8192). */
  const TOOLLLAMA_2_7B_V2 = {
    _name_or_path: 'ToolBench/ToolLLaMA-2-7b-v2',
    architectures: ['LlamaForCausalLM'],
    bos_token_id: 1,
    eos_token_id: 2,
    hidden_act: 'silu',
    hidden_size: 4096,
    initializer_range: 0.02,
    intermediate_size: 11008,
    max_position_embeddings: 8192,
    model_type: 'llama',
    num_attention_heads: 32,
    num_hidden_layers: 32,
    num_key_value_heads: 32,
    pad_token_id: 0,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: { factor: 2.0, type: 'linear' },
    tie_word_embeddings: false,
    torch_dtype: 'float16',
    transformers_version: '4.31.0',
    use_cache: false,
    vocab_size: 32000,
  };

  test('a ToolLLaMA-2-7b-v2 config parses to the sizes, RoPE scaling and special ids of that model', () => {
    const config = parseModelConfig(TOOLLLAMA_2_7B_V2, 'ToolLLaMA-2-7b-v2/config.json');
    assert.deepEqual(config, {
      kind: 'llama',
      vocabSize: 32000,
      hiddenSize: 4096,
      intermediateSize: 11008,
      layers: 32,
      heads: 32,
      kvHeads: 32,
      headDim: 128,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      ropeScaling: { type: 'linear', factor: 2 },
      maxPositions: 8192,
      tieWordEmbeddings: false,
      bosTokenId: 1,
      eosTokenIds: [2],
    });
    assert.equal(config.kind, 'llama');
    const frequencies = ropeInverseFrequencies(config);
    assert.equal(frequencies.length, 64);
    assert.equal(frequencies[0], 1);
    assert.ok(Math.abs((frequencies[63] as number) - 10000 ** (-126 / 128)) < 1e-15, 'linear scaling divides positions, not frequencies');
  });

  test('what the runner cannot run is refused, naming the file and the field', () => {
    const refused = (json: unknown, pattern: RegExp) =>
      assert.throws(
        () => parseModelConfig(json, 'm/config.json'),
        (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && pattern.test(error.message),
      );
    refused({ ...TOOLLLAMA_2_7B_V2, rope_scaling: { type: 'dynamic', factor: 2 } }, /m\/config\.json: rope_scaling\.type: expected "linear" or "llama3".*"dynamic"/);
    refused({ ...TOOLLLAMA_2_7B_V2, num_key_value_heads: 5 }, /num_key_value_heads: expected a divisor of num_attention_heads \(32\), got 5/);
    refused({ ...TOOLLLAMA_2_7B_V2, hidden_size: '4096' }, /hidden_size: expected a number, got "4096"/);
    refused({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }, /architecture GPT2LMHeadModel is not supported/);
  });
});

describe('the float type a graph computes in', () => {
  test('auto: float16 on a GPU for weights stored in 16 bits or fewer, float32 otherwise and always on the CPU; asked types as asked', () => {
    assert.equal(resolveFloatType('auto', 'cpu', 'float16'), 'float32');
    assert.equal(resolveFloatType('auto', 'cuda', 'float16'), 'float16');
    assert.equal(resolveFloatType('auto', 'webgpu', 'quantized'), 'float16');
    assert.equal(resolveFloatType('auto', 'cuda', 'bfloat16'), 'float16');
    assert.equal(resolveFloatType('auto', 'cuda', 'float32'), 'float32');
    assert.equal(resolveFloatType('float16', 'cpu', 'float32'), 'float16');
    assert.equal(resolveFloatType('float32', 'cuda', 'float16'), 'float32');
  });

  test('a checkpoint stored in F16, BF16 or F32 is read as such', () => {
    for (const [dtype, storage] of [['F16', 'float16'], ['BF16', 'bfloat16'], ['F32', 'float32']] as const) {
      assert.equal(storageOf(readCheckpointTensors(llama({ seed: 91, dtype }).dir)), storage, dtype);
    }
  });
});

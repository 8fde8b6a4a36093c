/**
 * The runner on the WebGPU provider, where this machine has a Vulkan adapter (a GPU, or Mesa's
 * software llvmpipe: `scripts/vulkan-llvmpipe.sh`); skipped otherwise. The same checks as on the
 * CPU (the float64 reference, cached = uncached, batched = unbatched, GGUF block quants, BERT), plus
 * what is WebGPU's own: the graph's work placed on the GPU, and the KV cache kept in GPU buffers
 * between steps (device-kv-cache.ts), sliced there, and released by whoever owns it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLm, type CausalLmOptions, type ForwardInput, type KvCache } from '../../src/runner/causal-lm.js';
import { DeviceKvCache } from '../../src/runner/device-kv-cache.js';
import { generate } from '../../src/runner/generate.js';
import { softwareWebGpuNote } from '../../src/runner/host-programs.js';
import { loadLanguageModel } from '../../src/runner/language-model.js';
import { buildLlamaGraph } from '../../src/runner/llama-graph.js';
import type { FusedAttention } from '../../src/runner/llama-fused-graph.js';
import { createLocalCompleter } from '../../src/runner/local-completer.js';
import { parseModelConfig, type LlamaConfig } from '../../src/runner/model-config.js';
import { probeProvider } from '../../src/runner/provider-probe.js';
import { readCheckpointTensors } from '../../src/runner/safetensors.js';
import { SentenceEncoder } from '../../src/runner/sentence-encoder.js';
import { loadOrt, weightOptions, type DeviceRequest } from '../../src/runner/session.js';
import { safetensorsWeights } from '../../src/runner/weights.js';
import { exportOnnx } from '../helpers/optimum-export.js';
import { llamaReferenceLogits } from '../helpers/reference-llama.js';
import { writeTinyBert, writeTinyLlama } from '../helpers/tiny-checkpoint.js';
import { convertToGguf } from '../helpers/tiny-gguf.js';

const probe = await probeProvider('webgpu');
const skip = probe.ok ? false : `no WebGPU adapter here (${probe.error ?? 'probe failed'}): scripts/vulkan-llvmpipe.sh installs a software one`;

const root = mkdtempSync(join(tmpdir(), 'toolbench-webgpu-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** fp32 against the float64 reference, as on the CPU (llama-runner.test.ts). */
const TOLERANCE = 1e-4;
/** float16 against the reference (llama-runner.test.ts). */
const FLOAT16_TOLERANCE = 5e-2;
/** WebGPU against the CPU provider, both fp32: other kernels, other summation orders. */
const DEVICE_TOLERANCE = 2e-5;

const TOKENS = [1, 341, 259, 17, 276, 383, 280, 268, 100, 262, 270, 259];
type Graph = NonNullable<CausalLmOptions['graph']>;
const GRAPHS: readonly Graph[] = ['fused', 'unfused'];

const checkpoint = writeTinyLlama(join(root, 'llama'), { seed: 61 });
const vocab = checkpoint.config.vocab_size;
const reference = llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS);

const onWebGpu = (options: Partial<CausalLmOptions> = {}, dir = checkpoint.dir) => CausalLm.load(dir, { device: 'webgpu', ...options });
const unpadded = (tokens: readonly number[], from = 0): ForwardInput => ({ ids: [tokens], attentionMask: [Array<number>(from + tokens.length).fill(1)], positionIds: [tokens.map((_, index) => from + index)] });

function maxDifference(actual: Float32Array, expected: ArrayLike<number>, label: string): number {
  assert.equal(actual.length, expected.length, `${label}: lengths`);
  let max = 0;
  for (let index = 0; index < actual.length; index++) max = Math.max(max, Math.abs((actual[index] as number) - (expected[index] as number)));
  return max;
}

function assertClose(actual: Float32Array, expected: ArrayLike<number>, tolerance: number, label: string): void {
  const difference = maxDifference(actual, expected, label);
  assert.ok(difference <= tolerance, `${label}: max |Δ| ${difference} over ${tolerance}`);
}

const referenceRows = (from: number, to: number): Float64Array => Float64Array.from(reference.slice(from, to).flatMap((row) => Array.from(row)));

/** A prefill of 5 tokens, then one token at a time through the cache: each call's logits, and the final cache. */
async function stepThrough(lm: CausalLm): Promise<{ logits: Float32Array[]; cache: KvCache }> {
  const logits: Float32Array[] = [];
  let output = await lm.forward(unpadded(TOKENS.slice(0, 5)), await lm.emptyCache(1));
  logits.push(output.logits);
  for (let t = 5; t < TOKENS.length; t++) {
    const previous = output.cache;
    output = await lm.forward(unpadded([TOKENS[t] as number], t), previous);
    if (previous instanceof DeviceKvCache) previous.release();
    logits.push(output.logits);
  }
  return { logits, cache: output.cache };
}

describe('LLaMA on WebGPU', { skip }, () => {
  for (const graph of GRAPHS) {
    test(`${graph}, fp32: the reference's logits in the prefill and in cached steps, the cache in GPU buffers`, async () => {
      const lm = await onWebGpu({ graph });
      try {
        assert.equal(lm.device, 'webgpu', `fell back: ${lm.deviceNotes.join('; ')}`);
        // without a GPU device this adapter is a software one, and the user is told so
        const software = softwareWebGpuNote();
        assert.deepEqual(lm.deviceNotes, software !== undefined ? [`webgpu: ${software}`] : []);
        assert.equal(lm.cacheLayout, 'optimum');
        assert.equal(lm.cacheOnDevice, true);
        const { logits, cache } = await stepThrough(lm);
        assert.ok(cache instanceof DeviceKvCache, 'the cache stays on the device');
        assert.equal(cache.length, TOKENS.length);
        assertClose(logits[0] as Float32Array, referenceRows(0, 5), TOLERANCE, 'prefill');
        logits.slice(1).forEach((step, index) => assertClose(step, referenceRows(5 + index, 6 + index), TOLERANCE, `step ${5 + index}`));
        cache.release();
      } finally {
        await lm.release();
      }
    });
  }

  test(`fused, fp16: within ${FLOAT16_TOLERANCE} of the reference, prefill and cached steps`, async () => {
    const lm = await onWebGpu({ floatType: 'float16' });
    try {
      assert.equal(lm.device, 'webgpu');
      const { logits } = await stepThrough(lm);
      assertClose(logits[0] as Float32Array, referenceRows(0, 5), FLOAT16_TOLERANCE, 'prefill');
      logits.slice(1).forEach((step, index) => assertClose(step, referenceRows(5 + index, 6 + index), FLOAT16_TOLERANCE, `step ${5 + index}`));
      assert.ok(maxDifference(logits[0] as Float32Array, referenceRows(0, 5), 'prefill') > 0, 'half precision is not exact: the graph did run in float16');
    } finally {
      await lm.release();
    }
  });

  test('the cache kept on the device gives the logits of the cache copied to the host every step, and of the CPU provider', async () => {
    const onDevice = await onWebGpu();
    const roundTrip = await onWebGpu({ cacheOnDevice: false });
    const cpu = await CausalLm.load(checkpoint.dir, { device: 'cpu', threads: 1 });
    try {
      assert.equal(roundTrip.cacheOnDevice, false);
      const kept = await stepThrough(onDevice);
      const copied = await stepThrough(roundTrip);
      assert.ok(!(copied.cache instanceof DeviceKvCache), 'cacheOnDevice: false keeps host tensors');
      const host = await stepThrough(cpu);
      kept.logits.forEach((logits, index) => {
        assertClose(logits, copied.logits[index] as Float32Array, 0, `call ${index}: the same kernels either way`);
        assertClose(logits, host.logits[index] as Float32Array, DEVICE_TOLERANCE, `call ${index} against the CPU provider`);
      });
    } finally {
      await onDevice.release();
      await roundTrip.release();
      await cpu.release();
    }
  });

  test('a left-padded batch of three rows gives each row the logits it gets alone, in the prefill and in cached steps', async () => {
    const lm = await onWebGpu();
    try {
      const prompts = [TOKENS.slice(0, 9), TOKENS.slice(3, 8), TOKENS.slice(6, 8)];
      const width = 9;
      const ids = prompts.map((row) => [...Array<number>(width - row.length).fill(2), ...row]);
      const mask = prompts.map((row) => [...Array<number>(width - row.length).fill(0), ...row.map(() => 1)]);
      const positions = mask.map((row) => {
        let seen = -1;
        return row.map((value) => (value === 1 ? ++seen : 1));
      });
      let batch = await lm.forward({ ids, attentionMask: mask, positionIds: positions }, await lm.emptyCache(3));
      const alone = await Promise.all(prompts.map(async (row) => lm.forward(unpadded(row), await lm.emptyCache(1))));
      prompts.forEach((row, index) => {
        const last = batch.logits.subarray((index * width + width - 1) * vocab, (index * width + width) * vocab);
        const own = (alone[index] as { logits: Float32Array }).logits;
        assertClose(last, own.subarray((row.length - 1) * vocab), DEVICE_TOLERANCE, `row ${index}, prefill`);
      });
      const next = [300, 42, 7];
      batch = await lm.forward({ ids: next.map((token) => [token]), attentionMask: mask.map((row) => [...row, 1]), positionIds: prompts.map((row) => [row.length]) }, batch.cache);
      for (const [index, row] of prompts.entries()) {
        const one = await lm.forward(unpadded([next[index] as number], row.length), (alone[index] as { cache: KvCache }).cache);
        assertClose(batch.logits.subarray(index * vocab, (index + 1) * vocab), one.logits, DEVICE_TOLERANCE, `row ${index}, cached step`);
      }
    } finally {
      await lm.release();
    }
  });

  test('a cache sliced on the device continues as the one-pass logits; the cache it came from stays usable', async () => {
    const lm = await onWebGpu();
    try {
      const whole = await lm.forward(unpadded(TOKENS), await lm.emptyCache(1));
      for (const length of [TOKENS.length - 1, 1, 6]) {
        const prefix = await lm.sliceCache(whole.cache, length);
        assert.ok(prefix instanceof DeviceKvCache);
        assert.equal(prefix.length, length);
        const rest = await lm.forward(unpadded(TOKENS.slice(length), length), prefix);
        assertClose(rest.logits, whole.logits.subarray(length * vocab), DEVICE_TOLERANCE, `after a prefix of ${length}`);
        prefix.release();
      }
      const next = await lm.forward(unpadded([300], TOKENS.length), whole.cache);
      const full = await lm.forward(unpadded([...TOKENS, 300]), await lm.emptyCache(1));
      assertClose(next.logits, full.logits.subarray(TOKENS.length * vocab), DEVICE_TOLERANCE, 'the source cache after slicing');
      await assert.rejects(lm.sliceCache(whole.cache, TOKENS.length + 1), RangeError);
    } finally {
      await lm.release();
    }
  });

  test('a released cache is refused with a clear error rather than fed to the GPU', async () => {
    const lm = await onWebGpu();
    try {
      const output = await lm.forward(unpadded(TOKENS.slice(0, 3)), await lm.emptyCache(1));
      (output.cache as DeviceKvCache).release();
      (output.cache as DeviceKvCache).release(); // idempotent
      await assert.rejects(lm.forward(unpadded([5], 3), output.cache), /the KV cache was released/);
    } finally {
      await lm.release();
    }
  });

  /** Records every DeviceKvCache made from a run's outputs (the slicer's too) and every release, until `stop`. */
  function trackCaches(): { made: Set<DeviceKvCache>; released: Set<DeviceKvCache>; unreleased: (...kept: unknown[]) => DeviceKvCache[]; stop: () => void } {
    const made = new Set<DeviceKvCache>();
    const released = new Set<DeviceKvCache>();
    const fromOutputs = DeviceKvCache.fromOutputs.bind(DeviceKvCache);
    const release = DeviceKvCache.prototype.release;
    DeviceKvCache.fromOutputs = (...args) => {
      const cache = fromOutputs(...args);
      made.add(cache);
      return cache;
    };
    DeviceKvCache.prototype.release = function (this: DeviceKvCache) {
      released.add(this);
      release.call(this);
    };
    return {
      made,
      released,
      unreleased: (...kept) => [...made].filter((cache) => !released.has(cache) && !kept.includes(cache)),
      stop: () => {
        DeviceKvCache.fromOutputs = fromOutputs;
        DeviceKvCache.prototype.release = release;
      },
    };
  }

  const SETTINGS = { maxNewTokens: 6, temperature: 0, topP: 1, seed: 1, stop: [] as string[] };

  test('generate releases every cache it made but the one it returns, and generates what the CPU provider generates', async () => {
    const loaded = await loadLanguageModel(checkpoint.dir, { device: 'webgpu' });
    const cpu = await loadLanguageModel(checkpoint.dir, { device: 'cpu', threads: 1 });
    const caches = trackCaches();
    try {
      const single = await generate(loaded.lm, loaded.tokenizer, ['hello there'], { ...SETTINGS, keepCache: true });
      const returned = single.cached?.cache as DeviceKvCache;
      assert.ok(caches.made.has(returned));
      assert.ok(!caches.released.has(returned), "the returned cache is the caller's");
      assert.deepEqual(caches.unreleased(returned), [], 'every other step cache released');
      assert.ok(caches.made.size >= 2, `${caches.made.size} caches made`);
      returned.release();
      await generate(loaded.lm, loaded.tokenizer, ['hello there'], SETTINGS);
      assert.deepEqual(caches.unreleased(), [], 'without keepCache the final cache is released too');
      const batch = await generate(loaded.lm, loaded.tokenizer, ['hello there', 'the station'], SETTINGS);
      assert.deepEqual(caches.unreleased(), [], 'a batch returns no cache: all released');
      const onCpu = await generate(cpu.lm, cpu.tokenizer, ['hello there', 'the station'], SETTINGS);
      assert.deepEqual(batch.generations.map((row) => row.tokens), onCpu.generations.map((row) => row.tokens));
    } finally {
      caches.stop();
      await loaded.lm.release();
      await cpu.lm.release();
    }
  });

  test("generate from a cached prefix leaves the prefix to its owner; an aborted generation releases what it made", async () => {
    const { lm, tokenizer } = await loadLanguageModel(checkpoint.dir, { device: 'webgpu' });
    const caches = trackCaches();
    try {
      const ids = tokenizer.encode('the weather in paris is sunny', { addSpecialTokens: true });
      const whole = await lm.forward(unpadded(ids), await lm.emptyCache(1));
      const prefix = (await lm.sliceCache(whole.cache, 3)) as DeviceKvCache;
      const result = await generate(lm, tokenizer, [ids], { ...SETTINGS, prefix: { cache: prefix, length: 3 } });
      assert.ok(result.generations[0]?.tokens.length === SETTINGS.maxNewTokens);
      assert.ok(!caches.released.has(prefix), "the prefix is the caller's");
      assert.deepEqual(caches.unreleased(prefix, whole.cache), [], 'what the generation made is released');
      prefix.release();
      (whole.cache as DeviceKvCache).release();
      const controller = new AbortController();
      let texts = 0;
      await assert.rejects(
        generate(lm, tokenizer, ['hello there'], { ...SETTINGS, maxNewTokens: 20, signal: controller.signal, onText: () => (++texts === 2 ? controller.abort() : undefined) }),
        (error: Error) => error.name === 'AbortError',
      );
      assert.deepEqual(caches.unreleased(), [], 'an aborted generation released its caches');
    } finally {
      caches.stop();
      await lm.release();
    }
  });

  test("infer's local completer reuses the cache of a shared prompt prefix on the device, answers as a fresh model does, and leaves no cache unreleased", async () => {
    const request = { maxTokens: 5, temperature: 0, seed: 1, stop: [], truncatePromptTokens: 0 };
    const prompts = ['the weather in paris is', 'the weather in paris is sunny and', 'the station'];
    const fresh: string[] = [];
    for (const prompt of prompts) {
      const completer = createLocalCompleter(checkpoint.dir, { device: 'webgpu' });
      try {
        fresh.push((await completer.complete(prompt, request)).text);
      } finally {
        await completer.close();
      }
    }
    const caches = trackCaches();
    const reusing = createLocalCompleter(checkpoint.dir, { device: 'webgpu' });
    try {
      const answers = [];
      for (const prompt of prompts) answers.push(await reusing.complete(prompt, request));
      assert.ok((answers[1]?.prefixTokens ?? 0) > 0, "the second prompt reused the first one's cache");
      assert.deepEqual(answers.map((answer) => answer.text), fresh);
      assert.equal(caches.unreleased().length, 1, 'between requests, only the last one\'s cache is kept');
    } finally {
      await reusing.close();
      caches.stop();
    }
    assert.deepEqual(caches.unreleased(), [], 'close() released it');
  });

  test('block-quantised GGUF weights (MatMulNBits, with the zero-point share) give the CPU provider\'s logits', async () => {
    const small = writeTinyLlama(join(root, 'llama-q'), { seed: 62, hiddenSize: 64, intermediateSize: 128 });
    const file = join(root, 'q4_1.gguf');
    convertToGguf(small, file, 'Q4_1');
    const gpu = await CausalLm.load(file, { device: 'webgpu', floatType: 'float32' });
    const cpu = await CausalLm.load(file, { device: 'cpu', threads: 1 });
    try {
      assert.equal(gpu.device, 'webgpu');
      const [a, b] = [await stepThrough(gpu), await stepThrough(cpu)];
      a.logits.forEach((logits, index) => assertClose(logits, b.logits[index] as Float32Array, 1e-4, `call ${index}`));
    } finally {
      await gpu.release();
      await cpu.release();
    }
  });

  test('the float type by default: float16 on the GPU for 16-bit or quantised weights, float32 for F32 weights and on the CPU', async () => {
    const half = writeTinyLlama(join(root, 'llama-f16'), { seed: 64, dtype: 'F16' });
    const file = join(root, 'q4_0.gguf');
    convertToGguf(writeTinyLlama(join(root, 'llama-for-q4'), { seed: 65, hiddenSize: 64, intermediateSize: 128 }), file, 'Q4_0');
    const cases: [string, string, DeviceRequest, string][] = [
      ['F16 safetensors', half.dir, 'webgpu', 'float16'],
      ['F16 safetensors', half.dir, 'cpu', 'float32'],
      ['Q4_0 GGUF', file, 'webgpu', 'float16'],
      ['F32 safetensors', checkpoint.dir, 'webgpu', 'float32'],
    ];
    for (const [label, path, device, expected] of cases) {
      const lm = await CausalLm.load(path, { device });
      try {
        assert.equal(lm.floatType, expected, `${label} on ${device}`);
        if (expected === 'float16') {
          const { logits } = await stepThrough(lm);
          assert.ok(logits.every((row) => row.every(Number.isFinite)), `${label}: finite logits in float16`);
        }
      } finally {
        await lm.release();
      }
    }
    // bfloat16 weights compute in float16 too, with a note that says so
    const brain = writeTinyLlama(join(root, 'llama-bf16'), { seed: 66, dtype: 'BF16' });
    const bf16 = await CausalLm.load(brain.dir, { device: 'webgpu' });
    try {
      assert.equal(bf16.floatType, 'float16');
      assert.ok(bf16.deviceNotes.some((note) => note.includes('bfloat16 weights compute in float16')), bf16.deviceNotes.join('; '));
    } finally {
      await bf16.release();
    }
    // Q4_1 (a block min, added back by the zero-point share) in float16 against float32 on the CPU
    const q41 = join(root, 'q4_1-half.gguf');
    convertToGguf(writeTinyLlama(join(root, 'llama-for-q41'), { seed: 67, hiddenSize: 64, intermediateSize: 128 }), q41, 'Q4_1');
    const [gpu, cpu] = [await CausalLm.load(q41, { device: 'webgpu' }), await CausalLm.load(q41, { device: 'cpu', threads: 1 })];
    try {
      assert.equal(gpu.floatType, 'float16');
      const [a, b] = [await stepThrough(gpu), await stepThrough(cpu)];
      a.logits.forEach((logits, index) => assertClose(logits, b.logits[index] as Float32Array, FLOAT16_TOLERANCE, `Q4_1 in float16, call ${index}`));
    } finally {
      await gpu.release();
      await cpu.release();
    }
    const expected = llamaReferenceLogits(half.weights, half.config, TOKENS);
    const lm = await CausalLm.load(half.dir, { device: 'webgpu' });
    try {
      const { logits } = await stepThrough(lm);
      assertClose(logits[0] as Float32Array, Float64Array.from(expected.slice(0, 5).flatMap((row) => Array.from(row))), FLOAT16_TOLERANCE, 'F16 checkpoint in float16 on WebGPU, prefill');
    } finally {
      await lm.release();
    }
  });

  test('an exported model.onnx keeps its cache on the device too', async () => {
    const dir = join(root, 'exported');
    exportOnnx(checkpoint.dir, dir, 'float32', 'unfused');
    const lm = await onWebGpu({}, dir);
    try {
      assert.equal(lm.device, 'webgpu');
      assert.equal(lm.cacheOnDevice, true);
      const { logits, cache } = await stepThrough(lm);
      assert.ok(cache instanceof DeviceKvCache);
      assertClose(logits[0] as Float32Array, referenceRows(0, 5), TOLERANCE, 'prefill');
      logits.slice(1).forEach((step, index) => assertClose(step, referenceRows(5 + index, 6 + index), TOLERANCE, `step ${5 + index}`));
      cache.release();
    } finally {
      await lm.release();
    }
  });
});

describe('where the graph runs on WebGPU', { skip }, () => {
  /** The nodes ORT ran on the CPU in one run, with the element types of their outputs: from the session's profile, which names each node's provider. */
  async function cpuNodes(attention: FusedAttention): Promise<{ op: string; outputTypes: string[] }[]> {
    const ort = await loadOrt();
    const config = parseModelConfig(checkpoint.config, 'config.json') as LlamaConfig;
    const built = buildLlamaGraph(config, safetensorsWeights(checkpoint.dir, readCheckpointTensors(checkpoint.dir)), { floatType: 'float32', cacheLayout: 'optimum', attention });
    const profiles = mkdtempSync(join(root, 'profile-'));
    const session = await ort.InferenceSession.create(built.model, { executionProviders: ['webgpu'], logSeverityLevel: 3, enableProfiling: true, profileFilePrefix: join(profiles, 'run'), ...weightOptions(built) });
    try {
      const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        input_ids: int64(TOKENS),
        attention_mask: int64(TOKENS.map(() => 1)),
        position_ids: int64(TOKENS.map((_, index) => index)),
        logits_from: new ort.Tensor('int64', BigInt64Array.of(0n), [1]),
      };
      for (let layer = 0; layer < config.layers; layer++) {
        for (const kind of ['key', 'value']) feeds[`past_key_values.${layer}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, config.kvHeads, 0, config.headDim]);
      }
      await session.run(feeds);
      session.endProfiling();
    } finally {
      await session.release();
    }
    const [file] = readdirSync(profiles);
    assert.ok(file !== undefined, 'onnxruntime wrote a profile');
    type Event = { cat?: string; args?: { provider?: string; op_name?: string; output_type_shape?: Record<string, unknown>[] } };
    const nodes = (JSON.parse(readFileSync(join(profiles, file), 'utf8')) as Event[]).filter((event) => event.cat === 'Node' && event.args?.provider !== undefined);
    assert.ok(nodes.some((event) => event.args?.provider === 'WebGpuExecutionProvider'), 'nodes ran on WebGPU');
    return nodes
      .filter((event) => event.args?.provider === 'CPUExecutionProvider')
      .map((event) => ({ op: event.args?.op_name as string, outputTypes: (event.args?.output_type_shape ?? []).flatMap((output) => Object.keys(output)) }));
  }

  /** Index and mask arithmetic (attendedKeys: int64 positions, bool masks), which ORT keeps on the CPU on purpose; anything computing floats there is model work. */
  const computesFloats = (node: { outputTypes: string[] }): boolean => node.outputTypes.some((type) => type !== 'int64' && type !== 'bool');

  test('the graph built for WebGPU (decomposed attention) computes nothing in floats on the CPU', async () => {
    const onCpu = await cpuNodes('decomposed');
    assert.ok(onCpu.length > 0, 'the mask arithmetic is on the CPU: the profile was read');
    assert.deepEqual(onCpu.filter(computesFloats), []);
  });

  test('the check is sensitive: the Attention operator, which this provider lacks, runs on the CPU in floats', async () => {
    assert.ok((await cpuNodes('operator')).filter(computesFloats).some((node) => node.op === 'Attention'));
  });
});

describe('BERT on WebGPU', { skip }, () => {
  test('fused and unfused graphs embed as on the CPU provider', async () => {
    const bert = writeTinyBert(join(root, 'bert'), { seed: 63 });
    const texts = ['hotels', 'search for hotels in the city', 'the weather in paris is sunny, and the station is near the hotel.'];
    for (const graph of ['fused', 'unfused'] as const) {
      const gpu = await SentenceEncoder.load(bert.dir, { device: 'webgpu', graph });
      const cpu = await SentenceEncoder.load(bert.dir, { device: 'cpu', threads: 1, graph });
      try {
        assert.equal(gpu.device, 'webgpu');
        const [a, b] = [await gpu.embed(texts), await cpu.embed(texts)];
        a.forEach((row, index) => assertClose(row, b[index] as Float32Array, 1e-5, `${graph}, text ${index}`));
      } finally {
        await gpu.release();
        await cpu.release();
      }
    }
  });
});

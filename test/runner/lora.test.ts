/**
 * PEFT LoRA adapters on a tiny LLaMA: merged at load, logits against the float64 reference run on
 * W + scale·B·A (scale = lora_alpha / r, or / sqrt(r) with rsLoRA); as a side branch in both graphs,
 * against the merged model; on a Q4_0 GGUF, where `auto` keeps the adapted weights on their quants;
 * the local completer's --lora-path, and the errors for adapters that cannot be used.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLm, type CausalLmOptions } from '../../src/runner/causal-lm.js';
import { generate } from '../../src/runner/generate.js';
import { loadGgufLlamaWeights } from '../../src/runner/gguf-weights.js';
import { createLocalCompleter } from '../../src/runner/local-completer.js';
import { applyLora, loraBranch, mergeLora, readLoraAdapter, type LoraMode } from '../../src/runner/lora.js';
import type { WeightSource } from '../../src/runner/weights.js';
import { TextTokenizer } from '../../src/runner/tokenizer.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { runToolbench } from '../helpers/cli.js';
import { llamaReferenceLogits } from '../helpers/reference-llama.js';
import { encodeSafetensors, type NamedTensor, type StoredDtype } from '../helpers/safetensors-writer.js';
import { normalRandom, writeTinyLlama } from '../helpers/tiny-checkpoint.js';
import { convertToGguf } from '../helpers/tiny-gguf.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-lora-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(root, `${name}-${counter++}`);

const base = writeTinyLlama(fresh('base'), { seed: 61 });
const hidden = base.config.hidden_size;
const kvWidth = base.config.num_key_value_heads * (hidden / base.config.num_attention_heads);
const TOKENS = [1, 341, 259, 17, 276, 383, 280, 268, 100, 262, 270, 259];
const TOLERANCE = 1e-4;

interface AdapterSpec {
  readonly r?: number;
  readonly alpha?: number;
  readonly rslora?: boolean;
  readonly dtype?: StoredDtype;
  /** Base weight name (without `.weight`) → [out, in]; default q_proj and v_proj of both layers and down_proj of layer 1. */
  readonly targets?: Readonly<Record<string, readonly [number, number]>>;
  /** Overrides of the tensors written, by full PEFT name; null leaves one out. */
  readonly tensors?: Readonly<Record<string, { shape: number[] } | null>>;
  readonly config?: Record<string, unknown>;
  readonly seed?: number;
}

const DEFAULT_TARGETS: Record<string, readonly [number, number]> = {
  'model.layers.0.self_attn.q_proj': [hidden, hidden],
  'model.layers.0.self_attn.v_proj': [kvWidth, hidden],
  'model.layers.1.self_attn.q_proj': [hidden, hidden],
  'model.layers.1.self_attn.v_proj': [kvWidth, hidden],
  'model.layers.1.mlp.down_proj': [hidden, base.config.intermediate_size],
};

/**
 * A PEFT adapter folder: adapter_config.json and adapter_model.safetensors with
 * `base_model.model.<name>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r] (B not zero, unlike
 * a fresh adapter, so that it changes the model). Returns the values as stored.
 */
function writeAdapter(spec: AdapterSpec = {}): { dir: string; stored: Map<string, Float32Array>; scale: number; r: number } {
  const dir = fresh('adapter');
  mkdirSync(dir, { recursive: true });
  const r = spec.r ?? 4;
  const alpha = spec.alpha ?? 8;
  const targets = spec.targets ?? DEFAULT_TARGETS;
  const random = normalRandom(spec.seed ?? 62);
  const tensors: NamedTensor[] = [];
  const add = (name: string, shape: number[]) => {
    const override = spec.tensors?.[name];
    if (override === null) return;
    const actual = override?.shape ?? shape;
    tensors.push({ name, shape: actual, data: Float32Array.from({ length: actual.reduce((product, size) => product * size, 1) }, () => 0.3 * random()) });
  };
  for (const [name, [out, inner]] of Object.entries(targets)) {
    add(`base_model.model.${name}.lora_A.weight`, [r, inner]);
    add(`base_model.model.${name}.lora_B.weight`, [out, r]);
  }
  for (const [name, override] of Object.entries(spec.tensors ?? {})) if (override !== null && !tensors.some((tensor) => tensor.name === name)) add(name, override.shape);
  const { bytes, stored } = encodeSafetensors(tensors, spec.dtype ?? 'F32');
  writeFileSync(join(dir, 'adapter_model.safetensors'), bytes);
  const modules = [...new Set(Object.keys(targets).map((name) => name.split('.').at(-1) as string))];
  const config = {
    base_model_name_or_path: base.dir,
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r,
    lora_alpha: alpha,
    lora_dropout: 0.05,
    target_modules: modules,
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: spec.rslora ?? false,
    ...spec.config,
  };
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
  return { dir, stored, scale: spec.rslora === true ? alpha / Math.sqrt(r) : alpha / r, r };
}

/** The base weights with W + scale·B·A, computed here in float64. */
function mergedWeights(stored: ReadonlyMap<string, Float32Array>, scale: number, r: number): Map<string, Float32Array> {
  const weights = new Map(base.weights);
  for (const [name, [out, inner]] of Object.entries(DEFAULT_TARGETS)) {
    const a = stored.get(`base_model.model.${name}.lora_A.weight`) as Float32Array;
    const b = stored.get(`base_model.model.${name}.lora_B.weight`) as Float32Array;
    const w = base.weights.get(`${name}.weight`) as Float32Array;
    weights.set(
      `${name}.weight`,
      Float32Array.from({ length: out * inner }, (_, index) => {
        const [row, column] = [Math.floor(index / inner), index % inner];
        let delta = 0;
        for (let k = 0; k < r; k++) delta += (b[row * r + k] as number) * (a[k * inner + column] as number);
        return (w[index] as number) + scale * delta;
      }),
    );
  }
  return weights;
}

/** The logits of TOKENS on `lm`, which is released. */
async function logitsOf(lm: CausalLm): Promise<Float32Array> {
  try {
    const output = await lm.forward({ ids: [TOKENS], attentionMask: [TOKENS.map(() => 1)], positionIds: [TOKENS.map((_, index) => index)] }, await lm.emptyCache(1));
    return output.logits;
  } finally {
    await lm.release();
  }
}

async function loraLogits(adapterDir: string, mode: LoraMode = 'merge', options: Partial<CausalLmOptions> = {}): Promise<Float32Array> {
  const adapter = readLoraAdapter(adapterDir);
  return logitsOf(await CausalLm.load(base.dir, { device: 'cpu', threads: 1, adaptWeights: (weights) => applyLora(weights, adapter, mode), ...options }));
}

/** Largest |a - b| over two flat arrays of the same length. */
function largestGap(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((max, value, index) => Math.max(max, Math.abs(value - (b[index] as number))), 0);
}

function maxDifference(actual: Float32Array, expected: readonly Float64Array[]): number {
  const vocab = base.config.vocab_size;
  assert.equal(actual.length, expected.length * vocab);
  let max = 0;
  expected.forEach((row, t) => row.forEach((value, index) => (max = Math.max(max, Math.abs((actual[t * vocab + index] as number) - value)))));
  return max;
}

describe('merged adapters against the reference on W + scale·B·A (fp32, ≤ 1e-4)', () => {
  test('lora_alpha / r: the merged model is the reference run on the merged weights, and not the base', async () => {
    const adapter = writeAdapter({ r: 4, alpha: 8 });
    assert.equal(readLoraAdapter(adapter.dir).scale, 2);
    const logits = await loraLogits(adapter.dir);
    const difference = maxDifference(logits, llamaReferenceLogits(mergedWeights(adapter.stored, 2, 4), base.config, TOKENS));
    assert.ok(difference <= TOLERANCE, `max |Δ| ${difference}`);
    assert.ok(maxDifference(logits, llamaReferenceLogits(base.weights, base.config, TOKENS)) > 100 * TOLERANCE, 'the adapter changes the model');
    assert.ok(maxDifference(logits, llamaReferenceLogits(mergedWeights(adapter.stored, 1, 4), base.config, TOKENS)) > 100 * TOLERANCE, 'the scale matters');
  });

  test('use_rslora: scale lora_alpha / sqrt(r), with BF16 adapter weights', async () => {
    const adapter = writeAdapter({ r: 4, alpha: 8, rslora: true, dtype: 'BF16', seed: 63 });
    assert.equal(readLoraAdapter(adapter.dir).scale, 4);
    const logits = await loraLogits(adapter.dir);
    const difference = maxDifference(logits, llamaReferenceLogits(mergedWeights(adapter.stored, 4, 4), base.config, TOKENS));
    assert.ok(difference <= TOLERANCE, `max |Δ| ${difference}`);
    assert.ok(maxDifference(logits, llamaReferenceLogits(mergedWeights(adapter.stored, 2, 4), base.config, TOKENS)) > 100 * TOLERANCE, 'alpha / r would differ');
  });

  test('PEFT names with ".default" and without the base_model.model prefix map to the same base weights', () => {
    const adapter = writeAdapter({
      targets: {},
      tensors: {
        'base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight': { shape: [4, hidden] },
        'base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight': { shape: [hidden, 4] },
        'model.layers.1.self_attn.v_proj.lora_A.weight': { shape: [4, hidden] },
        'model.layers.1.self_attn.v_proj.lora_B.weight': { shape: [kvWidth, 4] },
      },
    });
    assert.deepEqual([...readLoraAdapter(adapter.dir).pairs.keys()].sort(), ['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.v_proj.weight']);
  });

  test('the local completer (--lora-path) generates what the merged model does', async () => {
    const adapter = writeAdapter({ seed: 65 });
    const tokenizer = TextTokenizer.fromDir(base.dir);
    const merged = await CausalLm.load(base.dir, { device: 'cpu', threads: 1, adaptWeights: (weights) => mergeLora(weights, readLoraAdapter(adapter.dir)) });
    const prompt = 'search for hotels';
    const expected = await generate(merged, tokenizer, [prompt], { maxNewTokens: 8, temperature: 0, topP: 1, seed: 0, stop: [] }).finally(() => merged.release());
    const request = { maxTokens: 8, temperature: 0, seed: 0, stop: [], truncatePromptTokens: 0 };
    const withLora = createLocalCompleter(base.dir, { device: 'cpu', threads: 1, loraPath: adapter.dir });
    const without = createLocalCompleter(base.dir, { device: 'cpu', threads: 1 });
    try {
      assert.equal(withLora.loraPath, adapter.dir);
      const completion = await withLora.complete(prompt, request);
      assert.equal(expected.generations[0]?.finishReason, 'length');
      const { text, promptTokens, completionTokens, contextTokens } = completion; // the fields this test is about
      assert.deepEqual({ text, promptTokens, completionTokens, contextTokens }, { text: expected.generations[0]?.text, promptTokens: tokenizer.encode(prompt).length, completionTokens: 8, contextTokens: merged.config.maxPositions });
      assert.notEqual((await without.complete(prompt, request)).text, completion.text, 'the adapter changes the text');
    } finally {
      await withLora.close();
      await without.close();
    }
  });
});

/**
 * Branch against merge, both fp32 on the same graph: x·W^T + (x·A^T)·B^T against x·(W + B·A)^T,
 * the same sums in other orders. Measured 1.1e-5 (fused) and 1.1e-5 (unfused) with |logits| up to
 * 6.4, each path about 1e-5 from the float64 reference: fused.test.ts's fused-vs-unfused bound.
 */
const BRANCH_TOLERANCE = 2e-5;
/**
 * float16 graphs against the reference, relative to the largest |logit| (as fused.test.ts's
 * quantised fp16 case): measured 0.027-0.037 for the branch, 0.043-0.058 for the merged model.
 */
const FLOAT16_RELATIVE = 1e-2;

describe('adapters as a side branch, y = x·W^T + (x·A^T)·(scale·B)^T, against the merged model', () => {
  const adapter = writeAdapter({ seed: 66 });
  const reference = llamaReferenceLogits(mergedWeights(adapter.stored, adapter.scale, adapter.r), base.config, TOKENS);
  for (const graph of ['fused', 'unfused'] as const) {
    test(`${graph} graph, fp32: the merged model's logits within ${BRANCH_TOLERANCE}, and the reference's on W + scale·B·A within ${TOLERANCE}`, async () => {
      const branched = await loraLogits(adapter.dir, 'branch', { graph });
      const gap = largestGap(branched, await loraLogits(adapter.dir, 'merge', { graph }));
      assert.ok(gap <= BRANCH_TOLERANCE, `branch vs merge: max |Δ| ${gap}`);
      assert.ok(maxDifference(branched, reference) <= TOLERANCE, `branch vs reference: max |Δ| ${maxDifference(branched, reference)}`);
      assert.ok(maxDifference(branched, llamaReferenceLogits(base.weights, base.config, TOKENS)) > 100 * TOLERANCE, 'the branch changes the model');
    });

    test(`${graph} graph, fp16: the reference's logits on W + scale·B·A within ${FLOAT16_RELATIVE} of the largest, as the merged model's`, async () => {
      const tolerance = FLOAT16_RELATIVE * Math.max(...reference.map((row) => Math.max(...row.map(Math.abs))));
      const branched = await loraLogits(adapter.dir, 'branch', { graph, floatType: 'float16' });
      const merged = await loraLogits(adapter.dir, 'merge', { graph, floatType: 'float16' });
      assert.ok(maxDifference(branched, reference) <= tolerance, `branch vs reference: max |Δ| ${maxDifference(branched, reference)} over ${tolerance}`);
      assert.ok(maxDifference(merged, reference) <= tolerance, `merge vs reference: max |Δ| ${maxDifference(merged, reference)} over ${tolerance}`);
      assert.ok(largestGap(branched, merged) <= tolerance, `branch vs merge: max |Δ| ${largestGap(branched, merged)} over ${tolerance}`);
    });
  }

  test('the branch source reads the base weights as they are, passes its quants through and gives A and scale·B', () => {
    const lora = readLoraAdapter(adapter.dir);
    const quants = { bits: 4, blockSize: 32, rows: hidden, columns: hidden, data: new Uint8Array(0), scales: new Float32Array(0), zeroPoints: new Float32Array(0) } as const;
    const source = loraBranch({ origin: base.dir, has: (name) => base.weights.has(name), read: (name) => ({ shape: [hidden, hidden], data: base.weights.get(name) as Float32Array }), quantized: () => quants }, lora);
    const name = 'model.layers.0.self_attn.q_proj';
    assert.equal(source.read(`${name}.weight`).data, base.weights.get(`${name}.weight`));
    assert.equal(source.quantized?.(`${name}.weight`), quants);
    const branch = source.lora?.(`${name}.weight`);
    assert.equal(branch?.rank, 4);
    assert.deepEqual(branch?.a, adapter.stored.get(`base_model.model.${name}.lora_A.weight`));
    assert.deepEqual(branch?.b, (adapter.stored.get(`base_model.model.${name}.lora_B.weight`) as Float32Array).map((value) => value * adapter.scale));
    assert.equal(source.lora?.('model.layers.0.self_attn.k_proj.weight'), undefined, 'a weight the adapter leaves alone has no branch');
  });
});

describe('a Q4_0 GGUF base: auto branches the adapted weights, which stay on MatMulNBits', () => {
  const file = `${fresh('base')}.gguf`;
  convertToGguf(base, file, 'Q4_0');
  const adapter = readLoraAdapter(writeAdapter({ seed: 67 }).dir);
  const isLinear = (name: string) => name.endsWith('_proj.weight') || name === 'lm_head.weight';
  /** The GGUF weights, recording the linear weights read as floats; `floatsOnly` hides their quants. */
  const gguf = (floatsOnly = false) => {
    const { config, weights } = loadGgufLlamaWeights(file);
    const linearReads: string[] = [];
    const read = (name: string) => {
      if (isLinear(name)) linearReads.push(name);
      return weights.read(name);
    };
    const source: WeightSource = floatsOnly ? { origin: weights.origin, has: weights.has, read } : { ...weights, read };
    return { config, weights: source, linearReads };
  };
  /** The logits of TOKENS with the adapter applied in `mode` (none: the base alone), the linear weights read, and the graph's weight bytes. */
  const run = async (mode: LoraMode | 'none', graph: 'fused' | 'unfused', floatsOnly = false) => {
    const { config, weights, linearReads } = gguf(floatsOnly);
    const lm = await CausalLm.fromWeights({ config, weights }, { device: 'cpu', threads: 1, graph, ...(mode === 'none' ? {} : { adaptWeights: (source: WeightSource) => applyLora(source, adapter, mode) }) });
    const weightBytes = lm.weightBytes;
    return { logits: await logitsOf(lm), linearReads: linearReads.sort(), weightBytes };
  };
  const adapted = [...adapter.pairs.keys()].sort();
  const QUANTS_TOLERANCE = 1e-4;

  test(`fused graph, auto: no linear weight is read as floats; the logits of the adapter merged into the dequantised weights within ${QUANTS_TOLERANCE}`, async () => {
    const auto = await run('auto', 'fused');
    const floats = await run('merge', 'fused', true);
    const unadapted = await run('none', 'fused');
    assert.deepEqual(auto.linearReads, [], 'every 4-bit weight, adapted or not, runs on its quants');
    assert.deepEqual(floats.linearReads.filter((name) => adapted.includes(name)), adapted, 'the floats path reads the adapted weights');
    const branchBytes = [...adapter.pairs.values()].reduce((sum, { a, b }) => sum + 4 * ((a.shape[0] as number) * (a.shape[1] as number) + (b.shape[0] as number) * (b.shape[1] as number)), 0);
    assert.equal(auto.weightBytes, unadapted.weightBytes + branchBytes, 'the base as packed, plus A and B');
    assert.ok(auto.weightBytes < floats.weightBytes, `packed: ${auto.weightBytes} against ${floats.weightBytes} bytes`);
    const gap = largestGap(auto.logits, floats.logits);
    assert.ok(gap <= QUANTS_TOLERANCE, `auto on quants vs merged floats: max |Δ| ${gap}`);
    assert.ok(largestGap(auto.logits, unadapted.logits) > 100 * QUANTS_TOLERANCE, 'the adapter changes the model');
  });

  test('the auto source offers the adapted weights quantised, with their branch; merge offers them as floats only, and the others quantised', () => {
    const auto = applyLora(gguf().weights, adapter, 'auto');
    const merge = mergeLora(gguf().weights, adapter);
    for (const name of adapted) {
      assert.notEqual(auto.quantized?.(name), undefined, name);
      assert.equal(auto.lora?.(name)?.rank, 4, name);
      assert.equal(merge.quantized?.(name), undefined, name);
      assert.equal(merge.lora?.(name), undefined, name);
    }
    assert.notEqual(merge.quantized?.('model.layers.0.self_attn.k_proj.weight'), undefined, 'a weight the adapter leaves alone keeps its quants');
  });

  test(`fused graph, merge: only the adapted weights are dequantised, within ${QUANTS_TOLERANCE} of auto`, async () => {
    const auto = await run('auto', 'fused');
    const merge = await run('merge', 'fused');
    assert.deepEqual(merge.linearReads, adapted);
    assert.ok(largestGap(merge.logits, auto.logits) <= QUANTS_TOLERANCE, `merge vs auto: max |Δ| ${largestGap(merge.logits, auto.logits)}`);
  });

  test('auto: an adapter that does not fit a quantised weight fails the load, with the weight shape from its quants', async () => {
    const wideA = readLoraAdapter(writeAdapter({ tensors: { 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': { shape: [4, hidden + 1] } } }).dir);
    const { config, weights, linearReads } = gguf();
    await assert.rejects(
      CausalLm.fromWeights({ config, weights }, { device: 'cpu', adaptWeights: (source) => applyLora(source, wideA, 'auto') }),
      (error: unknown) => error instanceof ToolbenchError && error.code === 'model.invalid' && new RegExp(`q_proj\\.weight has A \\[4, ${hidden + 1}\\] and B \\[${hidden}, 4\\], the weight is \\[${hidden}, ${hidden}\\]`).test(error.message),
    );
    assert.deepEqual(linearReads, []);
  });

  test(`unfused graph (floats only), auto: the merged model's logits within ${BRANCH_TOLERANCE}`, async () => {
    const auto = await run('auto', 'unfused');
    const gap = largestGap(auto.logits, (await run('merge', 'unfused', true)).logits);
    assert.ok(gap <= BRANCH_TOLERANCE, `auto vs merge: max |Δ| ${gap}`);
  });
});

describe('toolbench model generate --lora-path [--lora-mode]', () => {
  test('merge, branch and auto generate what the merged model does; without the adapter the text differs', async () => {
    const adapter = writeAdapter({ seed: 68 });
    const prompt = 'search for hotels';
    const merged = await CausalLm.load(base.dir, { device: 'cpu', threads: 1, adaptWeights: (weights) => mergeLora(weights, readLoraAdapter(adapter.dir)) });
    const expected = await generate(merged, TextTokenizer.fromDir(base.dir), [prompt], { maxNewTokens: 8, temperature: 0, topP: 1, seed: 0, stop: [] }).finally(() => merged.release());
    const textOf = async (...flags: string[]) => {
      const result = await runToolbench(['model', 'generate', base.dir, '--prompt', prompt, '--max-new-tokens', '8', '--json', '--device', 'cpu', '--threads', '1', ...flags]);
      assert.equal(result.code, 0, result.stderr);
      const mode = flags.includes('--lora-mode') ? flags.at(-1) : 'auto';
      if (flags.includes('--lora-path')) assert.ok(result.stderr.includes(`adapter ${adapter.dir} (${mode})`), result.stderr);
      return JSON.parse(result.stdout).generations[0].text as string;
    };
    for (const mode of ['merge', 'branch', 'auto']) assert.equal(await textOf('--lora-path', adapter.dir, '--lora-mode', mode), expected.generations[0]?.text, mode);
    assert.equal(await textOf('--lora-path', adapter.dir), expected.generations[0]?.text, 'auto by default');
    assert.notEqual(await textOf(), expected.generations[0]?.text, 'the adapter changes the text');
    assert.equal((await runToolbench(['model', 'generate', base.dir, '--prompt', prompt, '--lora-path', adapter.dir, '--lora-mode', 'fuse'])).code, 2, 'an unknown mode is a usage error');
  });
});

describe('adapters that cannot be used', () => {
  /** A ToolbenchError with exit 2: `usage.invalid` for a folder that is not an adapter, else `model.invalid` or `model.unsupported`. */
  const refused =
    (pattern: RegExp, code = 'model.invalid') =>
    (error: unknown) =>
      error instanceof ToolbenchError && error.code === code && error.exitCode === 2 && pattern.test(error.message);

  test('a folder without adapter_config.json, or without adapter_model.safetensors (a .bin alone is named)', () => {
    const empty = fresh('empty');
    mkdirSync(empty);
    assert.throws(() => readLoraAdapter(empty), refused(/not a PEFT adapter folder \(adapter_config\.json is missing\)/, 'usage.invalid'));
    assert.throws(() => readLoraAdapter(join(root, 'nowhere')), refused(/not a PEFT adapter folder/, 'usage.invalid'));
    const configOnly = fresh('config-only');
    mkdirSync(configOnly);
    writeFileSync(join(configOnly, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8 }));
    assert.throws(() => readLoraAdapter(configOnly), refused(/adapter_model\.safetensors is missing$/, 'usage.invalid'));
    writeFileSync(join(configOnly, 'adapter_model.bin'), 'PK\u0003\u0004 a pickle');
    assert.throws(() => readLoraAdapter(configOnly), refused(/adapter_model\.safetensors is missing \(adapter_model\.bin is a pickle.*safe_serialization=True\)/, 'usage.invalid'));
  });

  test('config.json values the merge cannot use', () => {
    const cases: [Record<string, unknown>, RegExp, string?][] = [
      [{ r: undefined }, /adapter_config\.json: expected numbers r and lora_alpha/],
      [{ r: 0 }, /expected numbers r and lora_alpha/],
      [{ lora_alpha: '8' }, /expected numbers r and lora_alpha/],
      [{ peft_type: 'IA3' }, /peft_type IA3: only LORA adapters are supported/, 'model.unsupported'],
      [{ fan_in_fan_out: true }, /fan_in_fan_out adapters .* are not supported/, 'model.unsupported'],
      // PEFT scales such modules by their own alpha / r: merging them with the global scale would be silently wrong
      [{ rank_pattern: { q_proj: 2 } }, /rank_pattern: adapters with per-module ranks or alphas are not supported/, 'model.unsupported'],
      [{ alpha_pattern: { v_proj: 32 } }, /alpha_pattern: adapters with per-module ranks or alphas are not supported/, 'model.unsupported'],
    ];
    for (const [config, pattern, code] of cases) assert.throws(() => readLoraAdapter(writeAdapter({ config }).dir), refused(pattern, code), JSON.stringify(config));
    assert.doesNotThrow(() => readLoraAdapter(writeAdapter({ config: { rank_pattern: {}, alpha_pattern: {} } }).dir), 'empty patterns, as PEFT writes them, are fine');
    const broken = writeAdapter();
    writeFileSync(join(broken.dir, 'adapter_config.json'), '{"r": 4,');
    assert.throws(() => readLoraAdapter(broken.dir), refused(/adapter_config\.json: not valid JSON/));
  });

  test('tensors without a partner, or none at all', () => {
    const unpaired = writeAdapter({ tensors: { 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': null } });
    assert.throws(() => readLoraAdapter(unpaired.dir), refused(/model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight has no lora_B partner/));
    const none = writeAdapter({ targets: {}, tensors: { 'base_model.model.model.layers.0.self_attn.q_proj.weight': { shape: [hidden, hidden] } } });
    assert.throws(() => readLoraAdapter(none.dir), refused(/no lora_A\/lora_B weights found/));
  });

  for (const mode of ['merge', 'branch'] as const) {
    test(`${mode}: shapes that do not fit the base weight fail the load, naming the weight and both shapes`, async () => {
      const load = (dir: string) => CausalLm.load(base.dir, { device: 'cpu', adaptWeights: (weights) => applyLora(weights, readLoraAdapter(dir), mode) });
      const wideA = writeAdapter({ tensors: { 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': { shape: [4, hidden + 1] } } });
      await assert.rejects(load(wideA.dir), refused(new RegExp(`the adapter of model\\.layers\\.0\\.self_attn\\.q_proj\\.weight has A \\[4, ${hidden + 1}\\] and B \\[${hidden}, 4\\], the weight is \\[${hidden}, ${hidden}\\]`)));
      const otherRank = writeAdapter({ tensors: { 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight': { shape: [kvWidth, 3] } } });
      await assert.rejects(load(otherRank.dir), refused(/the adapter of model\.layers\.1\.self_attn\.v_proj\.weight has A \[4, 32\] and B \[16, 3\]/));
      const otherR = writeAdapter({ r: 3, config: { r: 4 } });
      await assert.rejects(load(otherR.dir), refused(/has A \[3, 32\] and B \[32, 3\], the weight is \[32, 32\] and r is 4/), 'the scale alpha / r needs the rank of the tensors');
      const transposed = writeAdapter({ targets: { 'model.layers.1.mlp.down_proj': [base.config.intermediate_size, hidden] } });
      await assert.rejects(load(transposed.dir), refused(/the adapter of model\.layers\.1\.mlp\.down_proj\.weight has A/));
    });
  }

  test('an adapter of weights the base does not have (another model) is refused before anything is read', async () => {
    const adapter = writeAdapter({ targets: { 'model.layers.7.self_attn.q_proj': [hidden, hidden] } });
    const source = { origin: base.dir, has: (name: string) => base.weights.has(name), read: () => assert.fail('no weight is read') };
    for (const mode of ['merge', 'branch', 'auto'] as const) {
      assert.throws(() => applyLora(source, readLoraAdapter(adapter.dir), mode), refused(/the adapter changes model\.layers\.7\.self_attn\.q_proj\.weight, which .* does not have \(an adapter for another model\?\)/), mode);
    }
    const completer = createLocalCompleter(base.dir, { device: 'cpu', loraPath: adapter.dir });
    await assert.rejects(completer.complete('hello', { maxTokens: 2, temperature: 0, seed: 0, stop: [], truncatePromptTokens: 0 }), refused(/does not have/));
    await completer.close();
  });
});

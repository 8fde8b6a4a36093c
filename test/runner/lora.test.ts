/**
 * PEFT LoRA adapters merged into a tiny LLaMA at load: logits against the float64 reference run on
 * W + scale·B·A (scale = lora_alpha / r, or / sqrt(r) with rsLoRA), the local completer's
 * --lora-path, and the errors for adapters that cannot be used.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLm } from '../../src/runner/causal-lm.js';
import { generate } from '../../src/runner/generate.js';
import { createLocalCompleter } from '../../src/runner/local-completer.js';
import { mergeLora, readLoraAdapter } from '../../src/runner/lora.js';
import { TextTokenizer } from '../../src/runner/tokenizer.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { llamaReferenceLogits } from '../helpers/reference-llama.js';
import { encodeSafetensors, type NamedTensor, type StoredDtype } from '../helpers/safetensors-writer.js';
import { normalRandom, writeTinyLlama } from '../helpers/tiny-checkpoint.js';

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

async function loraLogits(adapterDir: string): Promise<Float32Array> {
  const adapter = readLoraAdapter(adapterDir);
  const lm = await CausalLm.load(base.dir, { device: 'cpu', threads: 1, adaptWeights: (weights) => mergeLora(weights, adapter) });
  try {
    const output = await lm.forward({ ids: [TOKENS], attentionMask: [TOKENS.map(() => 1)], positionIds: [TOKENS.map((_, index) => index)] }, await lm.emptyCache(1));
    return output.logits;
  } finally {
    await lm.release();
  }
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
      assert.deepEqual(completion, { text: expected.generations[0]?.text, promptTokens: tokenizer.encode(prompt).length, completionTokens: 8, contextTokens: merged.config.maxPositions });
      assert.notEqual((await without.complete(prompt, request)).text, completion.text, 'the adapter changes the text');
    } finally {
      await withLora.close();
      await without.close();
    }
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

  test('shapes that do not fit the base weight fail the load, naming the weight and both shapes', async () => {
    const load = (dir: string) => CausalLm.load(base.dir, { device: 'cpu', adaptWeights: (weights) => mergeLora(weights, readLoraAdapter(dir)) });
    const wideA = writeAdapter({ tensors: { 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': { shape: [4, hidden + 1] } } });
    await assert.rejects(load(wideA.dir), refused(new RegExp(`the adapter of model\\.layers\\.0\\.self_attn\\.q_proj\\.weight has A \\[4, ${hidden + 1}\\] and B \\[${hidden}, 4\\], the weight is \\[${hidden}, ${hidden}\\]`)));
    const otherRank = writeAdapter({ tensors: { 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight': { shape: [kvWidth, 3] } } });
    await assert.rejects(load(otherRank.dir), refused(/the adapter of model\.layers\.1\.self_attn\.v_proj\.weight has A \[4, 32\] and B \[16, 3\]/));
    const otherR = writeAdapter({ r: 3, config: { r: 4 } });
    await assert.rejects(load(otherR.dir), refused(/has A \[3, 32\] and B \[32, 3\], the weight is \[32, 32\] and r is 4/), 'the scale alpha / r needs the rank of the tensors');
    const transposed = writeAdapter({ targets: { 'model.layers.1.mlp.down_proj': [base.config.intermediate_size, hidden] } });
    await assert.rejects(load(transposed.dir), refused(/the adapter of model\.layers\.1\.mlp\.down_proj\.weight has A/));
  });

  test('an adapter of weights the base does not have (another model) is refused before anything is read', async () => {
    const adapter = writeAdapter({ targets: { 'model.layers.7.self_attn.q_proj': [hidden, hidden] } });
    const source = { origin: base.dir, has: (name: string) => base.weights.has(name), read: () => assert.fail('no weight is read') };
    assert.throws(() => mergeLora(source, readLoraAdapter(adapter.dir)), refused(/the adapter changes model\.layers\.7\.self_attn\.q_proj\.weight, which .* does not have \(an adapter for another model\?\)/));
    const completer = createLocalCompleter(base.dir, { device: 'cpu', loraPath: adapter.dir });
    await assert.rejects(completer.complete('hello', { maxTokens: 2, temperature: 0, seed: 0, stop: [], truncatePromptTokens: 0 }), refused(/does not have/));
    await completer.close();
  });
});

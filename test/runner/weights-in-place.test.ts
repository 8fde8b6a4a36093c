/**
 * Weights referenced in place (onnx-graph.ts fileWeight, weights.ts addWeight): a checkpoint's
 * tensors stored in the graph's float type are left in its .safetensors files for onnxruntime to
 * read, others are read and converted; a model with both kinds carries the in-memory ones inline,
 * or, past the inline limit, reads the file ones too. The logits are the same in every case.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLm } from '../../src/runner/causal-lm.js';
import { buildLlamaGraph, type LlamaGraphKind } from '../../src/runner/llama-graph.js';
import { mergeLora, readLoraAdapter } from '../../src/runner/lora.js';
import { parseModelConfig, type LlamaConfig } from '../../src/runner/model-config.js';
import { GraphBuilder, type BuiltModel, type FloatType } from '../../src/runner/onnx-graph.js';
import { DataType } from '../../src/runner/onnx-proto.js';
import { readCheckpointTensors, readSafetensorsHeader } from '../../src/runner/safetensors.js';
import { loadOrt, weightOptions } from '../../src/runner/session.js';
import { safetensorsWeights, type WeightSource } from '../../src/runner/weights.js';
import { llamaReferenceLogits } from '../helpers/reference-llama.js';
import { encodeSafetensors } from '../helpers/safetensors-writer.js';
import { writeTinyLlama, type TinyLlamaOptions } from '../helpers/tiny-checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-in-place-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const llama = (options: TinyLlamaOptions) => writeTinyLlama(join(root, `llama-${counter++}`), options);

const TOKENS = [1, 341, 259, 17, 276, 383, 280, 268];

function build(dir: string, floatType: FloatType, graph: LlamaGraphKind, adapt: (weights: WeightSource) => WeightSource = (weights) => weights): BuiltModel {
  const config = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), 'config.json') as LlamaConfig;
  return buildLlamaGraph(config, adapt(safetensorsWeights(dir, readCheckpointTensors(dir))), { floatType, graph });
}

/** Bytes of all tensors in the checkpoint's files. */
function storedBytes(dir: string, files: readonly string[]): number {
  return files.map((file) => [...readSafetensorsHeader(join(dir, file)).values()].reduce((sum, tensor) => sum + tensor.byteLength, 0)).reduce((a, b) => a + b, 0);
}

async function logits(dir: string, floatType: FloatType, graph: LlamaGraphKind): Promise<Float32Array> {
  const lm = await CausalLm.load(dir, { device: 'cpu', threads: 1, floatType, graph });
  try {
    return (await lm.forward({ ids: [TOKENS], attentionMask: [TOKENS.map(() => 1)], positionIds: [TOKENS.map((_, index) => index)] }, await lm.emptyCache(1))).logits;
  } finally {
    await lm.release();
  }
}

function maxDifference(actual: Float32Array, expected: readonly Float64Array[]): number {
  const vocab = (expected[0] as Float64Array).length;
  let max = 0;
  expected.forEach((row, t) => row.forEach((value, index) => (max = Math.max(max, Math.abs((actual[t * vocab + index] as number) - value)))));
  return max;
}

describe('weights referenced in place', () => {
  for (const graph of ['fused', 'unfused'] as const) {
    test(`${graph}: an F32 checkpoint's weights all stay in its file for a float32 graph, and give the reference's logits`, async () => {
      const checkpoint = llama({ seed: 71 });
      const built = build(checkpoint.dir, 'float32', graph);
      assert.equal(built.externalFolder, checkpoint.dir);
      assert.equal(built.inPlaceBytes, storedBytes(checkpoint.dir, checkpoint.files), 'every stored tensor referenced in place');
      assert.deepEqual(built.externalData, [], 'nothing handed over in memory: the computed tables are inline');
      assert.ok(built.model.length < statSync(join(checkpoint.dir, 'model.safetensors')).size, 'the model bytes do not carry the weights');
      const difference = maxDifference(await logits(checkpoint.dir, 'float32', graph), llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS));
      assert.ok(difference <= 1e-4, `max |Δ| ${difference}`);
    });
  }

  test('an F16 checkpoint stays in place for a float16 graph and is converted for a float32 one; BF16 is always converted', async () => {
    const half = llama({ seed: 72, dtype: 'F16' });
    assert.equal(build(half.dir, 'float16', 'fused').inPlaceBytes, storedBytes(half.dir, half.files));
    assert.equal(build(half.dir, 'float32', 'fused').inPlaceBytes, 0);
    const brain = llama({ seed: 73, dtype: 'BF16' });
    assert.equal(build(brain.dir, 'float16', 'fused').inPlaceBytes, 0);
    const expected = llamaReferenceLogits(half.weights, half.config, TOKENS);
    const difference = maxDifference(await logits(half.dir, 'float16', 'fused'), expected);
    assert.ok(difference <= 5e-2, `float16 in place: max |Δ| ${difference}`);
  });

  test('a sharded checkpoint is referenced in both of its files, with the logits of the same weights unsharded', async () => {
    const sharded = llama({ seed: 74, shards: 2 });
    const single = llama({ seed: 74 });
    const built = build(sharded.dir, 'float32', 'fused');
    assert.equal(sharded.files.length, 2);
    assert.equal(built.inPlaceBytes, storedBytes(sharded.dir, sharded.files));
    const [a, b] = [await logits(sharded.dir, 'float32', 'fused'), await logits(single.dir, 'float32', 'fused')];
    assert.deepEqual(a, b);
  });

  test('a Hugging Face cache snapshot (files linked into its blobs folder) is referenced in the blobs folder', async () => {
    const checkpoint = llama({ seed: 76 });
    const cache = join(root, 'hub', 'models--tiny');
    const [blobs, snapshot] = [join(cache, 'blobs'), join(cache, 'snapshots', 'abc123')];
    mkdirSync(blobs, { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    for (const name of readdirSync(checkpoint.dir)) {
      // as huggingface_hub lays it out: each file a blob named by its hash, linked from the snapshot
      const blob = join(blobs, `sha-${name.replace(/\W/g, '')}`);
      renameSync(join(checkpoint.dir, name), blob);
      symlinkSync(join('..', '..', 'blobs', `sha-${name.replace(/\W/g, '')}`), join(snapshot, name));
    }
    const built = build(snapshot, 'float32', 'fused');
    assert.equal(built.externalFolder, realpathSync(blobs));
    assert.equal(built.inPlaceBytes, storedBytes(snapshot, checkpoint.files));
    const difference = maxDifference(await logits(snapshot, 'float32', 'fused'), llamaReferenceLogits(checkpoint.weights, checkpoint.config, TOKENS));
    assert.ok(difference <= 1e-4, `max |Δ| ${difference}`);
  });

  test('a LoRA merged at load leaves the weights it does not change in place', () => {
    const checkpoint = llama({ seed: 75 });
    const adapterDir = join(root, 'adapter');
    const hidden = checkpoint.config.hidden_size;
    const { bytes } = encodeSafetensors(
      [
        { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [2, hidden], data: new Float32Array(2 * hidden).fill(0.1) },
        { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', shape: [hidden, 2], data: new Float32Array(2 * hidden).fill(0.1) },
      ],
      'F32',
    );
    mkdirSync(adapterDir);
    writeFileSync(join(adapterDir, 'adapter_model.safetensors'), bytes);
    writeFileSync(join(adapterDir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj'] }));
    const merged = build(checkpoint.dir, 'float32', 'fused', (weights) => mergeLora(weights, readLoraAdapter(adapterDir)));
    const q = checkpoint.weights.get('model.layers.0.self_attn.q_proj.weight') as Float32Array;
    assert.equal(merged.inPlaceBytes, storedBytes(checkpoint.dir, checkpoint.files) - q.length * 4, 'all but the merged q_proj');
    assert.deepEqual(merged.externalData, [], 'the merged weight is inline');
  });
});

describe('a model with weights of both kinds', () => {
  /** y = x @ W + b: W [2, 3] from a file, b [3] in memory. */
  async function run(inlineLimit?: number): Promise<{ built: BuiltModel; y: number[] }> {
    const dir = mkdtempSync(join(root, 'mixed-'));
    const { bytes } = encodeSafetensors([{ name: 'w', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }], 'F32');
    writeFileSync(join(dir, 'w.safetensors'), bytes);
    const stored = readSafetensorsHeader(join(dir, 'w.safetensors')).get('w');
    assert.ok(stored !== undefined);
    const g = new GraphBuilder('mixed', 'float32');
    const x = g.input('x', DataType.FLOAT, [1, 2]);
    g.output('y', DataType.FLOAT, [1, 3]);
    const w = g.fileWeight('w', [2, 3], stored);
    assert.ok(w !== undefined);
    g.op('Add', [g.op('MatMul', [x, w]), g.weight('b', [3], Float32Array.of(10, 20, 30))], {}, { names: ['y'] });
    const built = g.build({ '': 17 }, inlineLimit !== undefined ? { inlineLimit } : {});
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(built.model, weightOptions(built));
    try {
      const output = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1), [1, 2]) });
      return { built, y: Array.from(output.y?.data as Float32Array) };
    } finally {
      await session.release();
    }
  }

  test('carries the in-memory weights inline and the file ones in place', async () => {
    const { built, y } = await run();
    assert.deepEqual(y, [15, 27, 39]);
    assert.deepEqual(built.externalData, []);
    assert.equal(built.inPlaceBytes, 24);
  });

  test('past the inline limit, reads the file weights into memory as well (onnxruntime takes one kind or the other)', async () => {
    const { built, y } = await run(0);
    assert.deepEqual(y, [15, 27, 39]);
    assert.equal(built.externalFolder, undefined);
    assert.equal(built.externalData.length, 2);
    assert.equal(built.inPlaceBytes, 0);
  });

  test('a second folder is not referenced: fileWeight declines it and the caller reads it', () => {
    const [one, two] = [mkdtempSync(join(root, 'one-')), mkdtempSync(join(root, 'two-'))];
    for (const dir of [one, two]) writeFileSync(join(dir, 'w.safetensors'), new Uint8Array(16));
    const g = new GraphBuilder('two-folders', 'float32');
    assert.ok(g.fileWeight('a', [1], { file: join(one, 'w.safetensors'), offset: 8, byteLength: 4 }) !== undefined);
    assert.equal(g.fileWeight('b', [1], { file: join(two, 'w.safetensors'), offset: 8, byteLength: 4 }), undefined);
  });
});

/**
 * A model folder holding an exported model.onnx (Optimum's layout: config.json, tokenizer.json,
 * model.onnx with its external data beside it) runs like the checkpoint it came from. The export
 * here is our own graph written to disk, which has Optimum's I/O names; the device is probed and
 * reported as for a generated graph.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLm } from '../../src/runner/causal-lm.js';
import { generate } from '../../src/runner/generate.js';
import { loadLanguageModel } from '../../src/runner/language-model.js';
import { GraphBuilder } from '../../src/runner/onnx-graph.js';
import { DataType } from '../../src/runner/onnx-proto.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { exportOnnx } from '../helpers/optimum-export.js';
import { writeTinyLlama } from '../helpers/tiny-checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-optimum-'));
after(() => rmSync(root, { recursive: true, force: true }));

const TOKENS = [1, 341, 259, 17, 276, 383, 280, 268];

async function logitsOf(lm: CausalLm): Promise<Float32Array> {
  const output = await lm.forward({ ids: [TOKENS], attentionMask: [TOKENS.map(() => 1)], positionIds: [TOKENS.map((_, index) => index)] }, await lm.emptyCache(1));
  return output.logits;
}

describe('an exported model.onnx folder', () => {
  const checkpoint = writeTinyLlama(join(root, 'checkpoint')).dir;

  for (const floatType of ['float32', 'float16'] as const) {
    test(`runs with the checkpoint's logits (${floatType})`, async () => {
      const exported = join(root, `export-${floatType}`);
      exportOnnx(checkpoint, exported, floatType);
      const fromCheckpoint = await CausalLm.load(checkpoint, { device: 'cpu', threads: 1, floatType });
      const fromExport = await CausalLm.load(exported, { device: 'cpu', threads: 1 });
      try {
        assert.equal(fromExport.floatType, floatType, 'the cache type is read from the graph');
        assert.deepEqual(await logitsOf(fromExport), await logitsOf(fromCheckpoint));
      } finally {
        await fromCheckpoint.release();
        await fromExport.release();
      }
    });
  }

  test('generates through its tokenizer, and a missing provider falls back to the CPU with a reason', async () => {
    const exported = join(root, 'export-generate');
    exportOnnx(checkpoint, exported, 'float32');
    const expected = await loadLanguageModel(checkpoint, { device: 'cpu', threads: 1 });
    const actual = await loadLanguageModel(exported, { device: 'cuda', threads: 1 });
    try {
      assert.equal(actual.lm.device, 'cpu');
      assert.equal(actual.lm.deviceNotes.length, 1);
      assert.match(actual.lm.deviceNotes[0] as string, /^cuda: /);
      const settings = { maxNewTokens: 6, temperature: 0, topP: 1, seed: 0, stop: [] };
      const want = await generate(expected.lm, expected.tokenizer, ['hello'], settings);
      const got = await generate(actual.lm, actual.tokenizer, ['hello'], settings);
      assert.equal(got.generations[0]?.tokens.length, 6);
      assert.deepEqual(got.generations, want.generations);
    } finally {
      await expected.lm.release();
      await actual.lm.release();
    }
  });

  test('a graph without a KV cache is refused with the export command to use', async () => {
    const dir = join(root, 'no-cache');
    mkdirSync(dir);
    copyFileSync(join(checkpoint, 'config.json'), join(dir, 'config.json'));
    const g = new GraphBuilder('no-cache', 'float32');
    g.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
    g.input('attention_mask', DataType.INT64, ['batch_size', 'sequence_length']);
    g.output('logits', DataType.INT64, ['batch_size', 'sequence_length']);
    g.op('Identity', ['input_ids'], {}, { names: ['logits'] });
    g.op('Identity', ['attention_mask'], {}, { names: ['unused'] });
    g.output('unused', DataType.INT64, ['batch_size', 'sequence_length']);
    writeFileSync(join(dir, 'model.onnx'), g.build({ '': 17 }).model);
    await assert.rejects(CausalLm.load(dir, { device: 'cpu' }), (error: unknown) => {
      assert.ok(error instanceof ToolbenchError);
      assert.match(error.message, /model\.onnx: no input "past_key_values\.0\.key": export the decoder with its KV cache/);
      return true;
    });
  });
});

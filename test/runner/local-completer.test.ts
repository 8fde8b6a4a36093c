/** The local completer (the toolllama backbone in-process) on a tiny random LLaMA: its lifecycle and what it reports. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLocalCompleter } from '../../src/runner/local-completer.js';
import { writeTinyLlama } from '../helpers/tiny-checkpoint.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-local-completer-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const llama = writeTinyLlama(join(scratch, 'tiny-llama'), { seed: 81, maxPositionEmbeddings: 512 });
const REQUEST = { temperature: 0, seed: 0, stop: [], truncatePromptTokens: 0 };

test("each completion reports the model's own context (max_position_embeddings), which the overflow give-up uses", async () => {
  const completer = createLocalCompleter(llama.dir, { device: 'cpu', threads: 1 });
  try {
    const completion = await completer.complete('hello world', { ...REQUEST, maxTokens: 3 });
    assert.equal(completion.contextTokens, 512);
    assert.equal(completion.completionTokens, 3);
  } finally {
    await completer.close();
  }
});

test('close() waits for the generation in flight instead of releasing the model under it; later requests are refused', async () => {
  const completer = createLocalCompleter(llama.dir, { device: 'cpu', threads: 1 });
  await completer.complete('hello', { ...REQUEST, maxTokens: 1 }); // loaded
  const pending = completer.complete('hello world', { ...REQUEST, maxTokens: 200 });
  // closed while the 200 tokens are to be generated (it used to dispose the session under them: "Session already disposed")
  const closing = completer.close();
  const completion = await pending;
  assert.equal(completion.completionTokens, 200);
  await closing;
  await assert.rejects(completer.complete('again', { ...REQUEST, maxTokens: 1 }), /tiny-llama: the model was closed/);
});

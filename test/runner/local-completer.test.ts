/** The local completer (the toolllama backbone in-process) on a tiny random LLaMA: its lifecycle, what it reports, and the cache it keeps from one request to the next. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CausalLm } from '../../src/runner/causal-lm.js';
import { generate } from '../../src/runner/generate.js';
import { loadLanguageModel } from '../../src/runner/language-model.js';
import { createLocalCompleter, type LocalCompletion } from '../../src/runner/local-completer.js';
import { TextTokenizer } from '../../src/runner/tokenizer.js';
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

test('a request that starts as the previous one did prefills only the rest, and completes as a fresh completer does', async (t) => {
  const forward = t.mock.method(CausalLm.prototype, 'forward');
  const tokenizer = TextTokenizer.fromDir(llama.dir);
  const base = 'search for hotels in paris and call the api with the name';
  // longer, the same again, diverging after 11 tokens (<s> 'search for hotels in paris' and a space), sharing <s> only
  const prompts = [base, `${base} of the city`, `${base} of the city`, 'search for hotels in paris. Thought: call the api', 'call the api'];
  const request = { ...REQUEST, maxTokens: 6 };
  const shared = createLocalCompleter(llama.dir, { device: 'cpu', threads: 1 });
  const completions: LocalCompletion[] = [];
  const prefills: number[] = [];
  const fed: number[][] = [];
  try {
    for (const prompt of prompts) {
      const first = forward.mock.callCount();
      const completion = await shared.complete(prompt, request);
      const inputs = forward.mock.calls.slice(first).map((call) => call.arguments[0].ids[0] ?? []);
      completions.push(completion);
      prefills.push(inputs[0]?.length ?? 0);
      // what went through the model: the prefix from before, then the prefill and each decode step
      fed.push([...tokenizer.encode(prompt).slice(0, completion.prefixTokens), ...inputs.flat()]);
    }
  } finally {
    await shared.close();
  }
  const ids = prompts.map((prompt) => tokenizer.encode(prompt));
  // the longest common start with what the previous request fed the model, all but the last token at most
  const prefixes = ids.map((prompt, index) => (index === 0 ? 0 : Math.min(commonPrefixLength(fed[index - 1] ?? [], prompt), prompt.length - 1)));
  t.diagnostic(`prompt tokens ${ids.map((prompt) => prompt.length).join(', ')}; reused ${prefixes.join(', ')}`);
  assert.deepEqual(
    completions.map((completion) => completion.prefixTokens),
    prefixes,
  );
  assert.deepEqual(
    prefills,
    ids.map((prompt, index) => prompt.length - (prefixes[index] as number)),
    'the prefill runs the tokens after the prefix only',
  );
  assert.ok((prefixes[1] as number) >= (ids[0]?.length as number), 'the longer prompt reuses all of the first');
  assert.deepEqual(prefixes.slice(2), [(ids[2]?.length as number) - 1, 11, 1]);
  for (const [index, prompt] of prompts.entries()) {
    const fresh = createLocalCompleter(llama.dir, { device: 'cpu', threads: 1 });
    try {
      assert.deepEqual(completions[index], { ...(await fresh.complete(prompt, request)), prefixTokens: prefixes[index] }, prompt);
    } finally {
      await fresh.close();
    }
  }
});

test('a prompt keeps its last truncatePromptTokens tokens, never more than the context holds; cut elsewhere, it shares only what happens to match', async () => {
  const small = writeTinyLlama(join(scratch, 'tiny-llama-128'), { seed: 41 });
  const context = small.config.max_position_embeddings;
  const { lm, tokenizer } = await loadLanguageModel(small.dir, { device: 'cpu', threads: 1 });
  const greedy = async (ids: readonly number[], maxNewTokens: number) => (await generate(lm, tokenizer, [ids], { maxNewTokens, temperature: 0, topP: 1, seed: 0, stop: [] })).generations[0];
  const prompt = 'search for hotels in the city and call the api with the name of the city. '.repeat(8);
  const ids = tokenizer.encode(prompt);
  assert.ok(ids.length > context, `a prompt longer than the context (${ids.length} tokens)`);
  const completer = createLocalCompleter(small.dir, { device: 'cpu', threads: 1 });
  const request = { maxTokens: 6, temperature: 0, seed: 0, stop: [] };
  try {
    const truncated = await completer.complete(prompt, { ...request, truncatePromptTokens: 40 });
    const expected = await greedy(ids.slice(-40), 6);
    assert.deepEqual(truncated, { text: expected?.text, promptTokens: 40, completionTokens: expected?.tokens.length, contextTokens: context, prefixTokens: 0 });
    // 0 (not sent) or a limit past the context: the last context - 1 tokens, room for one new token
    const last = ids.slice(-(context - 1));
    // the first is cut elsewhere, so the ids are shifted; the second is the same prompt again
    const prefixes = [commonPrefixLength([...ids.slice(-40), ...(expected?.tokens.slice(0, -1) ?? [])], last), context - 2];
    for (const [index, truncatePromptTokens] of [0, 7168].entries()) {
      const clipped = await completer.complete(prompt, { ...request, truncatePromptTokens });
      const text = (await greedy(last, 1))?.text;
      assert.deepEqual(clipped, { text, promptTokens: context - 1, completionTokens: 1, contextTokens: context, prefixTokens: prefixes[index] });
    }
  } finally {
    await completer.close();
    await lm.release();
  }
});

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let length = 0;
  while (length < Math.min(a.length, b.length) && a[length] === b[length]) length++;
  return length;
}

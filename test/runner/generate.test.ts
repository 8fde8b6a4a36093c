/**
 * Text generation on a tiny random LLaMA (CPU): greedy decoding against the float64 reference's
 * argmax chain, batches against single prompts, stop strings and streaming, seeded sampling,
 * token limits, finish reasons, the errors for prompts that cannot run, and a prompt started from
 * the cached prefix of another sequence (fused and unfused graphs) against the same from scratch.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLm, sliceCache, type ForwardInput } from '../../src/runner/causal-lm.js';
import { generate, type CachedSequence, type GenerateOptions, type Prompt } from '../../src/runner/generate.js';
import { loadLanguageModel, type LanguageModel } from '../../src/runner/language-model.js';
import { sampleToken, seededGenerator } from '../../src/runner/sampling.js';
import { readCheckpointTensors } from '../../src/runner/safetensors.js';
import { safetensorsWeights } from '../../src/runner/weights.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { llamaReferenceLogits } from '../helpers/reference-llama.js';
import { writeTinyLlama } from '../helpers/tiny-checkpoint.js';
import { onHost } from '../helpers/host-cache.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-generate-'));
const checkpoint = writeTinyLlama(join(root, 'llama'), { seed: 41 });
const PROMPTS = ['the quick brown fox', 'search for hotels in paris', 'call the api'];
const GREEDY: GenerateOptions = { maxNewTokens: 12, temperature: 0, topP: 1, seed: 0, stop: [] };

let model: LanguageModel;
before(async () => {
  model = await loadLanguageModel(checkpoint.dir, { device: 'cpu', threads: 1 });
});
after(async () => {
  await model.lm.release();
  rmSync(root, { recursive: true, force: true });
});

const run = (prompts: readonly Prompt[], options: Partial<GenerateOptions> = {}) => generate(model.lm, model.tokenizer, prompts, { ...GREEDY, ...options });

/** Generation with every streamed piece kept, by row. */
async function streamed(prompts: readonly Prompt[], options: Partial<GenerateOptions> = {}) {
  const pieces: string[][] = prompts.map(() => []);
  const result = await run(prompts, { ...options, onText: (row, text) => pieces[row]?.push(text) });
  return { result, pieces };
}

/** The reference's greedy chain from `prompt`: argmax of the last row, fed back, until an end id. */
function referenceGreedy(prompt: readonly number[], steps: number, endIds: ReadonlySet<number>): { tokens: number[]; ended: boolean } {
  const sequence = [...prompt];
  const tokens: number[] = [];
  for (let step = 0; step < steps; step++) {
    const last = llamaReferenceLogits(checkpoint.weights, checkpoint.config, sequence).at(-1) as Float64Array;
    const order = Array.from(last.keys()).sort((a, b) => (last[b] as number) - (last[a] as number));
    const [best, second] = order as [number, number];
    // a near tie could flip between float32 and float64: the chain is only a fair test with a margin
    assert.ok((last[best] as number) - (last[second] as number) > 1e-3, `step ${step}: the top two logits are too close to compare`);
    if (endIds.has(best)) return { tokens, ended: true };
    tokens.push(best);
    sequence.push(best);
  }
  return { tokens, ended: false };
}

const unpadded = (tokens: readonly number[], from = 0): ForwardInput => ({ ids: [tokens], attentionMask: [Array<number>(from + tokens.length).fill(1)], positionIds: [tokens.map((_, index) => from + index)] });

/** Fails with the tensor, the index and the worst error when any |actual - expected| is over `tolerance`; gives the worst. */
function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number, label: string): number {
  assert.equal(actual.length, expected.length, `${label}: lengths`);
  let [max, at] = [0, 0];
  for (let index = 0; index < actual.length; index++) {
    const gap = Math.abs((actual[index] as number) - (expected[index] as number));
    if (gap > max) [max, at] = [gap, index];
  }
  assert.ok(max <= tolerance, `${label}[${at}]: ${actual[at]} vs ${expected[at]}, over tolerance by ${(max - tolerance).toExponential(2)}`);
  return max;
}

const usageFailure = (pattern: RegExp) => (error: unknown) => error instanceof ToolbenchError && error.code === 'usage.invalid' && error.exitCode === 2 && pattern.test(error.message);

describe('greedy decoding', () => {
  test('the tokens are the reference argmax chain, and the text is their decoding', async () => {
    const promptIds = model.tokenizer.encode(PROMPTS[0] as string);
    assert.equal(promptIds[0], 1, 'the prompt starts with <s>');
    const expected = referenceGreedy(promptIds, GREEDY.maxNewTokens, new Set([2]));
    const { generations } = await run([PROMPTS[0] as string]);
    const generation = generations[0];
    assert.deepEqual(generation?.tokens, expected.tokens);
    assert.equal(generation?.finishReason, expected.ended ? 'eos' : 'length');
    assert.equal(generation?.promptTokens, promptIds.length);
    assert.equal(generation?.text, model.tokenizer.decode(expected.tokens, { skipSpecialTokens: true }));
  });

  test('a prompt given as ids is used as it is (no second <s>); addSpecialTokens false leaves <s> out of text prompts', async () => {
    const ids = model.tokenizer.encode(PROMPTS[1] as string);
    const [fromIds, fromText] = await Promise.all([run([ids]), run([PROMPTS[1] as string])]).then((results) => results.map((result) => result.generations[0]));
    assert.deepEqual(fromIds, fromText);
    const raw = (await run([PROMPTS[1] as string], { addSpecialTokens: false, maxNewTokens: 4 })).generations[0];
    assert.equal(raw?.promptTokens, ids.length - 1);
    assert.deepEqual(raw?.tokens, referenceGreedy(ids.slice(1), 4, new Set([2])).tokens);
  });

  test('a left-padded batch of three prompts of different lengths generates what each prompt does alone', async () => {
    const lengths = PROMPTS.map((prompt) => model.tokenizer.encode(prompt).length);
    assert.equal(new Set(lengths).size, 3, `three different lengths, got ${lengths.join(', ')}`);
    const { result, pieces } = await streamed(PROMPTS);
    for (const [row, prompt] of PROMPTS.entries()) {
      const alone = (await run([prompt])).generations[0];
      assert.deepEqual(result.generations[row], alone, `row ${row}`);
      assert.equal(pieces[row]?.join(''), alone?.text, `row ${row}: the streamed pieces make the text`);
    }
  });
});

describe('stop strings and streaming', () => {
  /** Greedy text of the first prompt, long enough to cut. */
  let full: { text: string; tokens: readonly number[] };
  before(async () => {
    const generation = (await run([PROMPTS[0] as string], { maxNewTokens: 20 })).generations[0];
    assert.ok(generation !== undefined && generation.finishReason === 'length');
    full = generation;
  });

  /** Two letters past the fourth character that straddle a token boundary, at their first occurrence. */
  function stopInside(): { stop: string; at: number } {
    const boundaries = full.tokens.map((_, index) => model.tokenizer.decode(full.tokens.slice(0, index + 1), { skipSpecialTokens: true }).length);
    for (const boundary of boundaries) {
      const stop = full.text.slice(boundary - 1, boundary + 1);
      if (boundary > 4 && /^[A-Za-z ]{2}$/.test(stop) && full.text.indexOf(stop) >= 3) return { stop, at: full.text.indexOf(stop) };
    }
    return assert.fail(`no stop string to pick in ${JSON.stringify(full.text)}`);
  }

  test('generation ends before the stop string, which is neither in the text nor streamed; the pieces make the text', async () => {
    const { stop, at } = stopInside();
    const { result, pieces } = await streamed([PROMPTS[0] as string], { maxNewTokens: 20, stop: ['never generated §', stop] });
    const generation = result.generations[0];
    assert.equal(generation?.finishReason, 'stop');
    assert.equal(generation?.text, full.text.slice(0, at));
    assert.equal(pieces[0]?.join(''), generation?.text);
    assert.ok(!(pieces[0] ?? []).some((piece) => piece.includes(stop)));
    assert.ok((generation?.tokens.length ?? 0) < full.tokens.length, 'it stopped early');
    assert.deepEqual(generation?.tokens, full.tokens.slice(0, generation?.tokens.length), 'the tokens up to the stop are the greedy ones');
  });

  test('text held back as the possible start of a stop string is released when the stop does not follow', async () => {
    const { stop } = stopInside();
    const { result, pieces } = await streamed([PROMPTS[0] as string], { maxNewTokens: 20, stop: [`${stop}§`, ''] });
    assert.equal(result.generations[0]?.finishReason, 'length');
    assert.equal(result.generations[0]?.text, full.text);
    assert.equal(pieces[0]?.join(''), full.text);
  });

  test('in a batch a stop ends only the row that meets it', async () => {
    const { stop, at } = stopInside();
    const { result, pieces } = await streamed(PROMPTS, { maxNewTokens: 20, stop: [stop] });
    assert.equal(result.generations[0]?.text, full.text.slice(0, at));
    assert.equal(result.generations[0]?.finishReason, 'stop');
    for (const [row, generation] of result.generations.entries()) {
      const alone = (await run([PROMPTS[row] as string], { maxNewTokens: 20, stop: [stop] })).generations[0];
      assert.deepEqual(generation, alone, `row ${row}`);
      assert.equal(pieces[row]?.join(''), generation.text);
    }
  });
});

describe('sampling', () => {
  const sample = (seed: number, options: Partial<GenerateOptions> = {}) => run([PROMPTS[0] as string], { temperature: 1, seed, ...options }).then((result) => result.generations[0]?.tokens);

  test('the same seed gives the same tokens; another seed gives others', async () => {
    const first = await sample(7);
    assert.deepEqual(await sample(7), first);
    assert.notDeepEqual(await sample(8), first);
    const greedy = (await run([PROMPTS[0] as string])).generations[0]?.tokens;
    assert.notDeepEqual(first, greedy, 'temperature 1 does sample');
  });

  test('a tiny top-p keeps only the most likely token: greedy whatever the seed', async () => {
    const greedy = (await run([PROMPTS[0] as string])).generations[0]?.tokens;
    for (const seed of [1, 2, 3]) assert.deepEqual(await sample(seed, { topP: 1e-6 }), greedy);
  });

  test('sampleToken draws from softmax(logits / temperature), within the nucleus renormalised', () => {
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    const frequencies = (settings: { temperature: number; topP: number }) => {
      const random = seededGenerator(5);
      const counts = [0, 0, 0, 0];
      const draws = 20000;
      for (let index = 0; index < draws; index++) (counts[sampleToken(logits, settings, random)] as number)++;
      return counts.map((count) => count / draws);
    };
    const close = (actual: number[], expected: number[]) => actual.forEach((value, index) => assert.ok(Math.abs(value - (expected[index] as number)) < 0.015, `${actual.join(', ')} vs ${expected.join(', ')}`));
    close(frequencies({ temperature: 1, topP: 1 }), [0.5, 0.3, 0.15, 0.05]);
    // temperature 2: p^(1/2) renormalised
    const roots = [0.5, 0.3, 0.15, 0.05].map(Math.sqrt);
    const sum = roots.reduce((total, value) => total + value, 0);
    close(frequencies({ temperature: 2, topP: 1 }), roots.map((value) => value / sum));
    // top-p 0.7: 0.5 alone is short of it, 0.5 + 0.3 reaches it; the rest is cut (as transformers' TopPLogitsWarper)
    close(frequencies({ temperature: 1, topP: 0.7 }), [0.625, 0.375, 0, 0]);
    assert.equal(sampleToken(logits, { temperature: 0, topP: 0.1 }, () => 0.99), 0);
  });
});

describe('limits and finish reasons', () => {
  test('maxNewTokens bounds the tokens ("length"); 0 generates nothing', async () => {
    const { generations, timing } = await run([PROMPTS[0] as string], { maxNewTokens: 3 });
    assert.equal(generations[0]?.tokens.length, 3);
    assert.equal(generations[0]?.finishReason, 'length');
    assert.equal(timing.decodeSteps, 2, 'the prefill gives the first token, two steps the others');
    assert.ok(timing.prefillMs > 0 && timing.firstTokenMs >= timing.prefillMs && timing.decodeMs > 0);
    const none = await run([PROMPTS[0] as string], { maxNewTokens: 0 });
    assert.deepEqual(none.generations[0], { text: '', tokens: [], promptTokens: model.tokenizer.encode(PROMPTS[0] as string).length, finishReason: 'length' });
  });

  test('an end id of config.json (eos_token_id) ends the row with "eos", the end token left out', async () => {
    const greedy = (await run([PROMPTS[0] as string])).generations[0]?.tokens ?? [];
    const end = greedy[3] as number;
    const cut = greedy.indexOf(end);
    const weights = safetensorsWeights(checkpoint.dir, readCheckpointTensors(checkpoint.dir));
    const config = { ...model.lm.config, eosTokenIds: [end] };
    const lm = await CausalLm.fromWeights({ config, weights }, { device: 'cpu', threads: 1 });
    try {
      const { generations } = await generate(lm, model.tokenizer, [PROMPTS[0] as string, PROMPTS[1] as string], GREEDY);
      assert.deepEqual(generations[0]?.tokens, greedy.slice(0, cut));
      assert.equal(generations[0]?.finishReason, 'eos');
      assert.equal(generations[0]?.text, model.tokenizer.decode(greedy.slice(0, cut), { skipSpecialTokens: true }));
    } finally {
      await lm.release();
    }
  });

  test('the context bounds the new tokens: a prompt 3 short of max_position_embeddings gets 3', async () => {
    const context = checkpoint.config.max_position_embeddings;
    const ids = [1, ...Array.from({ length: context - 4 }, (_, index) => 3 + (index % 300))];
    const { generations } = await run([ids], { maxNewTokens: 50 });
    assert.equal(generations[0]?.tokens.length, 3);
    assert.equal(generations[0]?.finishReason, 'length');
  });

  test('an empty prompt, no prompt at all, and a prompt longer than the context are usage errors that say so', async () => {
    await assert.rejects(run([[]]), usageFailure(/an empty prompt/));
    await assert.rejects(run([''], { addSpecialTokens: false }), usageFailure(/an empty prompt/));
    await assert.rejects(run([PROMPTS[0] as string, []]), usageFailure(/an empty prompt/));
    await assert.rejects(run([]), usageFailure(/no prompt/));
    const context = checkpoint.config.max_position_embeddings;
    const long = Array.from({ length: 200 }, (_, index) => 3 + index);
    await assert.rejects(run([long]), usageFailure(new RegExp(`a prompt of 200 tokens does not fit the model's context of ${context} \\(max_position_embeddings\\)`)));
    await assert.rejects(run([long.slice(0, context)]), usageFailure(/does not fit/), 'a full context leaves no room for a token');
    // with <s>, the empty text is a prompt of one token, as in transformers
    assert.equal((await run([''], { maxNewTokens: 2 })).generations[0]?.tokens.length, 2);
  });

  test('an aborted signal stops generation with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stopped by the test');
    controller.abort(reason);
    await assert.rejects(run([PROMPTS[0] as string], { signal: controller.signal }), (error) => error === reason);
  });
});

describe('a cached prefix: the prefill runs only the rest of the prompt', () => {
  /** With and without a cached prefix: the same sums in other kernel blockings (under 1e-6 seen). */
  const PREFIX_TOLERANCE = 1e-5;
  /** float16 caches are sliced as bits; a float16 graph's logits may round differently (0 seen on CPU). */
  const FLOAT16_TOLERANCE = 1e-2;
  const LONG = 'search for hotels in paris and call the api with the name of the city';
  const graphs = ['fused', 'unfused'] as const;
  const models = new Map<string, LanguageModel>();
  before(async () => {
    for (const graph of graphs) models.set(graph, await loadLanguageModel(checkpoint.dir, { device: 'cpu', threads: 1, graph }));
    models.set('fused-fp16', await loadLanguageModel(checkpoint.dir, { device: 'cpu', threads: 1, floatType: 'float16' }));
  });
  after(async () => {
    for (const loaded of models.values()) await loaded.lm.release();
  });
  const modelOf = (graph: string): LanguageModel => models.get(graph) ?? assert.fail(`no ${graph} model`);
  /** The LONG prompt's ids, and a prompt that shares its first 9 ids, then diverges. */
  const prompts = (tokenizer: LanguageModel['tokenizer']) => {
    const ids = tokenizer.encode(LONG);
    const diverging = [...ids.slice(0, 9), ...tokenizer.encode('call the api', { addSpecialTokens: false })];
    assert.notEqual(diverging[9], ids[9], 'the prompts diverge after 9 tokens');
    return { ids, diverging };
  };

  test('sliceCache copies the first positions of each head into new tensors, float32 and float16; batch 1 only', async () => {
    // [1, 2 heads, 3 positions, 2 dims]: the value is 100 * head + 10 * position + dim
    const values = Array.from({ length: 12 }, (_, index) => 100 * Math.floor(index / 6) + 10 * Math.floor((index % 6) / 2) + (index % 2));
    const { Tensor } = await import('onnxruntime-node');
    for (const tensor of [new Tensor('float32', Float32Array.from(values), [1, 2, 3, 2]), new Tensor('float16', Uint16Array.from(values), [1, 2, 3, 2])]) {
      const sliced = (await sliceCache(new Map([['past_key_values.0.key', tensor]]), 2)).get('past_key_values.0.key');
      assert.deepEqual(sliced?.dims, [1, 2, 2, 2]);
      assert.equal(sliced?.type, tensor.type);
      assert.deepEqual(Array.from(sliced?.data as ArrayLike<number>), [0, 1, 10, 11, 100, 101, 110, 111]);
      assert.notEqual((sliced?.data as Uint16Array).buffer, (tensor.data as Uint16Array).buffer, 'a copy');
    }
    await assert.rejects(sliceCache(new Map([['k', new Tensor('float32', new Float32Array(24), [2, 2, 3, 2])]]), 1), RangeError);
    await assert.rejects(sliceCache(new Map([['k', new Tensor('float32', new Float32Array(12), [1, 2, 3, 2])]]), 4), RangeError);
  });

  const logitCases = [['fused, fp32', 'fused', PREFIX_TOLERANCE], ['unfused, fp32', 'unfused', PREFIX_TOLERANCE], ['fused, fp16', 'fused-fp16', FLOAT16_TOLERANCE]] as const;
  for (const [label, key, tolerance] of logitCases) {
    test(`${label}: the logits of the rest of a prompt on a cache sliced from another sequence are the one-pass logits (within ${tolerance.toExponential(0)})`, async (t) => {
      const { lm, tokenizer } = modelOf(key);
      const { ids, diverging } = prompts(tokenizer);
      const whole = await lm.forward(unpadded(ids), await lm.emptyCache(1));
      const vocab = whole.logits.length / ids.length;
      const other = await lm.forward(unpadded(diverging), await lm.emptyCache(1));
      let worst = 0;
      for (const [source, length] of [[whole.cache, ids.length - 1], [whole.cache, 1], [other.cache, 9]] as const) {
        const rest = await lm.forward(unpadded(ids.slice(length), length), await lm.sliceCache(source, length));
        worst = Math.max(worst, assertClose(rest.logits, whole.logits.subarray(length * vocab), tolerance, `logits after a prefix of ${length}`));
      }
      t.diagnostic(`worst |Δ| ${worst.toExponential(2)}`);
    });
  }

  for (const graph of graphs) {

    test(`${graph}, fp32: generate from a cached prefix gives what it gives from scratch: the prompt less one, one token, a diverging prompt, a prompt that goes on from a generation`, async () => {
      const { lm, tokenizer } = modelOf(graph);
      const { ids, diverging } = prompts(tokenizer);
      const from = async (prompt: readonly number[], source?: CachedSequence, length = 0) => {
        if (source === undefined) return generate(lm, tokenizer, [prompt], { ...GREEDY, maxNewTokens: 8, keepCache: true });
        assert.deepEqual(source.ids.slice(0, length), prompt.slice(0, length), 'the cache is of the same first tokens');
        return generate(lm, tokenizer, [prompt], { ...GREEDY, maxNewTokens: 8, keepCache: true, prefix: { cache: await lm.sliceCache(source.cache, length), length } });
      };
      const scratch = await from(ids);
      const other = (await from(diverging)).cached;
      const cases = [[scratch.cached, ids.length - 1, 'the prompt less its last token'], [scratch.cached, 1, 'one token'], [other, 9, 'the 9 tokens before a diverging prompt']] as const;
      for (const [source, length, label] of cases) {
        const reused = await from(ids, source, length);
        assert.deepEqual(reused.generations, scratch.generations, label);
        assert.equal(reused.timing.prefillTokens, ids.length - length, `${label}: the prefill runs the rest only`);
        assert.deepEqual(reused.cached?.ids, scratch.cached?.ids, label);
      }
      // the next prompt holds the last one and its generation (cached in decode steps), then more
      const sequence = scratch.cached ?? assert.fail('a single prompt gives its cache back');
      const next = [...sequence.ids, ...tokenizer.encode(' of the city', { addSpecialTokens: false })];
      const goesOn = await from(next, sequence, sequence.ids.length);
      assert.deepEqual(goesOn.generations, (await from(next)).generations);
      assert.equal(goesOn.timing.prefillTokens, next.length - sequence.ids.length);
    });
  }

  test('the cache given back covers the prompt and the tokens fed back: not the last new token (length, stop), nor an end token (eos)', async () => {
    const { lm, tokenizer } = modelOf('fused');
    const { ids } = prompts(tokenizer);
    /** The cache's positions are the ids', and one more token on it gives the one-pass logits. */
    const assertCovers = async (cached: CachedSequence | undefined, label: string) => {
      const sequence = cached ?? assert.fail(`${label}: no cache given back`);
      for (const [name, tensor] of onHost(sequence.cache)) assert.equal(tensor.dims[2], sequence.ids.length, `${label}: ${name}`);
      const step = await lm.forward(unpadded([5], sequence.ids.length), sequence.cache);
      const whole = await lm.forward(unpadded([...sequence.ids, 5]), await lm.emptyCache(1));
      assertClose(step.logits, whole.logits.subarray(-step.logits.length), PREFIX_TOLERANCE, `${label}: logits`);
    };
    const full = await generate(lm, tokenizer, [ids], { ...GREEDY, maxNewTokens: 10, keepCache: true });
    assert.equal((await generate(lm, tokenizer, [ids], { ...GREEDY, maxNewTokens: 2 })).cached, undefined, 'no cache back unless asked');
    const [generation] = full.generations;
    assert.equal(generation?.finishReason, 'length');
    assert.deepEqual(full.cached?.ids, [...ids, ...(generation?.tokens.slice(0, -1) ?? [])]);
    await assertCovers(full.cached, 'length');

    const stopped = await generate(lm, tokenizer, [ids], { ...GREEDY, maxNewTokens: 10, keepCache: true, stop: [generation?.text.slice(6, 8) ?? ''] });
    const [cut] = stopped.generations;
    assert.ok(cut?.finishReason === 'stop' && cut.tokens.length < 10, `stopped early: ${cut?.finishReason}`);
    assert.deepEqual(stopped.cached?.ids, [...ids, ...cut.tokens.slice(0, -1)]);
    await assertCovers(stopped.cached, 'stop');

    const end = generation?.tokens[4] as number;
    const weights = safetensorsWeights(checkpoint.dir, readCheckpointTensors(checkpoint.dir));
    const ending = await CausalLm.fromWeights({ config: { ...lm.config, eosTokenIds: [end] }, weights }, { device: 'cpu', threads: 1 });
    try {
      const ended = await generate(ending, tokenizer, [ids], { ...GREEDY, maxNewTokens: 10, keepCache: true });
      const [short] = ended.generations;
      assert.deepEqual([short?.finishReason, short?.tokens], ['eos', generation?.tokens.slice(0, generation.tokens.indexOf(end))]);
      assert.deepEqual(ended.cached?.ids, [...ids, ...(short?.tokens ?? [])], 'the end token is not fed');
    } finally {
      await ending.release();
    }
  });

  test('a prefix for a batch, for the whole prompt or in a cache of another length is a bug (RangeError)', async () => {
    const { lm, tokenizer } = modelOf('fused');
    const { ids } = prompts(tokenizer);
    const { cache } = await lm.forward(unpadded(ids.slice(0, 4)), await lm.emptyCache(1));
    const from = (batch: Prompt[], length: number) => generate(lm, tokenizer, batch, { ...GREEDY, prefix: { cache, length } });
    await assert.rejects(from([ids, ids], 4), RangeError);
    await assert.rejects(from([ids.slice(0, 4)], 4), RangeError, 'the last token must run');
    await assert.rejects(from([ids], 3), RangeError);
  });
});

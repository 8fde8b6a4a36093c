/**
 * Checks of the references the model runner is tested against (test/helpers/reference-*.ts):
 * hand derivations, properties that pin down the semantics, and, where Python has
 * torch/transformers (TOOLBENCH_GOLDEN_PYTHON), Hugging Face's own outputs on the same tiny
 * checkpoints (test/golden/hf_reference.py).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { llamaReferenceLogits, type LlamaReferenceConfig } from '../helpers/reference-llama.js';
import { bertReferenceEmbedding, bertReferenceHidden, erf, gelu } from '../helpers/reference-bert.js';
import { writeTinyBert, writeTinyLlama, type TinyLlamaOptions } from '../helpers/tiny-checkpoint.js';
import { hfReference, skipWithoutPython } from '../helpers/hf-reference.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-reference-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => join(root, `checkpoint-${counter++}`);
const llama = (options: TinyLlamaOptions = {}) => writeTinyLlama(freshDir(), options);

function maxDifference(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  assert.equal(a.length, b.length);
  let max = 0;
  a.forEach((row, t) => {
    assert.equal(row.length, b[t]!.length);
    for (let i = 0; i < row.length; i++) max = Math.max(max, Math.abs(row[i]! - b[t]![i]!));
  });
  return max;
}

function assertClose(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[], tolerance: number, label = ''): void {
  const difference = maxDifference(a, b);
  assert.ok(difference <= tolerance, `${label} max |difference| ${difference} > ${tolerance}`);
}

/** The check is sensitive: a different computation moves the result by more than 1e-3. */
function assertApart(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[], label = ''): void {
  const difference = maxDifference(a, b);
  assert.ok(difference > 1e-3, `${label} max |difference| ${difference} should exceed 1e-3`);
}

function loadTokenizer(dir: string): Tokenizer {
  const read = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as object;
  return new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
}

// Plain matrix helpers for the hand derivations, written apart from the references.
const get = (weights: ReadonlyMap<string, Float32Array>, name: string) => weights.get(name) ?? assert.fail(`no ${name}`);
const matVec = (w: Float32Array, x: readonly number[]) =>
  Array.from({ length: w.length / x.length }, (_, r) => x.reduce((sum, v, c) => sum + w[r * x.length + c]! * v, 0));
const add = (a: readonly number[], b: readonly number[]) => a.map((v, i) => v + b[i]!);

describe('LLaMA reference', () => {
  test('one token through one layer equals a derivation by hand (attention is then just V)', () => {
    const { weights, config } = llama({ numHiddenLayers: 1, seed: 3 });
    const token = 42;
    const w = (name: string) => get(weights, name);
    const rms = (x: number[], g: Float32Array) => {
      const r = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + config.rms_norm_eps);
      return x.map((v, i) => (v / r) * g[i]!);
    };
    const e = Array.from(w('model.embed_tokens.weight').subarray(token * 32, token * 32 + 32));
    const v = matVec(w('model.layers.0.self_attn.v_proj.weight'), rms(e, w('model.layers.0.input_layernorm.weight')));
    const attention = [0, 1, 2, 3].flatMap((head) => v.slice(Math.floor(head / 2) * 8, Math.floor(head / 2) * 8 + 8));
    const x1 = add(e, matVec(w('model.layers.0.self_attn.o_proj.weight'), attention));
    const h = rms(x1, w('model.layers.0.post_attention_layernorm.weight'));
    const gate = matVec(w('model.layers.0.mlp.gate_proj.weight'), h);
    const up = matVec(w('model.layers.0.mlp.up_proj.weight'), h);
    const x2 = add(x1, matVec(w('model.layers.0.mlp.down_proj.weight'), gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!)));
    const expected = matVec(w('lm_head.weight'), rms(x2, w('model.norm.weight')));
    for (const position of [0, 7]) assertClose(llamaReferenceLogits(weights, config, [token], [position]), [expected], 1e-12);
  });

  test('several tokens equal an independent derivation (complex rotation, repeated K/V heads)', () => {
    const { weights, config } = llama({ numHiddenLayers: 2, ropeScalingFactor: 2, seed: 5 });
    const tokens = [5, 99, 17, 300, 42, 7];
    const [hidden, heads, kvHeads, headDim] = [32, 4, 2, 8];
    let x = tokens.map((t) => Array.from(get(weights, 'model.embed_tokens.weight').subarray(t * hidden, (t + 1) * hidden)));
    const rms = (row: number[], g: Float32Array) => {
      const scale = Math.sqrt(row.reduce((s, u) => s + u * u, 0) / hidden + 1e-5);
      return row.map((v, i) => (v / scale) * g[i]!);
    };
    const rotate = (vector: number[], position: number) => {
      const out = [...vector];
      for (let i = 0; i < headDim / 2; i++) {
        const angle = (position / 2) * 10000 ** (-i / (headDim / 2)); // linear scaling by 2
        const [re, im] = [vector[i]!, vector[i + headDim / 2]!];
        out[i] = re * Math.cos(angle) - im * Math.sin(angle); // (re + i im) * e^(i angle)
        out[i + headDim / 2] = re * Math.sin(angle) + im * Math.cos(angle);
      }
      return out;
    };
    for (let layer = 0; layer < 2; layer++) {
      const w = (name: string) => get(weights, `model.layers.${layer}.${name}`);
      const h = x.map((row) => rms(row, w('input_layernorm.weight')));
      const headsOf = (name: string, count: number) =>
        h.map((row) => {
          const all = matVec(w(name), row);
          return Array.from({ length: count }, (_, k) => all.slice(k * headDim, (k + 1) * headDim));
        });
      // repeat_kv: key/value head j serves query heads j*group .. j*group+group-1
      const repeat = <T>(perKv: T[][]) =>
        perKv.map((row) => Array.from({ length: heads }, (_, k) => row[Math.floor(k / (heads / kvHeads))]!));
      const q = headsOf('self_attn.q_proj.weight', heads).map((row, t) => row.map((v) => rotate(v, t)));
      const k = repeat(headsOf('self_attn.k_proj.weight', kvHeads).map((row, t) => row.map((v) => rotate(v, t))));
      const v = repeat(headsOf('self_attn.v_proj.weight', kvHeads));
      x = x.map((row, t) => {
        const attention = Array.from({ length: heads }, (_, head) => {
          const dot = (j: number) => k[j]![head]!.reduce((s, kv, d) => s + kv * q[t]![head]![d]!, 0);
          const scores = k.map((_, j) => (j > t ? -Infinity : dot(j) / Math.sqrt(headDim)));
          const probabilities = scores.map((s) => Math.exp(s));
          const z = probabilities.reduce((a, b) => a + b, 0);
          return Array.from({ length: headDim }, (_, d) => v.reduce((s, vRow, j) => s + (probabilities[j]! / z) * vRow[head]![d]!, 0));
        }).flat();
        const x1 = add(row, matVec(w('self_attn.o_proj.weight'), attention));
        const h2 = rms(x1, w('post_attention_layernorm.weight'));
        const gate = matVec(w('mlp.gate_proj.weight'), h2);
        const up = matVec(w('mlp.up_proj.weight'), h2);
        return add(x1, matVec(w('mlp.down_proj.weight'), gate.map((g, i) => g * (1 / (1 + Math.exp(-g))) * up[i]!)));
      });
    }
    const expected = x.map((row) => matVec(get(weights, 'lm_head.weight'), rms(row, get(weights, 'model.norm.weight'))));
    assertClose(llamaReferenceLogits(weights, config, tokens), expected, 1e-10);
  });

  test('is causal: logits at a position do not change when later tokens are appended', () => {
    const { weights, config } = llama();
    const tokens = [1, 200, 33, 7, 150, 64, 12, 301];
    const full = llamaReferenceLogits(weights, config, tokens);
    for (const length of [1, 3, 5])
      assertClose(llamaReferenceLogits(weights, config, tokens.slice(0, length)), full.slice(0, length), 1e-12);
    const changedLast = llamaReferenceLogits(weights, config, [...tokens.slice(0, -1), 99]);
    assertClose(changedLast.slice(0, -1), full.slice(0, -1), 1e-12);
    assertApart(changedLast.slice(-1), full.slice(-1));
  });

  test('GQA equals MHA with each key/value head repeated for its group of consecutive heads', () => {
    const gqa = llama({ numAttentionHeads: 4, numKeyValueHeads: 2, seed: 9 });
    const repeatRows = (values: Float32Array, order: number[]) =>
      Float32Array.from(order.flatMap((kv) => Array.from(values.subarray(kv * 8 * 32, (kv + 1) * 8 * 32))));
    const asMha = (order: number[]) =>
      new Map([...gqa.weights].map(([name, values]) => [name, /self_attn\.[kv]_proj/.test(name) ? repeatRows(values, order) : values]));
    const mhaConfig = { ...gqa.config, num_key_value_heads: 4 };
    const tokens = [3, 141, 59, 26, 53];
    const expected = llamaReferenceLogits(gqa.weights, gqa.config, tokens);
    assertClose(llamaReferenceLogits(asMha([0, 0, 1, 1]), mhaConfig, tokens), expected, 1e-12);
    assertApart(llamaReferenceLogits(asMha([0, 1, 0, 1]), mhaConfig, tokens), expected); // not interleaved
  });

  test('RoPE: only relative positions matter; linear scaling divides positions by the factor', () => {
    const plain = llama({ seed: 11 });
    const tokens = [10, 20, 30, 40];
    const logits = (config: LlamaReferenceConfig, positions: number[]) => llamaReferenceLogits(plain.weights, config, tokens, positions);
    const base = logits(plain.config, [0, 1, 2, 3]);
    assertClose(logits(plain.config, [5, 6, 7, 8]), base, 1e-9);
    assertApart(logits(plain.config, [0, 2, 4, 6]), base);
    const scaled = (factor: number) => ({ ...plain.config, rope_scaling: { type: 'linear', factor } });
    assert.deepEqual(logits(scaled(1), [0, 1, 2, 3]), base);
    assertClose(logits(scaled(2), [0, 2, 4, 6]), base, 1e-12);
    assertApart(logits(scaled(2), [0, 1, 2, 3]), base);
    assert.throws(() => logits({ ...plain.config, rope_scaling: { rope_type: 'dynamic', factor: 2 } }, [0, 1, 2, 3]), /linear/);
  });

  test('tied embeddings: no lm_head.weight is stored and the logits use embed_tokens', () => {
    const tied = llama({ tieWordEmbeddings: true, seed: 4 });
    assert.equal(tied.weights.has('lm_head.weight'), false);
    const withHead = new Map([...tied.weights, ['lm_head.weight', get(tied.weights, 'model.embed_tokens.weight')]]);
    const tokens = [8, 9, 10];
    const untied = { ...tied.config, tie_word_embeddings: false };
    assert.deepEqual(llamaReferenceLogits(tied.weights, tied.config, tokens), llamaReferenceLogits(withHead, untied, tokens));
  });
});

describe('BERT reference', () => {
  const bert = writeTinyBert(freshDir(), { seed: 7 });
  const ids = [2, 40, 41, 50, 60, 3];

  test('erf and GELU match known values', () => {
    const known: [number, number][] = [
      [0, 0],
      [0.01, 0.011283415555849618],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [-1.5, -0.9661051464753108],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ];
    for (const [x, value] of known) assert.ok(Math.abs(erf(x) - value) < 1e-14, `erf(${x}) = ${erf(x)}`);
    assert.equal(erf(7), 1);
    assert.ok(Math.abs(gelu(1) - 0.8413447460685429) < 1e-14, `gelu(1) = ${gelu(1)}`);
    assert.ok(Math.abs(gelu(-3) - -0.00404969409489031) < 1e-12, `gelu(-3) = ${gelu(-3)}`);
  });

  test('one token equals a derivation by hand (attention is then just V)', () => {
    const w = (name: string) => get(bert.weights, name);
    const layerNorm = (x: number[], name: string) => {
      const mean = x.reduce((s, v) => s + v, 0) / x.length;
      const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
      return x.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-12)) * w(`${name}.weight`)[i]! + w(`${name}.bias`)[i]!);
    };
    const linear = (x: number[], name: string) => add(matVec(w(`${name}.weight`), x), Array.from(w(`${name}.bias`)));
    const row = (name: string, index: number) => Array.from(w(name).subarray(index * 32, (index + 1) * 32));
    const word = row('embeddings.word_embeddings.weight', 40);
    const embedded = add(add(word, row('embeddings.position_embeddings.weight', 0)), row('embeddings.token_type_embeddings.weight', 1));
    let x = layerNorm(embedded, 'embeddings.LayerNorm');
    for (const layer of [0, 1]) {
      const p = `encoder.layer.${layer}.`;
      const attention = linear(linear(x, `${p}attention.self.value`), `${p}attention.output.dense`);
      x = layerNorm(add(x, attention), `${p}attention.output.LayerNorm`);
      const inner = linear(x, `${p}intermediate.dense`).map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
      x = layerNorm(add(x, linear(inner, `${p}output.dense`)), `${p}output.LayerNorm`);
    }
    assertClose(bertReferenceHidden(bert.weights, bert.config, [40], [1]), [x], 1e-12);
  });

  test('the embedding is the normalised mean of the hidden states, of unit length', () => {
    const hidden = bertReferenceHidden(bert.weights, bert.config, ids);
    const mean = hidden[0]!.map((_, d) => hidden.reduce((s, row) => s + row[d]!, 0) / hidden.length);
    const norm = Math.hypot(...mean);
    const embedding = bertReferenceEmbedding(bert.weights, bert.config, ids);
    assert.ok(Math.abs(Math.hypot(...embedding) - 1) < 1e-12, `norm ${Math.hypot(...embedding)}`);
    assertClose([embedding], [mean.map((v) => v / norm)], 1e-12);
  });

  test('attention is bidirectional: a later token changes the first hidden state', () => {
    const first = bertReferenceHidden(bert.weights, bert.config, ids)[0]!;
    const changed = bertReferenceHidden(bert.weights, bert.config, [...ids.slice(0, -1), 77])[0]!;
    assertApart([first], [changed]);
  });

  test('without position information, permuting tokens permutes hidden states and keeps the embedding', () => {
    const name = 'embeddings.position_embeddings.weight';
    const flat = new Map([...bert.weights, [name, new Float32Array(get(bert.weights, name).length).fill(0.25)]]);
    const permutation = [3, 0, 5, 1, 4, 2];
    const permuted = permutation.map((i) => ids[i]!);
    const hidden = bertReferenceHidden(flat, bert.config, ids);
    assertClose(bertReferenceHidden(flat, bert.config, permuted), permutation.map((i) => hidden[i]!), 1e-12);
    assertClose([bertReferenceEmbedding(flat, bert.config, permuted)], [bertReferenceEmbedding(flat, bert.config, ids)], 1e-12);
    const embed = (tokens: number[]) => bertReferenceEmbedding(bert.weights, bert.config, tokens);
    assertApart([embed(permuted)], [embed(ids)]);
  });

  test('token types default to 0 and matter; the bert. prefix and pooler weights change nothing', () => {
    const embedding = bertReferenceEmbedding(bert.weights, bert.config, ids);
    assert.deepEqual(bertReferenceEmbedding(bert.weights, bert.config, ids, ids.map(() => 0)), embedding);
    assertApart([bertReferenceEmbedding(bert.weights, bert.config, ids, [0, 0, 0, 1, 1, 1])], [embedding]);
    const prefixed = writeTinyBert(freshDir(), { seed: 7, bertPrefix: true, pooler: true });
    assert.ok(prefixed.weights.has('bert.embeddings.word_embeddings.weight'), 'prefixed names');
    assert.ok(prefixed.weights.has('bert.pooler.dense.weight'), 'pooler');
    assert.deepEqual(bertReferenceEmbedding(prefixed.weights, prefixed.config, ids), embedding);
  });
});

describe('golden: the references against Hugging Face transformers', { skip: skipWithoutPython() }, () => {
  const text = 'Thought: I should call the search tool. Action: search_hotels {"city": "Paris"}';
  const llamaCases: [string, TinyLlamaOptions][] = [
    ['GQA, two shards', { numKeyValueHeads: 2, shards: 2, seed: 31 }],
    ['tied embeddings, F16', { tieWordEmbeddings: true, dtype: 'F16', seed: 32 }],
    ['linear RoPE scaling 2, BF16', { ropeScalingFactor: 2, dtype: 'BF16', seed: 33 }],
    ['MQA, head_dim 16, rope_theta 500000', { numKeyValueHeads: 1, headDim: 16, ropeTheta: 500000, numHiddenLayers: 3, seed: 34 }],
  ];

  test('LLaMA logits agree to 1e-4 (GQA, tied, linear scaling, offset positions)', () => {
    const checkpoints = llamaCases.map(([, options]) => llama(options));
    const ids = loadTokenizer(checkpoints[0]!.dir).encode(text).ids;
    const offset = ids.map((_: number, t: number) => t + 9);
    const answers = hfReference([
      ...checkpoints.map((checkpoint) => ({ dir: checkpoint.dir, kind: 'llama' as const, ids: [ids] })),
      { dir: checkpoints[2]!.dir, kind: 'llama', ids: [ids], position_ids: [offset] },
    ]);
    checkpoints.forEach((checkpoint, index) => {
      const expected = llamaReferenceLogits(checkpoint.weights, checkpoint.config, ids);
      assertClose(expected, answers[index]!.logits![0]!, 1e-4, llamaCases[index]![0]);
    });
    const scaled = checkpoints[2]!;
    assertClose(llamaReferenceLogits(scaled.weights, scaled.config, ids, offset), answers[4]!.logits![0]!, 1e-4, 'offset positions');
    const unscaled = llamaReferenceLogits(scaled.weights, { ...scaled.config, rope_scaling: null }, ids);
    assertApart(unscaled, answers[2]!.logits![0]!, 'the check would see a missing rope_scaling:');
  });

  test('BERT hidden states and sentence embeddings agree to 1e-5 (plain; bert. prefix, pooler, F16, shards)', () => {
    const checkpoints = [
      writeTinyBert(freshDir(), { seed: 41 }),
      writeTinyBert(freshDir(), { seed: 42, bertPrefix: true, pooler: true, dtype: 'F16', shards: 2 }),
    ];
    const pair = { text_pair: 'hotels.search: find hotels by city', return_token_type_ids: true } as const;
    const encoding = loadTokenizer(checkpoints[0]!.dir).encode('Search hotels', pair);
    const answers = hfReference(
      checkpoints.map(({ dir }) => ({ dir, kind: 'bert' as const, ids: [encoding.ids], token_type_ids: [encoding.token_type_ids] })),
    );
    checkpoints.forEach((checkpoint, index) => {
      const hidden = bertReferenceHidden(checkpoint.weights, checkpoint.config, encoding.ids, encoding.token_type_ids);
      const embedding = bertReferenceEmbedding(checkpoint.weights, checkpoint.config, encoding.ids, encoding.token_type_ids);
      assertClose(hidden, answers[index]!.last_hidden_state![0]!, 1e-5, `checkpoint ${index} hidden states`);
      assertClose([embedding], answers[index]!.embeddings!, 1e-5, `checkpoint ${index} embedding`);
    });
  });

  test('the tokenizer.json files give the same ids in Python tokenizers and @huggingface/tokenizers', () => {
    const texts = [text, 'naïve café 镇 🦙  two  spaces', 'UPPER lower 123 {"a": [1, 2]}', ''];
    const dirs = [llama({ vocabSize: 420 }).dir, writeTinyBert(freshDir()).dir];
    const answers = hfReference(dirs.map((dir) => ({ mode: 'tokenize' as const, dir, texts })));
    dirs.forEach((dir, index) => {
      const tokenizer = loadTokenizer(dir);
      assert.deepEqual(texts.map((t) => tokenizer.encode(t).ids), answers[index]!.ids);
    });
  });

  test('sentence-transformers embeds texts as the reference does', { skip: skipWithoutPython(['sentence_transformers']) }, () => {
    const checkpoint = writeTinyBert(freshDir(), { seed: 43, pooler: true });
    const texts = ['find hotels in paris', 'What is the weather?'];
    const [answer] = hfReference([{ mode: 'sentence-transformers', dir: checkpoint.dir, texts }]);
    const tokenizer = loadTokenizer(checkpoint.dir);
    const expected = texts.map((t) => bertReferenceEmbedding(checkpoint.weights, checkpoint.config, tokenizer.encode(t).ids));
    assertClose(expected, answer!.embeddings!, 1e-5);
  });
});

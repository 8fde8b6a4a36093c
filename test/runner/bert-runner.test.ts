/**
 * Sentence embeddings from the BERT graph (CPU) against the float64 reference
 * (test/helpers/reference-bert.ts) on tiny random sentence-transformers checkpoints: padded
 * batches, the `bert.` prefix, CLS pooling, normalisation only with a Normalize module, truncation;
 * and the fused graph (com.microsoft operators, the default) against the standard-op one.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SentenceEncoder } from '../../src/runner/sentence-encoder.js';
import { TextTokenizer } from '../../src/runner/tokenizer.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { bertReferenceEmbedding, bertReferenceHidden } from '../helpers/reference-bert.js';
import { writeTinyBert, writeTinyLlama, type BertConfigJson, type TinyBertOptions, type TinyCheckpoint } from '../helpers/tiny-checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-bert-runner-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const bert = (options: TinyBertOptions = {}) => writeTinyBert(join(root, `bert-${counter++}`), options);

const TOLERANCE = 1e-5;
/** Different lengths (3 to 20 tokens), so the batch is padded on the right. */
const TEXTS = ['hotels', 'search for hotels in the city', 'the weather in paris is sunny, and the station is near the hotel.', 'call the api'];

const writeJson = (file: string, value: unknown) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

async function embed(dir: string, texts: readonly string[], batchSize?: number, graph?: 'fused' | 'unfused'): Promise<{ embeddings: Float32Array[]; encoder: SentenceEncoder }> {
  const encoder = await SentenceEncoder.load(dir, { device: 'cpu', threads: 1, ...(graph !== undefined ? { graph } : {}) });
  try {
    return { embeddings: await encoder.embed(texts, batchSize), encoder };
  } finally {
    await encoder.release();
  }
}

function maxDifference(actual: Float32Array, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let max = 0;
  for (let index = 0; index < actual.length; index++) max = Math.max(max, Math.abs((actual[index] as number) - (expected[index] as number)));
  return max;
}

const norm = (vector: ArrayLike<number>) => Math.sqrt(Array.from(vector).reduce((sum, value) => sum + value * value, 0));

/** Token ids as the model sees them ([CLS] ... [SEP]), by the checkpoint's own tokenizer. */
const idsOf = (checkpoint: TinyCheckpoint<BertConfigJson>, text: string) => TextTokenizer.fromDir(checkpoint.dir).encode(text);

/** Without modules.json's Normalize entry. */
function dropNormalize(dir: string): void {
  writeJson(join(dir, 'modules.json'), [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
  ]);
}

function meanOf(rows: readonly Float64Array[]): Float64Array {
  const mean = new Float64Array(rows[0]?.length ?? 0);
  for (const row of rows) row.forEach((value, index) => (mean[index] = (mean[index] as number) + value / rows.length));
  return mean;
}

describe('BERT sentence embeddings against the float64 reference (fp32, ≤ 1e-5)', () => {
  test('mean pooling + Normalize: each text of a padded batch gets its reference embedding', async () => {
    const checkpoint = bert({ seed: 51 });
    const lengths = TEXTS.map((text) => idsOf(checkpoint, text).length);
    assert.equal(new Set(lengths).size, TEXTS.length, `lengths differ: ${lengths.join(', ')}`);
    assert.deepEqual(idsOf(checkpoint, 'hotels').slice(0, 1), [2], 'the rows start with [CLS]');
    const { embeddings, encoder } = await embed(checkpoint.dir, TEXTS);
    assert.deepEqual(encoder.head, { pooling: 'mean', normalize: true });
    assert.equal(embeddings.length, TEXTS.length);
    for (const [index, text] of TEXTS.entries()) {
      const difference = maxDifference(embeddings[index] as Float32Array, bertReferenceEmbedding(checkpoint.weights, checkpoint.config, idsOf(checkpoint, text)));
      assert.ok(difference <= TOLERANCE, `${text}: max |Δ| ${difference}`);
      assert.ok(Math.abs(norm(embeddings[index] as Float32Array) - 1) < 1e-6);
    }
  });

  test('padding changes nothing: one text alone, in a batch, or in batches of two gives the same embedding', async () => {
    const checkpoint = bert({ seed: 52 });
    const batched = (await embed(checkpoint.dir, TEXTS)).embeddings;
    const inPairs = (await embed(checkpoint.dir, TEXTS, 2)).embeddings;
    for (const [index, text] of TEXTS.entries()) {
      const alone = (await embed(checkpoint.dir, [text])).embeddings[0] as Float32Array;
      assert.ok(maxDifference(batched[index] as Float32Array, alone) <= TOLERANCE, text);
      assert.ok(maxDifference(inPairs[index] as Float32Array, alone) <= TOLERANCE, text);
    }
    // and the texts do differ, so the checks above can fail
    assert.ok(maxDifference(batched[0] as Float32Array, batched[1] as Float32Array) > 1e-2);
  });

  test('a checkpoint with its encoder under "bert." (BertForMaskedLM layout, a pooler, BF16) reads the same way', async () => {
    const checkpoint = bert({ seed: 53, bertPrefix: true, pooler: true, dtype: 'BF16' });
    assert.ok(checkpoint.weights.has('bert.embeddings.word_embeddings.weight'));
    const { embeddings } = await embed(checkpoint.dir, TEXTS);
    for (const [index, text] of TEXTS.entries()) {
      const difference = maxDifference(embeddings[index] as Float32Array, bertReferenceEmbedding(checkpoint.weights, checkpoint.config, idsOf(checkpoint, text)));
      assert.ok(difference <= TOLERANCE, `${text}: max |Δ| ${difference}`);
    }
  });

  test('CLS pooling from 1_Pooling/config.json, not normalised without a Normalize module: the [CLS] hidden state', async () => {
    const checkpoint = bert({ seed: 54 });
    writeJson(join(checkpoint.dir, '1_Pooling', 'config.json'), { word_embedding_dimension: 32, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false, pooling_mode_max_tokens: false });
    dropNormalize(checkpoint.dir);
    const { embeddings, encoder } = await embed(checkpoint.dir, TEXTS);
    assert.deepEqual(encoder.head, { pooling: 'cls', normalize: false });
    for (const [index, text] of TEXTS.entries()) {
      const cls = bertReferenceHidden(checkpoint.weights, checkpoint.config, idsOf(checkpoint, text))[0] as Float64Array;
      const difference = maxDifference(embeddings[index] as Float32Array, cls);
      assert.ok(difference <= TOLERANCE, `${text}: max |Δ| ${difference}`);
      assert.ok(Math.abs(norm(embeddings[index] as Float32Array) - 1) > 0.1, 'not normalised');
    }
  });

  test('mean pooling without a Normalize module: the plain mean of the hidden states', async () => {
    const checkpoint = bert({ seed: 55 });
    dropNormalize(checkpoint.dir);
    const { embeddings, encoder } = await embed(checkpoint.dir, TEXTS);
    assert.deepEqual(encoder.head, { pooling: 'mean', normalize: false });
    for (const [index, text] of TEXTS.entries()) {
      const mean = meanOf(bertReferenceHidden(checkpoint.weights, checkpoint.config, idsOf(checkpoint, text)));
      const difference = maxDifference(embeddings[index] as Float32Array, mean);
      assert.ok(difference <= TOLERANCE, `${text}: max |Δ| ${difference}`);
    }
  });

  test('a bare BertModel (no modules.json) gets mean pooling and L2 normalisation', async () => {
    const checkpoint = bert({ seed: 56 });
    unlinkSync(join(checkpoint.dir, 'modules.json'));
    const { embeddings, encoder } = await embed(checkpoint.dir, [TEXTS[1] as string]);
    assert.deepEqual(encoder.head, { pooling: 'mean', normalize: true });
    assert.ok(maxDifference(embeddings[0] as Float32Array, bertReferenceEmbedding(checkpoint.weights, checkpoint.config, idsOf(checkpoint, TEXTS[1] as string))) <= TOLERANCE);
  });

  test('max_seq_length of sentence_bert_config.json truncates the text, keeping [CLS] and [SEP]', async () => {
    const checkpoint = bert({ seed: 57 });
    writeJson(join(checkpoint.dir, 'sentence_bert_config.json'), { max_seq_length: 6, do_lower_case: false });
    const text = TEXTS[2] as string;
    const ids = idsOf(checkpoint, text);
    assert.ok(ids.length > 6);
    const truncated = [...ids.slice(0, 5), ids.at(-1) as number];
    const { embeddings, encoder } = await embed(checkpoint.dir, [text]);
    assert.equal(encoder.maxLength, 6);
    assert.ok(maxDifference(embeddings[0] as Float32Array, bertReferenceEmbedding(checkpoint.weights, checkpoint.config, truncated)) <= TOLERANCE);
  });

  test('the standard-op graph gives its reference embeddings, and the fused graph the same ones (mean and CLS pooling)', async () => {
    const checkpoint = bert({ seed: 59, bertPrefix: true });
    const unfused = (await embed(checkpoint.dir, TEXTS, undefined, 'unfused')).embeddings;
    const fused = (await embed(checkpoint.dir, TEXTS, undefined, 'fused')).embeddings;
    for (const [index, text] of TEXTS.entries()) {
      const reference = bertReferenceEmbedding(checkpoint.weights, checkpoint.config, idsOf(checkpoint, text));
      assert.ok(maxDifference(unfused[index] as Float32Array, reference) <= TOLERANCE, `unfused, ${text}`);
      assert.ok(maxDifference(fused[index] as Float32Array, unfused[index] as Float32Array) <= TOLERANCE, `fused, ${text}`);
    }
    writeJson(join(checkpoint.dir, '1_Pooling', 'config.json'), { word_embedding_dimension: 32, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false, pooling_mode_max_tokens: false });
    dropNormalize(checkpoint.dir);
    const clsUnfused = (await embed(checkpoint.dir, TEXTS, 3, 'unfused')).embeddings;
    const clsFused = (await embed(checkpoint.dir, TEXTS, 3, 'fused')).embeddings;
    for (const [index, text] of TEXTS.entries()) assert.ok(maxDifference(clsFused[index] as Float32Array, clsUnfused[index] as Float32Array) <= TOLERANCE, `CLS, ${text}`);
  });

  test('texts are batched longest first, and their embeddings come back in their order', async () => {
    const checkpoint = bert({ seed: 60 });
    const texts = [...TEXTS, 'hotels', ...TEXTS.slice().reverse()];
    const { embeddings } = await embed(checkpoint.dir, texts, 3);
    assert.equal(embeddings.length, texts.length);
    for (const [index, text] of texts.entries()) {
      const difference = maxDifference(embeddings[index] as Float32Array, bertReferenceEmbedding(checkpoint.weights, checkpoint.config, idsOf(checkpoint, text)));
      assert.ok(difference <= TOLERANCE, `${index} ${text}: max |Δ| ${difference}`);
    }
  });

  test('a decoder checkpoint is refused with the command to use instead', async () => {
    const decoder = writeTinyLlama(join(root, 'decoder'), { seed: 58 });
    await assert.rejects(
      SentenceEncoder.load(decoder.dir, { device: 'cpu' }),
      (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && /a decoder, not a BERT encoder: use "toolbench model generate"/.test(error.message),
    );
  });
});

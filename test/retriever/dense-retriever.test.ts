/**
 * Dense retrieval (algorithms.md §12 steps 1–2) with a tiny random sentence-transformers BERT:
 * the ranking against a float64 cosine computed here from SentenceEncoder's own embeddings, the
 * on-disk embedding cache, progress and cancellation; and, when the real all-MiniLM-L6-v2 is in
 * the test-model cache, that it ranks a plainly matching API first.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readRetrievalCorpus } from '../../src/retriever/corpus.js';
import { DenseRetriever, type DenseRetrieverOptions } from '../../src/retriever/dense-retriever.js';
import { SentenceEncoder } from '../../src/runner/sentence-encoder.js';
import { pyCsvRow } from '../../src/util/py-csv.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { writeTinyBert } from '../helpers/tiny-checkpoint.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-dense-retriever-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Api {
  readonly category_name: string;
  readonly tool_name: string;
  readonly api_name: string;
  readonly api_description: string;
}

const API_LIST: readonly Api[] = [
  { category_name: 'Communication', tool_name: 'SMS Gateway', api_name: 'Send SMS', api_description: 'Send a text message to a phone number' },
  { category_name: 'Weather', tool_name: 'Open Weather', api_name: 'Current weather', api_description: 'The weather in a city today' },
  { category_name: 'Finance', tool_name: 'Stock Quotes', api_name: 'Quote', api_description: 'Latest price of a stock ticker' },
  { category_name: 'Food', tool_name: 'Recipes', api_name: 'Search recipes', api_description: 'Find recipes by ingredient' },
  { category_name: 'Sports', tool_name: 'Football Scores', api_name: 'Live scores', api_description: 'Scores of the football matches being played' },
  { category_name: 'Travel', tool_name: 'Hotels', api_name: 'Search hotels', api_description: 'Hotels near a place, with prices' },
];

/** corpus.tsv as `preprocess retriever` writes it: every API twice, docids from 1. */
function corpusText(apis: readonly Api[]): string {
  const rows = apis.map((api, index) => pyCsvRow([index + 1, pyJsonDumps({ ...api, required_parameters: [], optional_parameters: [], method: 'GET' })], '\t', '\n'));
  return `docid\tdocument_content\n${rows.join('')}${rows.join('')}`;
}

function cosine(left: Float32Array, right: Float32Array): number {
  let dot = 0;
  let leftNorm = 0;
  let rightNorm = 0;
  left.forEach((value, index) => {
    const other = right[index] as number;
    dot += value * other;
    leftNorm += value * value;
    rightNorm += other * other;
  });
  return dot / Math.sqrt(leftNorm * rightNorm);
}

const QUERY = 'send a text message to my friend';
let model: string;
let corpus: string;
before(() => {
  model = writeTinyBert(join(scratch, 'bert'), { seed: 71 }).dir;
  corpus = join(scratch, 'corpus.tsv');
  writeFileSync(corpus, corpusText(API_LIST));
});

/** The tiny model without its Normalize module: the embeddings are not unit vectors. */
function unnormalizedModel(): string {
  const dir = writeTinyBert(join(scratch, 'bert-raw'), { seed: 71 }).dir;
  writeFileSync(join(dir, 'modules.json'), JSON.stringify([
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
  ]));
  return dir;
}

async function withRetriever<T>(options: Partial<DenseRetrieverOptions>, use: (retriever: DenseRetriever) => Promise<T>): Promise<T> {
  const retriever = await DenseRetriever.open({ model, corpus, device: 'cpu', ...options });
  try {
    return await use(retriever);
  } finally {
    await retriever.release();
  }
}

describe('DenseRetriever with a tiny random BERT', () => {
  for (const normalized of [true, false]) {
    test(`ranks every document as a float64 cosine of SentenceEncoder embeddings does, and returns the first n (${normalized ? 'a Normalize module' : 'unnormalised mean pooling'})`, async () => {
      const dir = normalized ? model : unnormalizedModel();
      const texts = readRetrievalCorpus(corpus).texts;
      const encoder = await SentenceEncoder.load(dir, { device: 'cpu' });
      let reference: { index: number; score: number }[];
      try {
        const documents = await encoder.embed(texts);
        const [query] = await encoder.embed([QUERY]);
        reference = documents.map((embedding, index) => ({ index, score: cosine(embedding, query as Float32Array) })).sort((a, b) => b.score - a.score || a.index - b.index);
      } finally {
        await encoder.release();
      }
      const gaps = reference.slice(1).map((entry, position) => (reference[position] as { score: number }).score - entry.score);
      assert.ok(Math.min(...gaps) > 1e-4, `the reference has near ties (${Math.min(...gaps)}): pick another seed`);

      await withRetriever({ model: dir, batchSize: 4 }, async (retriever) => {
        assert.equal(retriever.documents, API_LIST.length);
        assert.equal(retriever.device, 'cpu');
        assert.equal(retriever.fromCache, false);
        const hits = await retriever.search(QUERY, texts.length);
        assert.deepEqual(hits.map((hit) => hit.text), reference.map((entry) => texts[entry.index]));
        hits.forEach((hit, rank) => {
          const expected = (reference[rank] as { score: number }).score;
          assert.ok(Math.abs(hit.score - expected) < 1e-5, `hit ${rank}: ${hit.score} vs ${expected}`);
          const api = API_LIST[(reference[rank] as { index: number }).index] as Api;
          assert.deepEqual(hit.api, { categoryName: api.category_name, toolName: api.tool_name, apiName: api.api_name });
        });
        assert.deepEqual(await retriever.search(QUERY, 3), hits.slice(0, 3));
        assert.deepEqual(await retriever.search(QUERY, 100), hits);
        assert.deepEqual(await retriever.search(QUERY, 0), []);
        await assert.rejects(retriever.search(QUERY, -1), { code: 'usage.invalid', exitCode: 2 });
      });
    });
  }

  test('reports progress after each batch and stops at an abort between batches, writing no cache', async () => {
    const progress: [number, number][] = [];
    await withRetriever({ batchSize: 4, onProgress: (done, total) => progress.push([done, total]) }, async () => {});
    assert.deepEqual(progress, [[0, 6], [4, 6], [6, 6]]);

    const cacheDir = join(scratch, 'aborted-cache');
    const controller = new AbortController();
    const seen: number[] = [];
    const onProgress = (done: number) => {
      seen.push(done);
      if (done >= 2) controller.abort();
    };
    await assert.rejects(DenseRetriever.open({ model, corpus, device: 'cpu', batchSize: 2, cacheDir, onProgress, signal: controller.signal }), { name: 'AbortError' });
    assert.deepEqual(seen, [0, 2]);
    assert.deepEqual(readdirSync(cacheDir), []);
  });

  test('the embedding cache: written, reused with the same results, rewritten when the corpus or the model changes or the file is damaged', async () => {
    const cacheDir = join(scratch, 'cache');
    const cacheFiles = () => readdirSync(cacheDir);
    const open = (options: Partial<DenseRetrieverOptions> = {}) =>
      withRetriever({ cacheDir, ...options }, async (retriever) => ({ fromCache: retriever.fromCache, hits: await retriever.search(QUERY, 4) }));

    const first = await open();
    assert.equal(first.fromCache, false);
    assert.equal(cacheFiles().length, 1);
    const file = join(cacheDir, cacheFiles()[0] as string);
    assert.match(file, /corpus_bert_[0-9a-f]{12}\.embeddings$/);
    assert.equal(readFileSync(file).length, 88 + API_LIST.length * 32 * 4);

    let calls = 0;
    const second = await open({ onProgress: () => calls++ });
    assert.equal(second.fromCache, true);
    assert.equal(calls, 0);
    assert.deepEqual(second.hits, first.hits);

    // the same corpus path with other texts: the file is replaced, not added to
    writeFileSync(corpus, corpusText([...API_LIST, { category_name: 'Video', tool_name: 'Clips', api_name: 'Search', api_description: 'Find videos' }]));
    try {
      const changed = await withRetriever({ cacheDir }, async (retriever) => [retriever.fromCache, retriever.documents]);
      assert.deepEqual(changed, [false, 7]);
      assert.equal(cacheFiles().length, 1);
    } finally {
      writeFileSync(corpus, corpusText(API_LIST));
    }
    assert.equal((await open()).fromCache, false);
    assert.equal((await open()).fromCache, true);

    // one flipped bit in the vectors, then a cut file: each is ignored and rewritten
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0x10;
    writeFileSync(file, bytes);
    const repaired = await open();
    assert.equal(repaired.fromCache, false);
    assert.deepEqual(repaired.hits, first.hits);
    truncateSync(file, 100);
    assert.equal((await open()).fromCache, false);
    assert.equal((await open()).fromCache, true);

    // new weights (a newer modification time): embedded again
    const weights = join(model, 'model.safetensors');
    const later = new Date(Date.now() + 60_000);
    utimesSync(weights, later, later);
    assert.equal((await open()).fromCache, false);
    assert.equal((await open()).fromCache, true);
    assert.deepEqual(cacheFiles(), [file.slice(cacheDir.length + 1)]);
  });

  test('a cache that cannot be written is a warning: the retriever still works', async () => {
    const cacheDir = join(scratch, 'unwritable-cache');
    const first = await withRetriever({ cacheDir }, async (retriever) => retriever.search(QUERY, 2));
    const [name] = readdirSync(cacheDir);
    rmSync(join(cacheDir, name as string));
    mkdirSync(join(cacheDir, name as string)); // the cache file's place is taken by a folder
    const warnings: string[] = [];
    const hits = await withRetriever({ cacheDir, warn: (message) => warnings.push(message) }, async (retriever) => retriever.search(QUERY, 2));
    assert.deepEqual(hits, first);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /not cached/);
    await assert.rejects(withRetriever({ cacheDir }, async () => undefined), 'without warn, the failure is thrown');
  });

  test('an abort while the model loads is seen once it has loaded, also when the cache would serve', async () => {
    const cacheDir = join(scratch, 'abort-cache');
    assert.equal(await withRetriever({ cacheDir }, async (retriever) => retriever.fromCache), false);
    const controller = new AbortController();
    const opening = DenseRetriever.open({ model, corpus, device: 'cpu', cacheDir, signal: controller.signal });
    controller.abort(); // open() is waiting for the model now
    await assert.rejects(opening, { name: 'AbortError' });
  });

  test('without a cache folder nothing is written', async () => {
    const before = readdirSync(scratch).sort();
    const fromCache = await withRetriever({}, async (retriever) => retriever.fromCache);
    assert.equal(fromCache, false);
    assert.deepEqual(readdirSync(scratch).sort(), before);
  });
});

const TEST_MODELS = process.env.TOOLBENCH_TEST_MODELS || join(homedir(), '.cache', 'toolbench', 'test-models');
const MINILM = join(TEST_MODELS, 'minilm');

describe('DenseRetriever with all-MiniLM-L6-v2', { skip: existsSync(join(MINILM, 'config.json')) ? false : `${MINILM} not found (run node scripts/fetch-test-models.mjs)` }, () => {
  test('"send a text message" finds the SMS API first, and the weather API for a weather question', async () => {
    const retriever = await DenseRetriever.open({ model: MINILM, corpus, device: 'cpu' });
    try {
      const [sms] = await retriever.search('send a text message', 1);
      assert.equal(sms?.api.apiName, 'Send SMS');
      assert.ok((sms?.score ?? 0) > 0.3, `score ${sms?.score}`);
      const weather = await retriever.search('will it rain in Paris tomorrow?', 2);
      assert.equal(weather[0]?.api.toolName, 'Open Weather');
    } finally {
      await retriever.release();
    }
  });
});

/**
 * `preprocess retriever`: ToolBench's `preprocess_retriever_data.py` (preprocess-and-train.md §1,
 * formats.md §8). From an instruction file and a test-id file: `train.json`/`test.json` (the
 * query objects of each split), `corpus.tsv` (one row per API occurrence), the query files and
 * the qrels, byte-compatible with upstream.
 *
 * The query file is streamed twice (train queries first, then test queries, which is the order
 * upstream assigns document and query ids in), so a multi-GB file is never held whole; what is
 * kept is one entry per distinct API and per (query, relevant API) pair, which the shuffle needs.
 */
import { join } from 'node:path';
import { readJsonArrayItems } from '../util/json-array-stream.js';
import { legacyShuffledIndices } from '../util/mt19937.js';
import { pyCsvRow } from '../util/py-csv.js';
import { PyFloat, isPyObject, type PyObject, type PyValue } from '../util/py-value.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { pyRepr } from '../util/pyrepr.js';
import { breathe, createOutputSet } from './output-files.js';

/** scikit-learn `shuffle(random_state=42)` in upstream. */
const SHUFFLE_SEED = 42;

export interface RetrieverOptions {
  readonly queries: string;
  readonly testIds: ReadonlySet<number>;
  readonly out: string;
  readonly onProgress?: (queriesRead: number) => void;
  readonly signal?: AbortSignal;
}

export interface RetrieverCounts {
  readonly queries: number;
  readonly train: number;
  readonly test: number;
  readonly documents: number;
  readonly distinct_documents: number;
  readonly train_pairs: number;
  readonly test_pairs: number;
  readonly skipped: number;
}

export interface Skipped {
  readonly index: number;
  readonly reason: string;
}

interface Pair {
  readonly qid: number;
  readonly text: string;
  readonly docId: number;
}

export async function preprocessRetriever(options: RetrieverOptions, report: (skipped: Skipped) => void): Promise<RetrieverCounts> {
  const outputs = createOutputSet();
  try {
    const counts = await writeRetrieverData(options, outputs, report);
    outputs.commit();
    return counts;
  } catch (error) {
    outputs.discard();
    throw error;
  }
}

async function writeRetrieverData(options: RetrieverOptions, outputs: ReturnType<typeof createOutputSet>, report: (skipped: Skipped) => void): Promise<RetrieverCounts> {
  const corpus = outputs.open(join(options.out, 'corpus.tsv'));
  corpus.write('docid\tdocument_content\n');
  const docIds = new Map<string, number>();
  const queryIds = new Map<string, number>();
  const pairs = { train: [] as Pair[], test: [] as Pair[] };
  const sizes = { train: 0, test: 0, documents: 0, skipped: 0 };
  let read = 0;

  for (const split of ['train', 'test'] as const) {
    const json = outputs.open(join(options.out, `${split}.json`));
    json.write('[');
    let written = 0;
    for (const { index, value } of readJsonArrayItems(options.queries, { expected: 'an array of queries' })) {
      if (index % 256 === 0) await breathe(); // lets Ctrl-C and the progress bar in
      options.signal?.throwIfAborted();
      if (split === 'train') options.onProgress?.(++read);
      const problem = queryProblem(value);
      if (problem !== undefined) {
        if (split === 'train') {
          report({ index, reason: problem });
          sizes.skipped++;
        }
        continue;
      }
      const query = value as PyObject;
      // upstream: the query_id when there is one (an int to match the test ids), else the position
      const id = numericId('query_id' in query ? query['query_id'] : index);
      if ((id !== undefined && options.testIds.has(id) ? 'test' : 'train') !== split) continue;
      sizes[split]++;
      json.write(`${written++ === 0 ? '' : ', '}${pyJsonDumps(query)}`);
      const relevant = relevantApis(query);
      const text = queryText(query);
      for (const api of query['api_list'] as readonly PyValue[]) {
        const content = pyJsonDumps(api);
        let docId = docIds.get(content);
        if (docId === undefined) {
          docId = docIds.size + 1;
          docIds.set(content, docId);
        }
        corpus.write(pyCsvRow([docId, content], '\t', '\n'));
        sizes.documents++;
        const record = api as PyObject;
        if (relevant !== undefined && !relevant.has(pyRepr([record['tool_name'] ?? null, record['api_name'] ?? null]))) continue;
        let qid = queryIds.get(text);
        if (qid === undefined) {
          qid = queryIds.size + 1;
          queryIds.set(text, qid);
        }
        pairs[split].push({ qid, text, docId });
      }
    }
    json.write(']');
  }

  for (const split of ['train', 'test'] as const) {
    const queriesOut = outputs.open(join(options.out, `${split}.query.txt`));
    const qrelsOut = outputs.open(join(options.out, `qrels.${split}.tsv`));
    const list = pairs[split];
    for (const position of legacyShuffledIndices(list.length, SHUFFLE_SEED)) {
      const pair = list[position] as Pair;
      queriesOut.write(pyCsvRow([pair.qid, pair.text], '\t', '\n'));
      qrelsOut.write(`${pair.qid}\t0\t${pair.docId}\t1\n`);
    }
  }
  return {
    queries: sizes.train + sizes.test,
    train: sizes.train,
    test: sizes.test,
    documents: sizes.documents,
    distinct_documents: docIds.size,
    train_pairs: pairs.train.length,
    test_pairs: pairs.test.length,
    skipped: sizes.skipped,
  };
}

/** A query id as Python compares it with int test ids (`11.0 == 11`); undefined for non-numbers. */
function numericId(id: PyValue | undefined): number | undefined {
  if (typeof id === 'number') return id;
  if (id instanceof PyFloat) return id.value;
  if (typeof id === 'bigint') return Number(id);
  return undefined;
}

/** Why a query item cannot be used, or undefined. */
function queryProblem(value: PyValue): string | undefined {
  if (!isPyObject(value)) return 'not an object';
  const text = value['query'];
  if (typeof text !== 'string' && !(Array.isArray(text) && typeof text[0] === 'string')) return '.query: expected a string (or a list starting with one)';
  if (!Array.isArray(value['api_list'])) return '.api_list: expected a list of APIs';
  const bad = (value['api_list'] as readonly PyValue[]).findIndex((api) => !isPyObject(api));
  if (bad >= 0) return `.api_list[${bad}]: expected an object`;
  const relevant = value['relevant APIs'];
  if (relevant !== undefined && !Array.isArray(relevant)) return '."relevant APIs": expected a list of [tool_name, api_name]';
  return undefined;
}

/** Upstream takes element 0 when the query is a list. */
function queryText(query: PyObject): string {
  const text = query['query'];
  return Array.isArray(text) ? (text[0] as string) : (text as string);
}

/**
 * The `[tool_name, api_name]` pairs of `relevant APIs`. A query without that key (the 2023 demo
 * query files) pairs with every API of its list, as the upstream outputs made from them show.
 */
function relevantApis(query: PyObject): Set<string> | undefined {
  const list = query['relevant APIs'] as readonly PyValue[] | undefined;
  if (list === undefined) return undefined;
  return new Set(list.filter(Array.isArray).map((pair) => pyRepr(pair)));
}

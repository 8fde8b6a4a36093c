/**
 * `toolbench preprocess retriever` (preprocess-and-train.md §1, formats.md §8): the expected files
 * below are written by hand from the spec for fixtures/preprocess/queries.json, not taken from a run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MT19937, legacyShuffledIndices } from '../../src/util/mt19937.js';
import { runToolbench } from '../helpers/cli.js';
import { SKIP_WITHOUT_DATA, dataPath, fixture } from '../helpers/paths.js';

const QUERIES = fixture('preprocess', 'queries.json');
const TEST_IDS = fixture('preprocess', 'test_ids.json');
const OUTPUT_FILES = ['corpus.tsv', 'qrels.test.tsv', 'qrels.train.tsv', 'test.json', 'test.query.txt', 'train.json', 'train.query.txt'];

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-preprocess-retriever-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let runs = 0;
function freshDir(): string {
  return join(scratch, `run-${++runs}`);
}
function read(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}

// ---------------------------------------------------------------------------------------------
// The four distinct API entries of the fixture, as pyjson (ensure_ascii: é \u00e9, – \u2013,
// 中文 \u4e2d\u6587, 😀 the surrogate pair \ud83d\ude00; \" and \t escaped) ...
const A_JSON = String.raw`{"category_name": "Food", "tool_name": "Caf\u00e9 Tool", "api_name": "search", "api_description": "Find caf\u00e9s near you \u2013 \u4e2d\u6587 \ud83d\ude00", "required_parameters": [{"name": "city", "type": "STRING", "description": "City name", "default": "Paris"}], "optional_parameters": [{"name": "limit", "type": "NUMBER", "description": "", "default": 5}], "method": "GET", "template_response": {"results": [{"name": "str"}]}}`;
const B_JSON = String.raw`{"category_name": "Food", "tool_name": "Caf\u00e9 Tool", "api_name": "lookup", "api_description": "Look up a caf\u00e9 by \"id\"\tfast", "required_parameters": [{"name": "id", "type": "STRING", "description": "Caf\u00e9 id", "default": "c-1"}], "optional_parameters": [], "method": "GET", "template_response": {}}`;
const C_JSON = String.raw`{"category_name": "Tools", "tool_name": "Other Tool", "api_name": "search", "api_description": "Search other things", "required_parameters": [{"name": "q", "type": "STRING", "description": "Query", "default": "x"}], "optional_parameters": [], "method": "POST"}`;
const A2_JSON = String.raw`{"category_name": "Food", "tool_name": "Caf\u00e9 Tool", "api_name": "search", "api_description": "Find caf\u00e9s (updated)", "required_parameters": [{"name": "city", "type": "STRING", "description": "City name", "default": "Paris"}], "optional_parameters": [{"name": "limit", "type": "NUMBER", "description": "", "default": 5}], "method": "GET", "template_response": {"results": [{"name": "str"}]}}`;

// ... and as pandas writes them in corpus.tsv: quoted, every " doubled.
const A_CSV = String.raw`"{""category_name"": ""Food"", ""tool_name"": ""Caf\u00e9 Tool"", ""api_name"": ""search"", ""api_description"": ""Find caf\u00e9s near you \u2013 \u4e2d\u6587 \ud83d\ude00"", ""required_parameters"": [{""name"": ""city"", ""type"": ""STRING"", ""description"": ""City name"", ""default"": ""Paris""}], ""optional_parameters"": [{""name"": ""limit"", ""type"": ""NUMBER"", ""description"": """", ""default"": 5}], ""method"": ""GET"", ""template_response"": {""results"": [{""name"": ""str""}]}}"`;
const B_CSV = String.raw`"{""category_name"": ""Food"", ""tool_name"": ""Caf\u00e9 Tool"", ""api_name"": ""lookup"", ""api_description"": ""Look up a caf\u00e9 by \""id\""\tfast"", ""required_parameters"": [{""name"": ""id"", ""type"": ""STRING"", ""description"": ""Caf\u00e9 id"", ""default"": ""c-1""}], ""optional_parameters"": [], ""method"": ""GET"", ""template_response"": {}}"`;
const C_CSV = String.raw`"{""category_name"": ""Tools"", ""tool_name"": ""Other Tool"", ""api_name"": ""search"", ""api_description"": ""Search other things"", ""required_parameters"": [{""name"": ""q"", ""type"": ""STRING"", ""description"": ""Query"", ""default"": ""x""}], ""optional_parameters"": [], ""method"": ""POST""}"`;
const A2_CSV = String.raw`"{""category_name"": ""Food"", ""tool_name"": ""Caf\u00e9 Tool"", ""api_name"": ""search"", ""api_description"": ""Find caf\u00e9s (updated)"", ""required_parameters"": [{""name"": ""city"", ""type"": ""STRING"", ""description"": ""City name"", ""default"": ""Paris""}], ""optional_parameters"": [{""name"": ""limit"", ""type"": ""NUMBER"", ""description"": """", ""default"": 5}], ""method"": ""GET"", ""template_response"": {""results"": [{""name"": ""str""}]}}"`;

/*
 * The fixture, position by position (test ids 11, 4, 7, 999):
 *   0  id 10  train  "Find cafés in Paris 中文 😀"   [A, B]   relevant A, B
 *   1  id 11  test   'He said "hi"<TAB>then left'   [A, C]   relevant A, C (two tools, same api_name)
 *   2  "oops"                                        skipped: not an object
 *   3  id 12  train  ["List query text", "ignored"] [C]      relevant C
 *   4  no id: position 4 → test, same text as 0     [B, A2]  relevant B, A2 (A2: A with another description)
 *   5  id 13  no api_list                           skipped
 *   6  id 14  train  "No relevant API"              [C]      relevant ["Missing Tool", "search"]: no pair
 *   7  id 15  train (position 7 is a test id, but the query_id counts)  "Plain ascii"  [B, A]  relevant B, A
 * Train first: 0 (A→1, B→2), 3 (C→3), 6 (C), 7 (B, A); then test: 1 (A, C), 4 (B, A2→4).
 * qids: 1 "Find cafés…", 2 "List query text", 3 "Plain ascii" (6 has no pair, so takes none), 4 'He said…';
 * test query 4 shares qid 1 with train query 0.
 * Train pairs (qid, doc): (1,1) (1,2) (2,3) (3,2) (3,1) → RandomState(42) order [1,4,2,0,3].
 * Test pairs: (4,1) (4,3) (1,2) (1,4) → order [1,3,0,2].
 */
const EXPECTED_CORPUS =
  'docid\tdocument_content\n' +
  `1\t${A_CSV}\n` +
  `2\t${B_CSV}\n` +
  `3\t${C_CSV}\n` +
  `3\t${C_CSV}\n` +
  `2\t${B_CSV}\n` +
  `1\t${A_CSV}\n` +
  `1\t${A_CSV}\n` +
  `3\t${C_CSV}\n` +
  `2\t${B_CSV}\n` +
  `4\t${A2_CSV}\n`;

const CAFES_JSON = String.raw`"Find caf\u00e9s in Paris \u4e2d\u6587 \ud83d\ude00"`;
const EXPECTED_TRAIN_JSON =
  '[' +
  String.raw`{"api_list": [${A_JSON}, ${B_JSON}], "query": ${CAFES_JSON}, "relevant APIs": [["Caf\u00e9 Tool", "search"], ["Caf\u00e9 Tool", "lookup"]], "query_id": 10}, ` +
  String.raw`{"api_list": [${C_JSON}], "query": ["List query text", "ignored"], "relevant APIs": [["Other Tool", "search"]], "query_id": 12}, ` +
  String.raw`{"api_list": [${C_JSON}], "query": "No relevant API", "relevant APIs": [["Missing Tool", "search"]], "query_id": 14}, ` +
  String.raw`{"api_list": [${B_JSON}, ${A_JSON}], "query": "Plain ascii", "relevant APIs": [["Caf\u00e9 Tool", "lookup"], ["Caf\u00e9 Tool", "search"]], "query_id": 15}` +
  ']';
const EXPECTED_TEST_JSON =
  '[' +
  String.raw`{"api_list": [${A_JSON}, ${C_JSON}], "query": "He said \"hi\"\tthen left", "relevant APIs": [["Caf\u00e9 Tool", "search"], ["Other Tool", "search"]], "query_id": 11}, ` +
  String.raw`{"api_list": [${B_JSON}, ${A2_JSON}], "query": ${CAFES_JSON}, "relevant APIs": [["Caf\u00e9 Tool", "lookup"], ["Caf\u00e9 Tool", "search"]]}` +
  ']';

const CAFES = 'Find cafés in Paris 中文 😀';
const QUOTED = '"He said ""hi""\tthen left"';
const EXPECTED_TRAIN_QUERIES = `1\t${CAFES}\n3\tPlain ascii\n2\tList query text\n1\t${CAFES}\n3\tPlain ascii\n`;
const EXPECTED_TRAIN_QRELS = '1\t0\t2\t1\n3\t0\t1\t1\n2\t0\t3\t1\n1\t0\t1\t1\n3\t0\t2\t1\n';
const EXPECTED_TEST_QUERIES = `4\t${QUOTED}\n1\t${CAFES}\n4\t${QUOTED}\n1\t${CAFES}\n`;
const EXPECTED_TEST_QRELS = '4\t0\t3\t1\n1\t0\t4\t1\n4\t0\t1\t1\n1\t0\t2\t1\n';

describe('MT19937 and the legacy NumPy shuffle', () => {
  test('MT19937 seeded with init_genrand gives the reference outputs', () => {
    const reference = new MT19937(5489);
    assert.deepEqual([reference.nextUint32(), reference.nextUint32(), reference.nextUint32()], [3499211612, 581869302, 3890346734]);
    const seeded = new MT19937(42);
    assert.deepEqual([seeded.nextUint32(), seeded.nextUint32(), seeded.nextUint32()], [1608637542, 3421126067, 4083286876]);
  });

  test('the outputs go on past the first 624 (a second twist)', () => {
    const generator = new MT19937(5489);
    let value = 0;
    for (let i = 0; i < 10000; i++) value = generator.nextUint32();
    assert.equal(value, 4123659995); // the 10000th output of the reference MT19937 (C++ std::mt19937)
  });

  test('RandomState(42).shuffle(arange(n)) orders', () => {
    assert.deepEqual(legacyShuffledIndices(5, 42), [1, 4, 2, 0, 3]); // spec §1 step 4: the demo's test pairs
    assert.deepEqual(legacyShuffledIndices(10, 42), [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]); // np.random.RandomState(42).permutation(10)
    assert.deepEqual(legacyShuffledIndices(4, 42), [1, 3, 0, 2]);
    assert.deepEqual(legacyShuffledIndices(3, 42), [0, 1, 2]);
    assert.deepEqual(legacyShuffledIndices(1, 42), [0]);
    assert.deepEqual(legacyShuffledIndices(0, 42), []);
  });

  test('a shuffle is a permutation', () => {
    const order = legacyShuffledIndices(1000, 7);
    assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, index) => index));
  });

  test('interval draws stay within [0, max]', () => {
    const generator = new MT19937(1);
    assert.equal(generator.interval(0), 0);
    for (const max of [1, 2, 3, 5, 100, 2 ** 31, 2 ** 32 - 1]) {
      for (let i = 0; i < 50; i++) {
        const value = generator.interval(max);
        assert.ok(Number.isInteger(value) && value >= 0 && value <= max, `${value} in [0, ${max}]`);
      }
    }
  });
});

describe('toolbench preprocess retriever', () => {
  test('writes the seven files exactly as upstream would, and reports the skipped items (exit 3)', async () => {
    const out = freshDir();
    const result = await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--test-ids', TEST_IDS, '--out', out]);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      `warning: skipped: ${QUERIES}: $[2]: not an object\n` +
        `warning: skipped: ${QUERIES}: $[5].api_list: expected a list of APIs\n` +
        `6 queries (4 train, 2 test, 2 skipped): 10 corpus rows (4 APIs), 5 train and 4 test pairs -> ${out}\n`,
    );
    assert.deepEqual(readdirSync(out).sort(), OUTPUT_FILES);
    assert.equal(read(out, 'corpus.tsv'), EXPECTED_CORPUS);
    assert.equal(read(out, 'train.json'), EXPECTED_TRAIN_JSON);
    assert.equal(read(out, 'test.json'), EXPECTED_TEST_JSON);
    assert.equal(read(out, 'train.query.txt'), EXPECTED_TRAIN_QUERIES);
    assert.equal(read(out, 'qrels.train.tsv'), EXPECTED_TRAIN_QRELS);
    assert.equal(read(out, 'test.query.txt'), EXPECTED_TEST_QUERIES);
    assert.equal(read(out, 'qrels.test.tsv'), EXPECTED_TEST_QRELS);
  });

  test('the JSON outputs are ASCII only, the query files keep the text raw (UTF-8)', async () => {
    const out = freshDir();
    await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--test-ids', TEST_IDS, '--out', out]);
    for (const name of ['corpus.tsv', 'train.json', 'test.json']) assert.match(read(out, name), /^[\x00-\x7f]*$/, name);
    assert.ok(readFileSync(join(out, 'train.query.txt')).includes(Buffer.from('中文 😀', 'utf8')));
  });

  test('--json prints the counts (and --dataset-name is accepted)', async () => {
    const out = freshDir();
    const result = await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--test-ids', TEST_IDS, '--out', out, '--dataset-name', 'G1', '--json']);
    assert.equal(result.code, 3);
    assert.deepEqual(JSON.parse(result.stdout), {
      queries: 6,
      train: 4,
      test: 2,
      documents: 10,
      distinct_documents: 4,
      train_pairs: 5,
      test_pairs: 4,
      skipped: 2,
    });
    assert.equal(result.stdout.split('\n').length, 2);
    assert.doesNotMatch(result.stderr, /corpus rows/);
  });

  test('the same inputs give the same bytes again (the shuffle is seeded)', async () => {
    const [first, second] = [freshDir(), freshDir()];
    await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--test-ids', TEST_IDS, '--out', first]);
    await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--test-ids', TEST_IDS, '--out', second]);
    for (const name of OUTPUT_FILES) assert.equal(read(second, name), read(first, name), name);
  });

  test('without any test id, everything is train and test.json is []; the empty split is warned about', async () => {
    const out = freshDir();
    const ids = join(scratch, 'no-test-ids.json');
    writeFileSync(ids, '{"999": 0}');
    const result = await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--test-ids', ids, '--out', out, '--json']);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /warning: no test pairs/);
    assert.deepEqual(JSON.parse(result.stdout), {
      queries: 6,
      train: 6,
      test: 0,
      documents: 10,
      distinct_documents: 4,
      train_pairs: 9,
      test_pairs: 0,
      skipped: 2,
    });
    assert.equal(read(out, 'test.json'), '[]');
    assert.equal(read(out, 'test.query.txt'), '');
    assert.equal(read(out, 'qrels.test.tsv'), '');
    // one split only: the corpus rows follow the file order (A B | A C | C | B A2 | C | B A)
    assert.equal(
      read(out, 'corpus.tsv'),
      `docid\tdocument_content\n1\t${A_CSV}\n2\t${B_CSV}\n1\t${A_CSV}\n3\t${C_CSV}\n3\t${C_CSV}\n2\t${B_CSV}\n4\t${A2_CSV}\n3\t${C_CSV}\n2\t${B_CSV}\n1\t${A_CSV}\n`,
    );
  });

  test('a query file that is not an array is an input error (exit 2) naming the file; nothing is written', async () => {
    const out = freshDir();
    const file = fixture('preprocess', 'not-array.json');
    const result = await runToolbench(['preprocess', 'retriever', '--queries', file, '--test-ids', TEST_IDS, '--out', out]);
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(file), result.stderr);
    assert.match(result.stderr, /expected an array of queries/);
    assert.deepEqual(existsSync(out) ? readdirSync(out) : [], []);
  });

  test('a missing query file or a test-id file that is not an object: exit 2', async () => {
    const missing = await runToolbench(['preprocess', 'retriever', '--queries', join(scratch, 'nope.json'), '--test-ids', TEST_IDS, '--out', freshDir()]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.json/);
    const ids = await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--test-ids', QUERIES, '--out', freshDir()]);
    assert.equal(ids.code, 2);
    assert.ok(ids.stderr.includes(QUERIES), ids.stderr);
  });

  test('a query file broken half-way fails (exit 2) without touching the previous outputs or leaving temporary files', async () => {
    const out = freshDir();
    mkdirSync(out);
    writeFileSync(join(out, 'corpus.tsv'), 'old\n');
    const file = fixture('preprocess', 'truncated.json');
    const result = await runToolbench(['preprocess', 'retriever', '--queries', file, '--test-ids', TEST_IDS, '--out', out]);
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(file), result.stderr);
    assert.deepEqual(readdirSync(out), ['corpus.tsv']);
    assert.equal(read(out, 'corpus.tsv'), 'old\n');
  });

  test('an --out that is a file fails (exit 1) and leaves nothing next to it', async () => {
    const parent = freshDir();
    mkdirSync(parent);
    const out = join(parent, 'a-file');
    writeFileSync(out, 'keep');
    const result = await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--test-ids', TEST_IDS, '--out', out]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /corpus\.tsv: cannot write/);
    assert.deepEqual(readdirSync(parent), ['a-file']);
    assert.equal(readFileSync(out, 'utf8'), 'keep');
  });

  test(
    'a query_id written as an integral float (11.0) matches test id "11", as in Python (11.0 in {11})',
    async () => {
      const out = freshDir();
      const queries = join(scratch, 'float-id.json');
      writeFileSync(queries, '[{"api_list": [{"tool_name": "T", "api_name": "a"}], "query": "float id", "relevant APIs": [["T", "a"]], "query_id": 11.0}]');
      const result = await runToolbench(['preprocess', 'retriever', '--queries', queries, '--test-ids', TEST_IDS, '--out', out, '--json']);
      assert.equal(JSON.parse(result.stdout).test, 1);
      assert.equal(read(out, 'qrels.test.tsv'), '1\t0\t1\t1\n');
    },
  );

  test('missing required flags are usage errors (exit 2)', async () => {
    const result = await runToolbench(['preprocess', 'retriever', '--queries', QUERIES, '--out', freshDir()]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /required option '--test-ids <file>' not specified/);
  });
});

describe('preprocess retriever conformance (2023-07 demo)', { skip: SKIP_WITHOUT_DATA }, () => {
  test('queryG1_demo.json + G1_instruction_test_ids.json give retriever/G1_demo byte for byte', async () => {
    const out = freshDir();
    const result = await runToolbench([
      'preprocess',
      'retriever',
      '--queries',
      dataPath('toolbench/history-b2384c2/data/query/queryG1_demo.json'),
      '--test-ids',
      dataPath('toolbench/history-b2384c2/data/retriever/G1_instruction_test_ids.json'),
      '--out',
      out,
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      queries: 3,
      train: 1,
      test: 2,
      documents: 7,
      distinct_documents: 5,
      train_pairs: 2,
      test_pairs: 5,
      skipped: 0,
    });
    assert.deepEqual(readdirSync(out).sort(), OUTPUT_FILES);
    for (const name of OUTPUT_FILES) {
      assert.ok(readFileSync(join(out, name)).equals(readFileSync(dataPath('toolbench/history-b2384c2/data/retriever/G1_demo', name))), name);
    }
  });
});

/**
 * The retrieval corpus (formats.md §8, preprocess-and-train.md §1): document texts, byte for byte
 * as upstream's `process_retrieval_ducoment` builds them, and `corpus.tsv` read as pandas reads it.
 * Expected texts were checked against Python's `json`/`csv` running upstream's expression.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { preprocessRetriever } from '../../src/preprocess/retriever.js';
import { readRetrievalCorpus, retrievalDocumentText } from '../../src/retriever/corpus.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { pyCsvRow } from '../../src/util/py-csv.js';
import type { PyObject } from '../../src/util/py-value.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { dataPath, fixture } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-retriever-corpus-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;
function corpusFile(text: string): string {
  const file = join(scratch, `corpus-${++files}.tsv`);
  writeFileSync(file, text);
  return file;
}
const parse = (json: string) => pyJsonParse(json) as PyObject;
/** One corpus row as pandas writes it. */
const row = (docId: number | string, content: string) => pyCsvRow([docId, content], '\t', '\n');
const HEADER = 'docid\tdocument_content\n';

function assertInputError(run: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ToolbenchError, String(error));
    assert.equal(error.code, 'input.invalid');
    assert.equal(error.exitCode, 2);
    assert.ok(error.message.startsWith(`${file}: `), error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('retrievalDocumentText', () => {
  test('the spec example: a blank description and no template_response', () => {
    const content = parse('{"category_name": "Logistics", "tool_name": "SQUAKE", "api_name": "Checkhealth", "api_description": " ", "required_parameters": [], "optional_parameters": [], "method": "GET"}');
    assert.equal(retrievalDocumentText(content), 'Logistics, SQUAKE, Checkhealth,  , required_params: [], optional_params: [], return_schema: ""');
  });

  test('missing or null names are empty; a missing JSON field is "" and a null one null', () => {
    assert.equal(retrievalDocumentText(parse('{}')), ', , , , required_params: "", optional_params: "", return_schema: ""');
    const content = parse('{"category_name": null, "tool_name": "T", "api_description": null, "required_parameters": null, "template_response": ""}');
    assert.equal(retrievalDocumentText(content), ', T, , , required_params: null, optional_params: "", return_schema: ""');
  });

  test('falsy non-strings are empty, as `doc.get(key) or ""`; a truthy non-string is an input error', () => {
    assert.equal(retrievalDocumentText(parse('{"category_name": 0, "tool_name": false, "api_name": [], "api_description": {}}')).slice(0, 8), ', , , , ');
    assert.throws(() => retrievalDocumentText(parse('{"tool_name": 7}')), (error: unknown) => error instanceof ToolbenchError && error.code === 'input.invalid' && /tool_name/.test(error.message));
  });

  test('floats stay floats (1.0), key order is kept, and non-ASCII is escaped as Python does, in the JSON parts only', () => {
    const content = parse(String.raw`{"category_name": "Café", "tool_name": "中文", "api_name": "a", "api_description": "😀 \"q\"", "required_parameters": [{"name": "x", "default": 1.0, "max": 10, "big": 12345678901234567890}], "optional_parameters": [{"name": "é", "2": 1, "1": 2}], "template_response": {"ok": true, "v": 2.5e-07}}`);
    assert.equal(
      retrievalDocumentText(content),
      String.raw`Café, 中文, a, 😀 "q", required_params: [{"name": "x", "default": 1.0, "max": 10, "big": 12345678901234567890}], optional_params: [{"name": "\u00e9", "2": 1, "1": 2}], return_schema: {"ok": true, "v": 2.5e-07}`,
    );
  });
});

describe('readRetrievalCorpus', () => {
  test('reads what `preprocess retriever` writes: one text per docid in first-appearance order', async () => {
    const out = join(scratch, 'preprocessed');
    await preprocessRetriever({ queries: fixture('preprocess', 'queries.json'), testIds: new Set([11, 4, 7, 999]), out }, () => {});
    const corpus = readRetrievalCorpus(join(out, 'corpus.tsv'));
    assert.equal(corpus.file, join(out, 'corpus.tsv'));
    const required = '[{"name": "city", "type": "STRING", "description": "City name", "default": "Paris"}]';
    const optional = '[{"name": "limit", "type": "NUMBER", "description": "", "default": 5}]';
    assert.deepEqual(corpus.texts, [
      `Food, Café Tool, search, Find cafés near you – 中文 😀, required_params: ${required}, optional_params: ${optional}, return_schema: {"results": [{"name": "str"}]}`,
      String.raw`Food, Café Tool, lookup, Look up a café by "id"` + '\t' + String.raw`fast, required_params: [{"name": "id", "type": "STRING", "description": "Caf\u00e9 id", "default": "c-1"}], optional_params: [], return_schema: {}`,
      'Tools, Other Tool, search, Search other things, required_params: [{"name": "q", "type": "STRING", "description": "Query", "default": "x"}], optional_params: [], return_schema: ""',
      `Food, Café Tool, search, Find cafés (updated), required_params: ${required}, optional_params: ${optional}, return_schema: {"results": [{"name": "str"}]}`,
    ]);
    assert.deepEqual(corpus.apiOf(corpus.texts[2] as string), { categoryName: 'Tools', toolName: 'Other Tool', apiName: 'search' });
    assert.deepEqual(corpus.apiOf(corpus.texts[1] as string), { categoryName: 'Food', toolName: 'Café Tool', apiName: 'lookup' });
  });

  test('a repeated docid keeps its first place and takes the later text; a shared text maps to the last API', () => {
    // "A, B" + "C" and "A" + "B, C" give the same text: upstream's dict keeps one API for it
    const first = '{"category_name": "A, B", "tool_name": "C", "api_name": "D"}';
    const second = '{"category_name": "A", "tool_name": "B, C", "api_name": "D"}';
    const other = '{"category_name": "X", "tool_name": "Y", "api_name": "Z", "api_description": "old"}';
    const updated = '{"category_name": "X", "tool_name": "Y", "api_name": "Z", "api_description": "new"}';
    const file = corpusFile(HEADER + row(1, first) + row(2, other) + row(3, second) + row(1, first) + row('02', updated));
    const corpus = readRetrievalCorpus(file);
    const shared = 'A, B, C, D, , required_params: "", optional_params: "", return_schema: ""';
    assert.deepEqual(corpus.texts, [shared, 'X, Y, Z, new, required_params: "", optional_params: "", return_schema: ""', shared]);
    // row 4 (docid 1 again) is the last to set the shared text
    assert.deepEqual(corpus.apiOf(shared), { categoryName: 'A, B', toolName: 'C', apiName: 'D' });
    assert.deepEqual(readRetrievalCorpus(corpusFile(HEADER + row(1, first) + row(3, second))).apiOf(shared), { categoryName: 'A', toolName: 'B, C', apiName: 'D' });
    // as upstream's corpus2tool, the replaced text still names its API; a text never read names none
    assert.deepEqual(corpus.apiOf('X, Y, Z, old, required_params: "", optional_params: "", return_schema: ""'), { categoryName: 'X', toolName: 'Y', apiName: 'Z' });
    assert.throws(() => corpus.apiOf('unknown'), RangeError);
  });

  test('CSV quoting: tabs, line breaks and quotes inside a quoted field; \\r\\n line ends; blank lines; a BOM', () => {
    // JSON whitespace may be a tab or a line break: the quoted field holds them raw
    const content = '{"category_name":\t"C",\r\n"tool_name": "T",\n"api_name": "x\\ty", "api_description": "say \\"hi\\""}';
    const text = `\ufeff${HEADER.replace('\n', '\r\n')}\r\n${row(5, content).replace(/\n$/, '\r\n')}\n${row(6, '{"api_name": "plain"}')}`;
    const corpus = readRetrievalCorpus(corpusFile(text));
    assert.deepEqual(corpus.texts, ['C, T, x\ty, say "hi", required_params: "", optional_params: "", return_schema: ""', ', , plain, , required_params: "", optional_params: "", return_schema: ""']);
  });

  test('bad files are input errors naming the file, the line and what was expected', () => {
    const good = row(1, '{"api_name": "a"}');
    const cases: [string, RegExp][] = [
      ['', /line 1: expected the header "docid\\tdocument_content", got an empty file/],
      [good + good, /line 1: expected the header/],
      [HEADER, /line 2: expected at least one document row/],
      [HEADER + good + 'x1\t{}\n', /line 3, docid: expected an integer, got "x1"/],
      [HEADER + good + '1.5\t{}\n', /line 3, docid: expected an integer/],
      [HEADER + row(1, '{\n"api_name":\n"a"}') + 'x\t{}\n', /line 5, docid: expected an integer/], // lines count inside quotes
      [HEADER + '1\t{}\textra\n', /line 2: expected 2 tab-separated fields, as the header, got 3/],
      [HEADER + good + '2\t"{""api_name"": \n', /line 3: expected a closing quote before the end of the file/],
      [HEADER + '1\t"{}"x\n', /line 2, field 2: expected a tab or the line end after the closing quote/],
      [HEADER + '1\t{"a": 1}\n', /line 2, field 2: expected a quote only at the start of a field/],
      [HEADER + good + '2\t[1, 2]\n', /line 3, document_content: expected a JSON object \(an api_list entry\), got an array/],
      [HEADER + good + '2\tnot json\n', /line 3, document_content \$ \(column 1\): expected/],
      [HEADER + row(1, '{"api_name": 1}'), /line 2, document_content\.api_name: expected a string or null, got an integer/],
    ];
    for (const [text, pattern] of cases) {
      const file = corpusFile(text);
      assertInputError(() => readRetrievalCorpus(file), file, pattern);
    }
  });

  test('a missing file is an unreadable-input error', () => {
    const file = join(scratch, 'no-such.tsv');
    assert.throws(() => readRetrievalCorpus(file), (error: unknown) => error instanceof ToolbenchError && error.code === 'input.unreadable' && error.exitCode === 2 && error.message === `${file}: no such file`);
  });

  const REAL = dataPath('toolbench', 'history-b2384c2', 'data', 'retriever', 'G1_demo', 'corpus.tsv');
  test('the real G1_demo corpus.tsv: 7 rows, 5 distinct docids', { skip: existsSync(REAL) ? false : `${REAL} not found (set TOOLBENCH_DATA)` }, () => {
    const corpus = readRetrievalCorpus(REAL);
    assert.equal(corpus.texts.length, 5);
    assert.equal(
      corpus.texts[2],
      'Social, Olato Quotes, Love Quote, It shows random quotes, required_params: [], optional_params: [{"name": "quotes", "type": "STRING", "description": "", "default": "random quotes"}], return_schema: {"quote": "str"}',
    );
    assert.deepEqual(corpus.apiOf(corpus.texts[0] as string), { categoryName: 'Finance', toolName: 'NFTs by address', apiName: 'getNFTs_byaddress' });
    assert.ok((corpus.texts[0] as string).includes('"description": "Input the address for NFT owner and scrape their NFTs.\\n"'));
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { parseQueryText, readQuerySources, readStreamText, type PositionedQuery } from '../../src/infer/query-source.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { fixture } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-query-source-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const isInputError = (pattern: RegExp) => (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && pattern.test(error.message);

async function collect(sources: string[], stdin = ''): Promise<PositionedQuery[]> {
  const read: PositionedQuery[] = [];
  for await (const item of readQuerySources(sources, async () => stdin)) read.push(item);
  return read;
}

const ids = (items: readonly PositionedQuery[]) => items.map((item) => [item.query.queryId, item.position]);

function write(name: string, text: string): string {
  const file = join(scratch, name);
  writeFileSync(file, text);
  return file;
}

describe('infer query sources', () => {
  test('a JSON array file is read item by item; positions run on across sources', async () => {
    const edge = fixture('queries', 'edge-queries.json');
    const lines = write('two.jsonl', '{"query": "a", "query_id": 7}\n\n{"query": "b"}\n');
    assert.deepEqual(ids(await collect([edge, lines])), [
      [101, 0], [102, 1], [103, 2], [104, 3], [4, 4], [105, 5],
      [7, 6], [1, 7], // JSON lines: a missing query_id is the item's index among the queries, not the line
    ]);
  });

  test('JSON lines with a byte-order mark and CRLF line ends', async () => {
    const file = write('bom.jsonl', '\ufeff{"query": "a", "query_id": "x"}\r\n{"query": "b", "query_id": "y"}\r\n');
    assert.deepEqual(ids(await collect([file])), [['x', 0], ['y', 1]]);
  });

  test('standard input: a JSON array or JSON lines, read once, between files', async () => {
    const file = write('one.json', '[{"query": "f", "query_id": 1}]');
    assert.deepEqual(ids(await collect([file, '-'], '[{"query": "s", "query_id": 2}, {"query": "t"}]')), [[1, 0], [2, 1], [1, 2]]);
    assert.deepEqual(ids(await collect(['-', file], '{"query": "s", "query_id": 5}\n{"query": "t", "query_id": 6}\n')), [[5, 0], [6, 1], [1, 2]]);
    await assert.rejects(collect(['-', '-']), /standard input can be read only once/);
  });

  test('bad items are input errors naming the source, the item and the line', async () => {
    await assert.rejects(collect([write('bad-item.json', '[{"query": "a"}, {"query_id": 2}]')]), isInputError(/bad-item\.json: \$\[1\]\.query: expected a string/));
    await assert.rejects(collect([write('bad-line.jsonl', '{"query": "a"}\n{"query": \n')]), isInputError(/bad-line\.jsonl: line 2, column \d+/));
    await assert.rejects(collect(['-'], '{"query": "a"}\n[1]\n'), isInputError(/<stdin>: \$\[1\]: expected an object/));
    await assert.rejects(collect(['-'], '  \n'), isInputError(/<stdin>: \$: expected a JSON array of queries/));
    await assert.rejects(collect([join(scratch, 'missing.json')]), (error: unknown) => error instanceof ToolbenchError && /missing\.json/.test(error.message));
  });

  test('parseQueryText keeps Python-only JSON values as the query files do', async () => {
    const items: unknown[] = [];
    for await (const query of parseQueryText('[{"query": "a", "query_id": 12345678901234567890}]', 'x')) items.push(query.queryId);
    assert.deepEqual(items, ['12345678901234567890']);
  });

  test('readStreamText joins the chunks of a stream as UTF-8', async () => {
    const bytes = Buffer.from('{"query": "é"}');
    assert.equal(await readStreamText(Readable.from([bytes.subarray(0, 13), bytes.subarray(13)])), '{"query": "é"}');
  });
});

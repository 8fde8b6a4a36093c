import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { readQuerySources, type InvalidItem, type PositionedQuery, type SourceItem } from '../../src/infer/query-source.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { fixture } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-query-source-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const isInputError = (pattern: RegExp) => (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && pattern.test(error.message);

async function collectItems(sources: string[], stdin: string | Buffer[] = ''): Promise<SourceItem[]> {
  const read: SourceItem[] = [];
  const chunks = typeof stdin === 'string' ? [Buffer.from(stdin)] : stdin;
  for await (const item of readQuerySources(sources, () => Readable.from(chunks))) read.push(item);
  return read;
}

async function collect(sources: string[], stdin: string | Buffer[] = ''): Promise<PositionedQuery[]> {
  const items = await collectItems(sources, stdin);
  const invalid = items.find((item): item is InvalidItem => 'invalid' in item);
  if (invalid !== undefined) throw invalid.invalid;
  return items as PositionedQuery[];
}

const ids = (items: readonly PositionedQuery[]) => items.map((item) => [item.query.queryId, item.position]);
/** [id, position] of a query, [id, position, message] of an invalid item. */
const described = (items: readonly SourceItem[]) =>
  items.map((item) => ('invalid' in item ? [item.queryId, item.position, `${item.origin} | ${item.invalid.message}`] : [item.query.queryId, item.position]));

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

  test('an item that is not a valid query is yielded as invalid, naming the source, the item and the line; reading goes on', async () => {
    const array = write('bad-item.json', '[{"query": "a"}, {"query_id": 2}, [3], {"query": "d"}]');
    assert.deepEqual(described(await collectItems([array])), [
      [0, 0],
      ['2', 1, `${array}: $[1] | ${array}: $[1].query: expected a string (or a list of strings), got nothing (the key is missing)`],
      ['2', 2, `${array}: $[2] | ${array}: $[2]: expected an object, got an array`],
      [3, 3],
    ]);
    const lines = write('bad-line.jsonl', '{"query": "a"}\n{"query": \n\n{"query": "c"}\n');
    const items = described(await collectItems([lines]));
    assert.deepEqual(items.map((item) => item.slice(0, 2)), [[0, 0], ['1', 1], [2, 2]], 'a broken line counts as an item for the default ids');
    assert.match(String(items[1]?.[2]), /bad-line\.jsonl: line 2 \| .*bad-line\.jsonl: line 2, column \d+: expected .*one query object per line/);
    assert.deepEqual(described(await collectItems(['-'], '{"query": "a"}\n[1]\n{"query": "c", "query_id": 9}\n')), [
      [0, 0],
      ['1', 1, '<stdin>: line 2 | <stdin>: $[1]: expected an object, got an array'],
      [9, 2],
    ]);
  });

  test('a source that cannot be read or is not well formed throws, after the items before the break', async () => {
    const read: SourceItem[] = [];
    const broken = write('broken.json', '[{"query": "a"}, {"query": ');
    await assert.rejects(
      (async () => {
        for await (const item of readQuerySources([broken], () => Readable.from([]))) read.push(item);
      })(),
      isInputError(/broken\.json: \$\[1\]\.query \(line 1, column \d+\): expected a JSON value/),
    );
    assert.deepEqual(described(read), [[0, 0]]);
    await assert.rejects(collect(['-'], '  \n'), isInputError(/<stdin>: \$: expected a JSON array of queries/));
    await assert.rejects(collect(['-'], '[{"query": "a"}, '), isInputError(/<stdin>: /));
    await assert.rejects(collect([join(scratch, 'missing.json')]), (error: unknown) => error instanceof ToolbenchError && /missing\.json/.test(error.message));
  });

  test('standard input keeps Python-only JSON values as the query files do, and decodes UTF-8 split across chunks', async () => {
    assert.deepEqual(ids(await collect(['-'], '[{"query": "a", "query_id": 12345678901234567890}]')), [['12345678901234567890', 0]]);
    const bytes = Buffer.from('\ufeff{"query": "é", "query_id": 1}\r\n{"query": "b", "query_id": 2}');
    const split = await collect(['-'], [bytes.subarray(0, 2), bytes.subarray(2, 15), bytes.subarray(15)]);
    assert.deepEqual([ids(split), split[0]?.query.query], [[[1, 0], [2, 1]], 'é']);
  });

  test('standard input in JSON lines is read as it arrives: a query is yielded before the stream ends', async () => {
    const stdin = new PassThrough();
    const items = readQuerySources(['-'], () => stdin);
    stdin.write('   \n{"query": "a", "query_id": 1}\n{"query": "b", ');
    const first = await items.next();
    assert.deepEqual(first.done === true ? undefined : described([first.value]), [[1, 0]]);
    stdin.end('"query_id": 2}\n');
    const second = await items.next();
    assert.deepEqual(second.done === true ? undefined : described([second.value]), [[2, 1]]);
    assert.equal((await items.next()).done, true);
  });
});

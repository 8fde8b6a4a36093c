import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { findQueryInFile, readQueryFile, readTestIds } from '../../src/registry/query-file.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { fixture } from '../helpers/paths.js';

const isInputError = (pattern: RegExp) => (error: unknown) =>
  error instanceof ToolbenchError && error.exitCode === 2 && pattern.test(error.message);

describe('query files', () => {
  test('reads ids, texts, api_list entries and relevant APIs; a missing query_id is the position', () => {
    const queries = readQueryFile(fixture('queries', 'edge-queries.json'));
    assert.deepEqual(queries.map((query) => query.queryId), [101, 102, 103, 104, 4, 105]);
    const first = queries[0];
    assert.equal(first?.apiList?.length, 4);
    assert.equal(first?.apiList?.[1]?.apiName, 'Quote by ID');
    assert.equal(first?.apiList?.[1]?.requiredParameters?.[0]?.name, 'id');
    assert.deepEqual(first?.relevantApis, [['Quote Garden', 'Love Quote'], ['3D Models', 'Search']]);
    assert.equal(queries[1]?.apiList?.[0]?.apiDescription, undefined, 'a minimal entry has no description');
    assert.deepEqual(queries[4]?.query, ['A query without an id, written as a list.', 'Second sentence.']);
  });

  test('findQueryInFile compares ids as text and stops at the match', () => {
    const file = fixture('queries', 'edge-queries.json');
    assert.deepEqual(
      [findQueryInFile(file, '103'), findQueryInFile(file, '4'), findQueryInFile(file, '999')].map(({ query, scanned }) => [query?.queryId, scanned]),
      [[103, 3], [4, 5], [undefined, 6]],
    );
  });

  test('query ids beyond 2^53 are kept as their digits; a float id is rejected', (context) => {
    const directory = mkdtempSync(join(tmpdir(), 'toolbench-queries-'));
    context.after(() => rmSync(directory, { recursive: true, force: true }));
    writeFileSync(join(directory, 'big.json'), '[{"query": "q", "query_id": 123456789012345678901}]');
    assert.equal(readQueryFile(join(directory, 'big.json'))[0]?.queryId, '123456789012345678901');
    writeFileSync(join(directory, 'float.json'), '[{"query": "q", "query_id": 7.0}]');
    assert.throws(() => readQueryFile(join(directory, 'float.json')), isInputError(/\$\[0\]\.query_id: expected an integer or a string, got a float/));
  });

  test('a malformed query file names the file, the JSON path and what was expected', () => {
    assert.throws(() => readQueryFile(fixture('queries-bad', 'not-an-array.json')), isInputError(/not-an-array\.json: \$ \(line 1, column 1\): expected an array of queries, got "\{" where "\[" should start it/));
    assert.throws(() => readQueryFile(fixture('queries-bad', 'bad-api-list.json')), isInputError(/bad-api-list\.json: \$\[1\]\.api_list\[1\]\.tool_name: expected a string, got an integer/));
    assert.throws(() => readQueryFile(fixture('queries-bad', 'syntax-error.json')), isInputError(/syntax-error\.json: \$\[0\] \(line 3, column 1\): expected ',' or '}'/));
    assert.throws(() => readQueryFile(fixture('queries-bad', 'absent.json')), isInputError(/absent\.json: no such file/));
  });
});

describe('test-id files', () => {
  test('returns the ids in file order', () => {
    assert.deepEqual(readTestIds(fixture('queries', 'edge-test-ids.json')), ['104', '101', '4', '105']);
  });

  test('anything but an object is rejected with exit 2', () => {
    assert.throws(() => readTestIds(fixture('queries-bad', 'test-ids-array.json')), isInputError(/test-ids-array\.json: \$: expected an object whose keys are query ids/));
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readJsonArrayItems } from '../../src/util/json-array-stream.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';

const directory = mkdtempSync(join(tmpdir(), 'toolbench-array-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let fileCount = 0;
function write(content: string | Buffer): string {
  const file = join(directory, `${fileCount++}.json`);
  writeFileSync(file, content);
  return file;
}
const items = (file: string, chunkSize?: number) => Array.from(readJsonArrayItems(file, { chunkSize }), (item) => item.value);

describe('readJsonArrayItems', () => {
  const awkward =
    '\n[ {"q": "brackets ] } [ { and commas , inside", "esc": "quote \\" and backslash \\\\", "nested": [[1, {"a": []}], {}]},\n' +
    '  "a string item, with ] and ,", 12.0, -3, null, true, [ ], {},\n  {"ünï": "çødé 😀 中文", "608": 1, "588": 2}\n]\n';

  test('yields each item as pyJsonParse reads it, for every chunk size (UTF-8 split across chunks)', () => {
    const file = write(awkward);
    const whole = pyJsonDumps(pyJsonParse(awkward));
    for (const chunkSize of [1, 2, 3, 5, 7, 64, 1 << 20]) {
      assert.equal(pyJsonDumps(items(file, chunkSize)), whole, `chunk size ${chunkSize}`);
    }
  });

  test('empty arrays and a byte-order mark', () => {
    assert.deepEqual(items(write('[]')), []);
    assert.deepEqual(items(write(' [ \n ] \n')), []);
    assert.deepEqual(items(write(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[1, 2]')]))), [1, 2]);
  });

  const rejects = (content: string, pattern: RegExp) => {
    const file = write(content);
    assert.throws(
      () => items(file, 4),
      (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && pattern.test(error.message),
    );
  };

  test('rejects what is not one JSON array, saying where', () => {
    rejects('', /: \$ \(line 1, column 1\): expected an array, got an empty file$/);
    rejects('{"a": 1}', /: \$ \(line 1, column 1\): expected an array, got "\{" where "\[" should start it$/);
    rejects('[1, 2,]', /: \$ \(line 1, column 7\): expected an array item after ","$/);
    rejects('[1, 2] x', /: \$ \(line 1, column 8\): expected nothing after the closing "\]"$/);
    rejects('[1, 2', /: \$ \(line 1, column 6\): expected "\]" \(the array is not closed\)$/);
  });

  test('a bad item is reported with its index, its inner path, and the line and column in the file', () => {
    rejects('[\n  {"a": 1},\n  {"b": [1, 2,]}\n]', /: \$\[1\]\.b\[2\] \(line 3, column 15\): expected a JSON value$/);
    rejects('[\n  {"query": "unterminated", "query_id": 1\n', /: \$\[0\] \(line 3, column 1\): expected ',' or '}' after an object member$/);
  });

  test('stops reading when the caller stops', () => {
    const file = write('[1, 2, {"broken": }]');
    const iterator = readJsonArrayItems(file);
    assert.deepEqual(iterator.next().value, { index: 0, value: 1 });
    iterator.return(undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pyHead, pyReplace, pyStrip, pyTail } from '../../src/util/py-string.js';

describe('Python string operations', () => {
  test('strip uses Python whitespace: U+001C-U+001F and U+0085 go, U+FEFF stays', () => {
    assert.equal(pyStrip('\u001c\u0085 \t x \u3000\u00a0'), 'x');
    assert.equal(pyStrip('\ufeffx\ufeff'), '\ufeffx\ufeff');
  });

  test('slices count code points, not UTF-16 units', () => {
    assert.equal(pyHead('😀😀😀', 2), '😀😀');
    assert.equal(pyTail('😀😀😀', 2), '😀😀');
    assert.equal(pyHead('abc', 5), 'abc');
    assert.equal(pyTail('abcdef', 2), 'ef');
  });

  test("replace('', x) inserts x around every character, as Python does", () => {
    assert.equal(pyReplace('ab😀', '', '-'), '-a-b-😀-');
    assert.equal(pyReplace('a.b.c', '.', '$&'), 'a$&b$&c');
  });
});

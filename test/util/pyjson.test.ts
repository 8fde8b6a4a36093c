import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pyJsonDumps, quoteJsonString } from '../../src/util/pyjson.js';
import { PyFloat, formatPyFloat, orderedObject } from '../../src/util/py-value.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';

// Expected texts are Python 3.11's json.dumps / repr output for the same values.
describe('formatPyFloat', () => {
  const cases: [number, string][] = [
    [0, '0.0'],
    [-0, '-0.0'],
    [1e-5, '1e-05'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [123456789012345678, '1.2345678901234568e+17'],
    [0.1, '0.1'],
    [1.5, '1.5'],
    [100, '100.0'],
    [1e22, '1e+22'],
    [5e-324, '5e-324'],
    [2.5e-7, '2.5e-07'],
    [0.0001, '0.0001'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [-41.8755616, '-41.8755616'],
  ];
  for (const [value, expected] of cases) {
    test(`repr(${expected})`, () => assert.equal(formatPyFloat(value, 'repr'), expected));
  }
  test('non-finite values differ between json.dumps and repr', () => {
    assert.deepEqual([Number.NaN, Infinity, -Infinity].map((value) => formatPyFloat(value, 'json')), ['NaN', 'Infinity', '-Infinity']);
    assert.deepEqual([Number.NaN, Infinity, -Infinity].map((value) => formatPyFloat(value, 'repr')), ['nan', 'inf', '-inf']);
  });
});

describe('pyJsonDumps', () => {
  test('uses Python separators and literals', () => {
    assert.equal(
      pyJsonDumps({ a: [1, new PyFloat(2), null, true, false], b: {}, c: [] }),
      '{"a": [1, 2.0, null, true, false], "b": {}, "c": []}',
    );
  });

  test('prints integral floats with .0 only when they are PyFloat, and big integers exactly', () => {
    assert.equal(pyJsonDumps([new PyFloat(1000), 1000, new PyFloat(-0), 1e21, 12345678901234567890n, 2.5]), '[1000.0, 1000, -0.0, 1000000000000000000000, 12345678901234567890, 2.5]');
  });

  test('escapes every character outside printable ASCII with ensure_ascii, U+007F included', () => {
    assert.equal(quoteJsonString('é😀\u007f\u0000\u001f'), '"\\u00e9\\ud83d\\ude00\\u007f\\u0000\\u001f"');
    assert.equal(quoteJsonString('a"b\\c/d'), '"a\\"b\\\\c/d"');
    assert.equal(quoteJsonString('\n\r\t\b\f'), '"\\n\\r\\t\\b\\f"');
    assert.equal(quoteJsonString('\u2028中文'), '"\\u2028\\u4e2d\\u6587"');
  });

  test('keeps non-ASCII raw without ensure_ascii, but still escapes control characters', () => {
    assert.equal(pyJsonDumps('é😀\u007f\u0000', { ensureAscii: false }), '"é😀\u007f\\u0000"');
  });

  test('writes lone surrogates as escapes', () => {
    assert.equal(pyJsonDumps('\ud800x'), '"\\ud800x"');
  });

  test('indents like json.dumps(indent=2): no trailing spaces, empty containers inline', () => {
    assert.equal(pyJsonDumps({ a: [1, { b: [] }], c: {} }, { indent: 2 }), '{\n  "a": [\n    1,\n    {\n      "b": []\n    }\n  ],\n  "c": {}\n}');
  });

  test('keeps the insertion order of index-like keys', () => {
    const ids = orderedObject([
      ['608', 0],
      ['588', 0],
      ['1073', 0],
    ]);
    assert.deepEqual(Object.keys(ids), ['588', '608', '1073']); // what JavaScript does by itself
    assert.equal(pyJsonDumps(ids), '{"608": 0, "588": 0, "1073": 0}');
  });

  test('a parsed object that is changed afterwards keeps its recorded order for the keys left', () => {
    const ids = pyJsonParse('{"608": 0, "588": 0, "1073": 0}') as Record<string, number>;
    delete ids['588'];
    ids['42'] = 1;
    assert.equal(pyJsonDumps(ids), '{"608": 0, "1073": 0, "42": 1}');
  });

  test('prints NaN and infinities as Python does', () => {
    assert.equal(pyJsonDumps([Number.NaN, Infinity, -Infinity]), '[NaN, Infinity, -Infinity]');
  });

  test('skips undefined object members and rejects functions', () => {
    assert.equal(pyJsonDumps({ a: undefined, b: 1 }), '{"b": 1}');
    assert.throws(() => pyJsonDumps({ f: () => 1 }), TypeError);
  });
});

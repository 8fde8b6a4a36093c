import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsonSyntaxError, pyJsonParse } from '../../src/util/pyjson-parse.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { PyFloat, orderedKeys } from '../../src/util/py-value.js';

describe('pyJsonParse', () => {
  test('keeps integral floats as PyFloat and others as numbers', () => {
    const value = pyJsonParse('{"Elo": 1000.0, "x": 1e5, "y": -0.0, "z": 2.5, "n": 7, "m": -0}') as Record<string, unknown>;
    assert.ok(value.Elo instanceof PyFloat && value.Elo.value === 1000);
    assert.ok(value.x instanceof PyFloat && value.x.value === 100000);
    assert.ok(value.y instanceof PyFloat && Object.is(value.y.value, -0));
    assert.equal(value.z, 2.5);
    assert.equal(value.n, 7);
    assert.ok(Object.is(value.m, 0), 'Python has no integer -0');
  });

  test('floats with 16 or more digits that round to an integer stay floats', () => {
    assert.equal(pyJsonDumps(pyJsonParse('[123456789.000000001, 99999999.999999999, 0.1]')), '[123456789.0, 100000000.0, 0.1]');
  });

  test('index-like keys written with escapes keep their order too', () => {
    assert.deepEqual(orderedKeys(pyJsonParse('{"b": "x", "\\u0031": 0}') as object), ['b', '1']);
  });

  test('reads integers beyond 2^53 as bigint', () => {
    assert.deepEqual(pyJsonParse('[9007199254740993, 123456789012345678901234567890, 9007199254740991]'), [
      9007199254740993n,
      123456789012345678901234567890n,
      9007199254740991,
    ]);
  });

  test('keeps the file order of index-like keys', () => {
    const value = pyJsonParse('{"608": 0, "588": 0, "1073": 0, "a": 1}') as object;
    assert.deepEqual(orderedKeys(value), ['608', '588', '1073', 'a']);
  });

  test('a repeated key keeps its first position and its last value, as a Python dict', () => {
    const value = pyJsonParse('{"2": "first", "1": 0, "2": "last"}') as Record<string, unknown>;
    assert.deepEqual(orderedKeys(value), ['2', '1']);
    assert.equal(value['2'], 'last');
  });

  test('accepts the literals Python writes: NaN, Infinity, -Infinity', () => {
    const value = pyJsonParse('[NaN, Infinity, -Infinity]') as number[];
    assert.ok(Number.isNaN(value[0]));
    assert.deepEqual(value.slice(1), [Infinity, -Infinity]);
  });

  test('decodes escapes, including lone surrogates', () => {
    assert.equal(pyJsonParse('"\\u00e9\\ud83d\\ude00\\ud800 \\"\\\\\\/\\b\\f\\n\\r\\t"'), 'é😀\ud800 "\\/\b\f\n\r\t');
  });

  test('__proto__ is an ordinary key', () => {
    const value = pyJsonParse('{"__proto__": {"polluted": 1}, "1": 2}') as Record<string, unknown>;
    assert.deepEqual(orderedKeys(value), ['__proto__', '1']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('raw control characters are rejected unless strict is off (Python strict=False)', () => {
    assert.throws(() => pyJsonParse('{"a": "x\ny"}'), JsonSyntaxError);
    assert.deepEqual(pyJsonParse('{"a": "x\ny"}', { strict: false }), { a: 'x\ny' });
  });

  test('reports line, column and the JSON path of a syntax error', () => {
    const text = '{\n  "api_list": [\n    {"name": "a", "required_parameters": [],},\n  ]\n}';
    assert.throws(
      () => pyJsonParse(text),
      (error: unknown) => {
        assert.ok(error instanceof JsonSyntaxError);
        assert.equal(error.jsonPath, '$.api_list[0]');
        assert.equal(error.line, 3);
        assert.equal(error.column, 45); // Python: "line 3 column 45"
        assert.match(error.expected, /property name/);
        return true;
      },
    );
  });

  for (const [name, text] of [
    ['trailing comma in an array', '[1, 2,]'],
    ['single quotes', "{'a': 1}"],
    ['leading zero', '[01]'],
    ['text after the document', '{} {}'],
    ['an unterminated string', '["abc'],
    ['a bad escape', '["\\x41"]'],
    ['an empty document', '   '],
  ]) {
    test(`rejects ${name}`, () => assert.throws(() => pyJsonParse(text as string), JsonSyntaxError));
  }

  test('round-trips through pyJsonDumps byte for byte', () => {
    const text = '{"Elo": 1000.0, "ids": {"608": 0, "588": 0}, "big": 123456789012345678901234567890, "f": 1e-05, "s": "\\u00e9\\u007f"}';
    assert.equal(pyJsonDumps(pyJsonParse(text)), text);
  });
});

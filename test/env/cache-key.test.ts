import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheKey } from '../../src/env/response-cache.js';
import { parseToolInput } from '../../src/env/tool-input.js';
import type { PyValue } from '../../src/util/py-value.js';

/** A test name that shows invisible characters as escapes. */
const show = (text: string): string => JSON.stringify(text).replace(/[\u007f\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The cache key of a model's arguments text, as the virtual API computes it. */
function keyOf(args: string): string {
  const input = parseToolInput(args);
  assert.ok(input !== undefined, `${JSON.stringify(args)} should parse`);
  return cacheKey(input as PyValue);
}

// [arguments text, Python 3.11 `str(json.loads(text))`] (spec formats.md §13.1 step 4; `""` is
// read as `{}`). Each expected text was produced by python3 from the same arguments text.
const CASES: readonly (readonly [string, string])[] = [
  ['{"a": 1.0}', "{'a': 1.0}"],
  ['{"b": true, "c": null}', "{'b': True, 'c': None}"],
  [`{"q": "it's"}`, `{'q': "it's"}`],
  ['{"q": "it\'s \\"x\\""}', "{'q': 'it\\'s \"x\"'}"],
  ['{"u": "café 東京 😀"}', "{'u': 'café 東京 😀'}"],
  ['{"u": "caf\\u00e9 \\u6771\\u4eac \\ud83d\\ude00"}', "{'u': 'café 東京 😀'}"],
  ['{"e": 1e-05, "big": 12345678901234567890}', "{'e': 1e-05, 'big': 12345678901234567890}"],
  [
    '{"f": [1e16, 2.5e-7, 1E+3, -0.0, 0.1, 1.5e300, 100.0, 3.14, 0.0001]}',
    "{'f': [1e+16, 2.5e-07, 1000.0, -0.0, 0.1, 1.5e+300, 100.0, 3.14, 0.0001]}",
  ],
  ['{"n": {"l": [1, [2, {"x": []}], {}], "d": {"k": false}}}', "{'n': {'l': [1, [2, {'x': []}], {}], 'd': {'k': False}}}"],
  ['{"z": 1, "a": 2, "m": 3}', "{'z': 1, 'a': 2, 'm': 3}"],
  ['{"404": "a", "12": "b", "x": 1, "0": 2}', "{'404': 'a', '12': 'b', 'x': 1, '0': 2}"],
  ['{"c": "a\\nb\\tc\\u007fd\\u2028e\\u0000\\r"}', "{'c': 'a\\nb\\tc\\x7fd\\u2028e\\x00\\r'}"],
  ['{"raw": "x\u007fy\u2028z"}', "{'raw': 'x\\x7fy\\u2028z'}"],
  ['{"s": "back\\\\slash"}', "{'s': 'back\\\\slash'}"],
  ['{"nb": "\\u00a0\\u00ad\\u200b"}', "{'nb': '\\xa0\\xad\\u200b'}"],
  ['{\n  "k": "v",\n  "n": -3\n}', "{'k': 'v', 'n': -3}"],
  ['', '{}'],
  ['""', ''],
  ['"plain"', 'plain'],
  ['[1, "a"]', "[1, 'a']"],
];

describe('cacheKey of parsed tool input', () => {
  for (const [args, expected] of CASES) {
    test(`${show(args)} is keyed as Python's str() ${show(expected)}`, () => {
      assert.equal(keyOf(args), expected);
    });
  }

  test('whitespace and layout of the arguments text do not change the key', () => {
    assert.equal(keyOf('{\n  "q": "x",\n  "n": 1.0\n}'), keyOf('{"q":"x","n":1.0}'));
  });

  test('key order is part of the key', () => {
    assert.notEqual(keyOf('{"a": 1, "b": 2}'), keyOf('{"b": 2, "a": 1}'));
  });

  test('text that is not JSON has no key', () => {
    assert.equal(parseToolInput('{"q": '), undefined);
    assert.equal(parseToolInput("{'q': 'x'}"), undefined);
  });
});

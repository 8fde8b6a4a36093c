import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pyRepr, pyStr, reprString } from '../../src/util/pyrepr.js';
import { PyFloat, orderedObject } from '../../src/util/py-value.js';

// Expected texts are Python 3.11's str()/repr() of the same values.
describe('pyRepr', () => {
  test('None, booleans, numbers', () => {
    assert.equal(pyRepr([null, true, false, 1, -3, 2.5, new PyFloat(1000), 1e-5, 12345678901234567890n]), '[None, True, False, 1, -3, 2.5, 1000.0, 1e-05, 12345678901234567890]');
    assert.equal(pyRepr([Number.NaN, Infinity, -Infinity]), '[nan, inf, -inf]');
  });

  test('chooses the quote like Python: double quotes only for text with \' and no "', () => {
    assert.equal(reprString("it's"), '"it\'s"');
    assert.equal(reprString('say "hi"'), '\'say "hi"\'');
    assert.equal(reprString('it\'s "x"'), "'it\\'s \"x\"'");
  });

  test('escapes backslashes, whitespace controls, and non-printable characters by width', () => {
    assert.equal(reprString('\t\n\r\\'), "'\\t\\n\\r\\\\'");
    assert.equal(reprString('\u0000\u007f\u0085'), "'\\x00\\x7f\\x85'");
    assert.equal(reprString('\u00a0é\u200b😀\ud800'), "'\\xa0é\\u200b😀\\ud800'");
    assert.equal(reprString('\u{e0001}'), "'\\U000e0001'");
  });

  test('dicts and lists nest with ", " and ": "', () => {
    const value = orderedObject<unknown>([
      ['k', "it's"],
      ['q', 'say "hi"'],
      ['nested', [new PyFloat(1), 2.5, null, true, { Elo: new PyFloat(1000) }, [], {}]],
    ]);
    assert.equal(pyRepr(value), `{'k': "it's", 'q': 'say "hi"', 'nested': [1.0, 2.5, None, True, {'Elo': 1000.0}, [], {}]}`);
  });

  test('keeps the insertion order of index-like keys', () => {
    assert.equal(pyRepr(orderedObject([['608', 0], ['588', 0]])), "{'608': 0, '588': 0}");
  });
});

describe('pyStr', () => {
  test('returns a top-level string unchanged and reprs everything else', () => {
    assert.equal(pyStr('it\'s "raw"\n'), 'it\'s "raw"\n');
    assert.equal(pyStr(['a']), "['a']");
    assert.equal(pyStr(null), 'None');
    assert.equal(pyStr({ is_id: 7, lat: new PyFloat(10) }), "{'is_id': 7, 'lat': 10.0}");
  });
});

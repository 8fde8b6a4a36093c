import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shapeAnswer } from '../../src/env/observation.js';
import { TOOL_STATUS } from '../../src/env/status.js';
import {
  RESPONSE_MAX_LENGTH,
  classifyResult,
  filterBySchema,
  functionErrorReply,
  importStatement,
  toServerReply,
} from '../../src/env/tool-result.js';
import { parseToolArguments } from '../../src/env/tool-input.js';
import { PyFloat, type PyValue } from '../../src/util/py-value.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';

const never = (): number => assert.fail('no draw expected');

describe('classifyResult (formats.md §12.3 step 4)', () => {
  const cases: [string, string][] = [
    ['{"message": "Your Client (working) ---> Gateway (working) ---> API (not working)"}', 'API not working error...'],
    ['Unauthorized', 'Unauthorized error...'],
    ['request unauthorized', 'Unauthorized error...'],
    ['You are not subscribed to this API.', 'Unsubscribed error...'],
    ['Too many requests', 'Too many requests error...'],
    ['You have exceeded the MONTHLY quota', 'Rate limit error...'],
    ['you are being rate limited', 'Rate limit error...'],
    ['Access restricted. Check credits balance or enter the correct API key.', 'Rate limit error...'],
    ['Oops, an error in the gateway has occurred.', 'Gateway error...'],
    ['Blocked User. Please contact your API provider.', 'Blocked error...'],
    ['{"error": "bad id"}', 'Message error...'],
    ['{"quote": "fine"}', ''],
    ['Error with a capital E', ''],
  ];
  for (const [text, expected] of cases) {
    test(`${JSON.stringify(text)} is classified as ${JSON.stringify(expected)}`, () => assert.equal(classifyResult(text), expected));
  }

  test('the first matching test wins', () => {
    assert.equal(classifyResult('Unauthorized: Too many requests, error'), 'Unauthorized error...');
    assert.equal(classifyResult('Oops, an error in the gateway has occurred.'), 'Gateway error...');
  });
});

describe('filterBySchema (formats.md §12.3 step 5)', () => {
  const schema = pyJsonParse('{"name": "str", "stadium": {"name": "str"}, "players": [{"name": "str"}]}');

  test('keys absent from the schema are dropped at every level, lists of dicts item by item', () => {
    const value = pyJsonParse(
      '{"name": "Leeds", "founded": 1919, "stadium": {"name": "Elland Road", "capacity": 1}, "players": [{"name": "A", "n": 1}, {"name": "B"}]}',
    );
    assert.deepEqual(filterBySchema(value, schema), { name: 'Leeds', stadium: { name: 'Elland Road' }, players: [{ name: 'A' }, { name: 'B' }] });
  });

  test('the input is not changed', () => {
    const value = pyJsonParse('{"name": "Leeds", "founded": 1919}');
    filterBySchema(value, schema);
    assert.deepEqual(value, { name: 'Leeds', founded: 1919 });
  });

  test('values whose shape disagrees with the schema are kept as they are', () => {
    assert.deepEqual(filterBySchema({ name: { first: 'x' } }, schema), { name: { first: 'x' } });
    assert.deepEqual(filterBySchema({ stadium: [1, 2] }, schema), { stadium: [1, 2] });
    assert.deepEqual(filterBySchema({ players: [{ name: 'A', n: 1 }] }, { players: { name: 'str' } }), { players: [{ name: 'A', n: 1 }] });
    assert.deepEqual(filterBySchema({ players: [1, { name: 'A', n: 1 }] }, schema), { players: [1, { name: 'A', n: 1 }] });
    assert.deepEqual(filterBySchema(['a'], schema), ['a']);
    assert.deepEqual(filterBySchema({ name: 'x', other: 1 }, 'str'), { name: 'x', other: 1 });
  });

  test('key order follows the value, index-like keys included', () => {
    const value = pyJsonParse('{"9": 1, "b": 2, "1": 3}');
    const filtered = filterBySchema(value, { 1: 'int', 9: 'int' });
    assert.equal(toServerReply(filtered, { compress: 'truncate', schema: undefined, draw: never }).response, "{'9': 1, '1': 3}");
  });
});

describe('toServerReply (formats.md §12.3 steps 4–6)', () => {
  const result = pyJsonParse('{"name": "Leeds", "error_count": 0, "rate": 1.0}');
  const schema: PyValue = { name: 'str' };

  test('truncate: the pyrepr of the result, classified', () => {
    assert.deepEqual(toServerReply(result, { compress: 'truncate', schema, draw: never }), {
      error: 'Message error...',
      response: "{'name': 'Leeds', 'error_count': 0, 'rate': 1.0}",
    });
  });

  test('filter compresses after classifying the uncompressed result', () => {
    assert.deepEqual(toServerReply(result, { compress: 'filter', schema, draw: never }), { error: 'Message error...', response: "{'name': 'Leeds'}" });
  });

  test('random filters only when the draw is above 0.5, and draws even for results it cannot filter', () => {
    let draws = 0;
    const draw = (value: number) => () => (draws++, value);
    assert.equal(toServerReply(result, { compress: 'random', schema, draw: draw(0.7) }).response, "{'name': 'Leeds'}");
    assert.equal(toServerReply(result, { compress: 'random', schema, draw: draw(0.5) }).response, "{'name': 'Leeds', 'error_count': 0, 'rate': 1.0}");
    assert.equal(toServerReply('text', { compress: 'random', schema: undefined, draw: draw(0.9) }).response, 'text');
    assert.equal(draws, 3);
  });

  test('no filtering without a non-empty schema or for a result that is not a dict', () => {
    for (const noSchema of [undefined, {}, []]) {
      assert.equal(toServerReply(result, { compress: 'filter', schema: noSchema, draw: never }).response, "{'name': 'Leeds', 'error_count': 0, 'rate': 1.0}");
    }
    assert.equal(toServerReply([{ name: 'a', x: 1 }], { compress: 'filter', schema: [{ name: 'str' }], draw: never }).response, "[{'name': 'a', 'x': 1}]");
  });

  test('the response is cut to 2048 code points; classification reads the whole text', () => {
    const long = `${'😀'.repeat(3000)} error`;
    const reply = toServerReply(long, { compress: 'truncate', schema: undefined, draw: never });
    assert.equal(Array.from(reply.response).length, RESPONSE_MAX_LENGTH);
    assert.equal(reply.error, 'Message error...');
  });

  test('strings are passed through unquoted, other scalars as Python prints them', () => {
    const shown = (value: unknown) => toServerReply(value, { compress: 'truncate', schema: undefined, draw: never }).response;
    assert.deepEqual([shown('plain'), shown(null), shown(true), shown(new PyFloat(2)), shown(undefined)], ['plain', 'None', 'True', '2.0', 'None']);
  });

  test('replies map to the client statuses through shapeAnswer', () => {
    const statusOf = (text: string) =>
      shapeAnswer({ kind: 'reply', reply: { ...toServerReply(text, { compress: 'truncate', schema: undefined, draw: never }) }, source: 'local' }, 1024).status;
    assert.equal(statusOf('API (not working)'), TOOL_STATUS.ok);
    assert.equal(statusOf('Your Client (working) ---> Gateway (working) ---> API (not working)'), TOOL_STATUS.apiNotWorking);
    assert.equal(statusOf('Unauthorized'), TOOL_STATUS.unauthorized);
    assert.equal(statusOf('You are not subscribed to this API.'), TOOL_STATUS.unsubscribed);
    assert.equal(statusOf('Too many requests'), TOOL_STATUS.tooManyRequests);
    assert.equal(statusOf('You have exceeded'), TOOL_STATUS.ok); // "Rate limit error..." is not a client status
    assert.equal(statusOf('an error'), TOOL_STATUS.messageError);
  });
});

describe('error replies', () => {
  test('a function error names the import statement and the message', () => {
    const statement = importStatement({ category: 'Business', tool: 'zoopla_v2', api: 'properties_get_broadband' });
    const reply = functionErrorReply(statement, new TypeError("properties_get_broadband() got an unexpected keyword argument 'abdc'"));
    assert.equal(
      reply.error,
      "Function executing from toolenv.tools.Business.zoopla_v2.api import properties_get_broadband error...\nproperties_get_broadband() got an unexpected keyword argument 'abdc'",
    );
    assert.equal(reply.response, '');
    assert.equal(shapeAnswer({ kind: 'reply', reply: { ...reply }, source: 'rapidapi' }, 1024).status, TOOL_STATUS.ok);
  });
});

describe('parseToolArguments (formats.md §12.3 step 2)', () => {
  test('an object is the arguments; empty text, `[]` and `""` are none', () => {
    assert.deepEqual(parseToolArguments('{"a": 1}'), { a: 1 });
    for (const empty of ['', '[]', '""', ' {} ']) assert.deepEqual(parseToolArguments(empty), {}, empty);
  });

  test('text that is not JSON, or JSON that cannot name arguments, is unparsable', () => {
    for (const bad of ['{a: 1}', '{"a": 1', 'null', '5', '[1]', '"x"', '['.repeat(100_000)]) assert.equal(parseToolArguments(bad), undefined);
  });

  test('floats keep their Python form', () => {
    assert.ok(parseToolArguments('{"a": 1.0}')?.a instanceof PyFloat);
  });
});

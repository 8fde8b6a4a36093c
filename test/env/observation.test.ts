import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shapeAnswer, shapeToolEnv, truncateObservation } from '../../src/env/observation.js';
import type { CallRecorder, RecordedCall } from '../../src/env/recording.js';
import { TOOL_STATUS, statusOfReply } from '../../src/env/status.js';
import type { ApiRef, BackendAnswer, CallOptions, ToolBackend } from '../../src/env/tool-call.js';
import { PyFloat } from '../../src/util/py-value.js';

const API: ApiRef = { category: 'Social', tool: 'olato_quotes', api: 'love_quote' };

/** A backend that answers from a script, one answer per call, and remembers what it was asked. */
function scriptedBackend(script: readonly BackendAnswer[]): ToolBackend & { calls: { api: ApiRef; args: string; options?: CallOptions }[]; closed: number } {
  const calls: { api: ApiRef; args: string; options?: CallOptions }[] = [];
  const backend = {
    calls,
    closed: 0,
    async answer(api: ApiRef, args: string, options?: CallOptions): Promise<BackendAnswer> {
      calls.push({ api, args, options });
      return script[calls.length - 1] ?? assert.fail(`unexpected call #${calls.length}`);
    },
    async close(): Promise<void> {
      backend.closed++;
    },
  };
  return backend;
}

function recordingSleep(): { sleep: (ms: number, signal?: AbortSignal) => Promise<void>; waits: { ms: number; signal?: AbortSignal }[] } {
  const waits: { ms: number; signal?: AbortSignal }[] = [];
  return { waits, sleep: async (ms, signal) => void waits.push({ ms, signal }) };
}

const reply = (error: string, response: unknown): BackendAnswer => ({ kind: 'reply', reply: { error, response } as never, source: 'service' });

describe('shapeAnswer', () => {
  test('a server reply becomes its Python json.dumps text, its status and its source', () => {
    const result = shapeAnswer({ kind: 'reply', reply: { error: '', response: "{'quote': 'x'}" }, source: 'cache' }, 1024);
    assert.deepEqual(result, { observation: `{"error": "", "response": "{'quote': 'x'}"}`, status: 0, source: 'cache' });
  });

  test('the envelope uses ", " and ": " separators, escapes non-ASCII and keeps Python floats', () => {
    const result = shapeAnswer(
      { kind: 'reply', reply: { error: '', response: { price: new PyFloat(12), name: 'café 😀', list: [1, null, true] } }, source: 'simulated' },
      1024,
    );
    assert.equal(result.observation, '{"error": "", "response": {"price": 12.0, "name": "caf\\u00e9 \\ud83d\\ude00", "list": [1, null, true]}}');
  });

  test('a reply of any JSON shape (a simulator may send one) is dumped as is with status 0', () => {
    assert.deepEqual(shapeAnswer({ kind: 'reply', reply: ['a', 1], source: 'simulated' }, 1024), {
      observation: '["a", 1]',
      status: 0,
      source: 'simulated',
    });
  });

  test('a recorded observation is passed through unchanged, even beyond the maximum length', () => {
    const observation = `{"error": "", "response": "${'x'.repeat(50)}"}`;
    const result = shapeAnswer({ kind: 'recorded', observation, status: 9, source: 'recorded' }, 10);
    assert.deepEqual(result, { observation, status: 9, source: 'recorded' });
  });

  test('a non-200 HTTP status becomes the fixed observation with the status code and status 12', () => {
    const result = shapeAnswer({ kind: 'failure', failure: { kind: 'http-status', status: 404 }, source: 'service' }, 1024);
    assert.deepEqual(result, { observation: '{"error": "request invalid, data error. status_code=404", "response": ""}', status: 12, source: 'service' });
  });

  test('a body that is not JSON becomes "request invalid, data error" with status 12', () => {
    const result = shapeAnswer({ kind: 'failure', failure: { kind: 'bad-body' }, source: 'service' }, 1024);
    assert.deepEqual(result, { observation: '{"error": "request invalid, data error", "response": ""}', status: 12, source: 'service' });
  });

  test('a timeout becomes "Timeout error..." with status 5', () => {
    const result = shapeAnswer({ kind: 'failure', failure: { kind: 'timeout' }, source: 'rapidapi' }, 1024);
    assert.deepEqual(result, { observation: '{"error": "Timeout error...", "response": ""}', status: 5, source: 'rapidapi' });
  });

  test('failure observations are not cut by a small maximum length', () => {
    const result = shapeAnswer({ kind: 'failure', failure: { kind: 'http-status', status: 503 }, source: 'service' }, 5);
    assert.equal(result.observation, '{"error": "request invalid, data error. status_code=503", "response": ""}');
  });

  test('a reply longer than the maximum is cut to that many characters of its text plus "..."', () => {
    const answer = reply('', 'y'.repeat(100));
    const full = `{"error": "", "response": "${'y'.repeat(100)}"}`;
    const result = shapeAnswer(answer, 40);
    assert.equal(result.observation, `${full.slice(0, 40)}...`);
    assert.equal(result.observation.length, 43);
  });

  test('the cut counts the escaped text, so it may split a \\u escape as upstream does', () => {
    const result = shapeAnswer(reply('', '😀'), 30);
    assert.equal(result.observation, '{"error": "", "response": "\\ud...');
  });

  test('a reply exactly as long as the maximum is not cut', () => {
    const full = `{"error": "", "response": "${'z'.repeat(10)}"}`;
    assert.equal(shapeAnswer(reply('', 'z'.repeat(10)), full.length).observation, full);
    assert.equal(shapeAnswer(reply('', 'z'.repeat(10)), full.length - 1).observation, `${full.slice(0, -1)}...`);
  });

  test('the status of a reply comes from its error text', () => {
    assert.equal(shapeAnswer(reply('Unsubscribed error...', ''), 1024).status, 8);
    assert.equal(shapeAnswer(reply('Message error...', 'boom'), 1024).status, 11);
  });
});

describe('truncateObservation', () => {
  test('cuts at the maximum and appends "..."', () => {
    assert.equal(truncateObservation('abcdefgh', 3), 'abc...');
  });

  test('leaves a text of exactly the maximum or shorter alone', () => {
    assert.equal(truncateObservation('abc', 3), 'abc');
    assert.equal(truncateObservation('ab', 3), 'ab');
    assert.equal(truncateObservation('', 0), '');
  });

  test('counts astral characters as one code point each, as Python does', () => {
    assert.equal(truncateObservation('😀😀😀😀', 3), '😀😀😀...');
    assert.equal(truncateObservation('a😀b😀c', 4), 'a😀b😀...');
  });

  test('a text of astral characters exactly the maximum in code points is not cut (though longer in UTF-16)', () => {
    assert.equal(truncateObservation('😀😀😀', 3), '😀😀😀');
    assert.equal(truncateObservation('x😀', 2), 'x😀');
  });
});

describe('statusOfReply', () => {
  const table: readonly (readonly [string, number])[] = [
    ['API not working error...', 6],
    ['Unauthorized error...', 7],
    ['Unsubscribed error...', 8],
    ['Too many requests error...', 9],
    ['Rate limit per minute error...', 10],
    ['Message error...', 11],
  ];
  for (const [error, status] of table) {
    test(`"${error}" maps to status ${status}`, () => {
      assert.equal(statusOfReply({ error, response: '' }), status);
    });
  }

  test('the named constants agree with the wire numbers', () => {
    assert.deepEqual(
      [TOOL_STATUS.apiNotWorking, TOOL_STATUS.unauthorized, TOOL_STATUS.unsubscribed, TOOL_STATUS.tooManyRequests, TOOL_STATUS.rateLimitPerMinute, TOOL_STATUS.messageError],
      [6, 7, 8, 9, 10, 11],
    );
    assert.deepEqual([TOOL_STATUS.ok, TOOL_STATUS.timeout, TOOL_STATUS.requestFailed], [0, 5, 12]);
  });

  test('any other error text is status 0, including near misses and texts the server sends but the client does not map', () => {
    for (const error of ['', 'Unauthorized error', 'unauthorized error...', ' Message error...', 'Message error...\n', 'Rate limit error...', 'Gateway error...', 'Blocked error...']) {
      assert.equal(statusOfReply({ error, response: '' }), 0, JSON.stringify(error));
    }
  });

  test('a reply without an error field, with a non-text error or not an object is status 0', () => {
    assert.equal(statusOfReply({ response: 'x' }), 0);
    assert.equal(statusOfReply({ error: null, response: 'x' }), 0);
    assert.equal(statusOfReply({ error: 7 }), 0);
    assert.equal(statusOfReply(['Message error...']), 0);
    assert.equal(statusOfReply('Message error...'), 0);
    assert.equal(statusOfReply(null), 0);
  });
});

describe('shapeToolEnv', () => {
  test('passes the call to the backend and returns the shaped answer', async () => {
    const backend = scriptedBackend([reply('', 'hello')]);
    const { sleep } = recordingSleep();
    const env = shapeToolEnv(backend, { maxObservationLength: 1024, rateLimitPauseMs: 10_000, sleep });
    const signal = new AbortController().signal;
    const result = await env.call(API, '{"a": 1}', { signal });
    assert.deepEqual(result, { observation: '{"error": "", "response": "hello"}', status: 0, source: 'service' });
    assert.deepEqual(backend.calls, [{ api: API, args: '{"a": 1}', options: { signal } }]);
  });

  test('applies the configured maximum observation length', async () => {
    const env = shapeToolEnv(scriptedBackend([reply('', 'q'.repeat(100))]), { maxObservationLength: 20, rateLimitPauseMs: 0, sleep: recordingSleep().sleep });
    assert.equal((await env.call(API, '{}')).observation, '{"error": "", "respo...');
  });

  test('on status 10 it pauses for the rate-limit pause through the injected sleep, with the call signal', async () => {
    const { sleep, waits } = recordingSleep();
    const env = shapeToolEnv(scriptedBackend([reply('Rate limit per minute error...', '')]), { maxObservationLength: 1024, rateLimitPauseMs: 10_000, sleep });
    const signal = new AbortController().signal;
    const result = await env.call(API, '{}', { signal });
    assert.equal(result.status, 10);
    assert.deepEqual(waits, [{ ms: 10_000, signal }]);
  });

  test('no pause for other statuses, nor when the pause is 0', async () => {
    const { sleep, waits } = recordingSleep();
    const answers = [reply('Too many requests error...', ''), reply('', 'fine'), { kind: 'failure', failure: { kind: 'timeout' }, source: 'service' } as const];
    const env = shapeToolEnv(scriptedBackend(answers), { maxObservationLength: 1024, rateLimitPauseMs: 10_000, sleep });
    for (let index = 0; index < answers.length; index++) await env.call(API, '{}');
    const silent = shapeToolEnv(scriptedBackend([reply('Rate limit per minute error...', '')]), { maxObservationLength: 1024, rateLimitPauseMs: 0, sleep });
    assert.equal((await silent.call(API, '{}')).status, 10);
    assert.deepEqual(waits, []);
  });

  test('a sleep that rejects (an abort during the pause) makes the call reject', async () => {
    const reason = new Error('stopped');
    const env = shapeToolEnv(scriptedBackend([reply('Rate limit per minute error...', '')]), {
      maxObservationLength: 1024,
      rateLimitPauseMs: 10_000,
      sleep: async () => {
        throw reason;
      },
    });
    await assert.rejects(env.call(API, '{}'), (error) => error === reason);
  });

  test('the recorder receives every call: the API, the arguments text, the backend answer and the shaped result', async () => {
    const recorded: RecordedCall[] = [];
    let recorderClosed = 0;
    const recorder: CallRecorder = {
      record: (call) => void recorded.push(call),
      close: async () => void recorderClosed++,
    };
    const answers: BackendAnswer[] = [
      reply('', 'one'),
      { kind: 'failure', failure: { kind: 'http-status', status: 500 }, source: 'service' },
      { kind: 'recorded', observation: 'as it was', status: 6, source: 'recorded' },
    ];
    const backend = scriptedBackend(answers);
    const env = shapeToolEnv(backend, { maxObservationLength: 1024, rateLimitPauseMs: 0, sleep: recordingSleep().sleep, recorder });
    const results = [await env.call(API, 'first'), await env.call(API, 'second'), await env.call({ ...API, api: 'other' }, '')];
    assert.deepEqual(
      recorded.map((call) => ({ api: call.api.api, args: call.args, answer: call.answer, result: call.result })),
      [
        { api: 'love_quote', args: 'first', answer: answers[0], result: results[0] },
        { api: 'love_quote', args: 'second', answer: answers[1], result: results[1] },
        { api: 'other', args: '', answer: answers[2], result: results[2] },
      ],
    );
    assert.equal(results[1]?.status, 12);
    assert.deepEqual(results[2], { observation: 'as it was', status: 6, source: 'recorded' });
    await env.close();
    assert.equal(backend.closed, 1);
    assert.equal(recorderClosed, 1);
  });
});

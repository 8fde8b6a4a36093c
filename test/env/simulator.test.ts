import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  buildApiDoc,
  buildSimulationMessages,
  createSimulator,
  parseSimulatorReply,
  reprExamples,
  selectExamples,
  type ExamplePair,
  type SimulatorOptions,
} from '../../src/env/simulator.js';
import { VIRTUAL_API_SYSTEM_PROMPT } from '../../src/protocol/prompts.js';
import { parseToolDocument } from '../../src/registry/tool-document.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { orderedKeys, type PyObject, type PyValue } from '../../src/util/py-value.js';
import { pyRepr, pyStr } from '../../src/util/pyrepr.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply } from '../helpers/fake-openai.js';

const API_KEY = 'sk-test-SECRET-0123456789';

const TOOL_JSON = `{
  "tool_name": "Love Quotes",
  "tool_description": "Quotes über alles — “smart” quotes",
  "api_list": [
    {"name": "Love Quote", "description": "Get a \\"love\\" quote", "method": "GET"},
    {"name": "Random Quote", "description": "Any quote", "method": "GET"},
    {"name": "love-quote", "description": null, "method": "GET"},
    {"name": "id", "description": "By id", "method": "GET"}
  ]
}`;

const tool = parseToolDocument(pyJsonParse(TOOL_JSON), { file: 'Social/love_quotes.json', category: 'Social', standardName: 'love_quotes' });

/** Cache file entries in file order, as the caller reads them. */
function cacheEntries(text: string): ExamplePair[] {
  const cache = pyJsonParse(text) as PyObject;
  return orderedKeys(cache).map((key) => [key, cache[key] as PyValue] as const);
}

const CACHE_JSON = `{
  "{'q': 'x'}": {"error": "", "response": {"score": 1.0, "ok": true, "missing": null, "tags": ["a", 2.5, 1e16, 1e-5]}}
}`;

const TOOL_INPUT_JSON = '{"text": "café ☕ 😀\\u200b", "n": 1.0, "flag": true, "none": null, "nested": {"list": [1, -0.0, {"quote": "it\'s \\"x\\""}]}}';

// Written by hand from Python 3: "API Documentation:" + str(api_doc) + "\n" + "API Examples:" + ...
const EXPECTED_USER =
  `API Documentation:{'tool_description': 'Quotes über alles — “smart” quotes', 'api_info': [{'name': 'Love Quote', 'description': 'Get a "love" quote'}, {'name': 'love-quote', 'description': None}]}\n` +
  `API Examples:[("{'q': 'x'}", {'error': '', 'response': {'score': 1.0, 'ok': True, 'missing': None, 'tags': ['a', 2.5, 1e+16, 1e-05]}})]\n` +
  `API Input:{'text': 'café ☕ 😀\\u200b', 'n': 1.0, 'flag': True, 'none': None, 'nested': {'list': [1, -0.0, {'quote': 'it\\'s "x"'}]}}\n`;

function request(): { apiDoc: ReturnType<typeof buildApiDoc>; examples: readonly ExamplePair[]; toolInput: PyValue } {
  return {
    apiDoc: buildApiDoc(tool, 'love_quote'),
    examples: selectExamples(cacheEntries(CACHE_JSON)),
    toolInput: pyJsonParse(TOOL_INPUT_JSON),
  };
}

describe('simulator prompt', () => {
  test('api_doc lists every API whose standardized name matches, with its original name and description', () => {
    assert.equal(
      pyStr(buildApiDoc(tool, 'love_quote')),
      `{'tool_description': 'Quotes über alles — “smart” quotes', 'api_info': [{'name': 'Love Quote', 'description': 'Get a "love" quote'}, {'name': 'love-quote', 'description': None}]}`,
    );
  });

  test('when the tool file is missing then api_doc has empty strings (as upstream)', () => {
    const apiDoc = buildApiDoc(undefined, 'love_quote');
    assert.deepEqual(apiDoc, { tool_description: '', api_info: '' });
    assert.equal(pyStr(apiDoc), "{'tool_description': '', 'api_info': ''}");
  });

  test('an API named id is not found under its changed name is_id (spec formats §15 item 15)', () => {
    assert.equal(pyStr(buildApiDoc(tool, 'is_id')), `{'tool_description': 'Quotes über alles — “smart” quotes', 'api_info': []}`);
  });

  test('the user message is Python str() of the doc, the examples as tuples and the input', () => {
    const { apiDoc, examples, toolInput } = request();
    const messages = buildSimulationMessages(apiDoc, examples, toolInput);
    assert.deepEqual(messages, [
      { role: 'system', content: VIRTUAL_API_SYSTEM_PROMPT },
      { role: 'user', content: EXPECTED_USER },
    ]);
  });

  test('with no cached examples the examples line is []', () => {
    const [, user] = buildSimulationMessages(buildApiDoc(undefined, 'x'), selectExamples([]), {});
    assert.equal(user?.content, "API Documentation:{'tool_description': '', 'api_info': ''}\nAPI Examples:[]\nAPI Input:{}\n");
  });

  test('examples are the first five cache entries, dropped from the end while their text exceeds 2048 characters', () => {
    const entries: ExamplePair[] = Array.from({ length: 6 }, (_, index) => [`{'i': ${index}}`, { error: '', response: 'x'.repeat(600) }]);
    // Python: len(str(entries[:n])) is 3225, 2580, 1935 for n = 5, 4, 3.
    const examples = selectExamples(entries);
    assert.deepEqual(
      examples.map(([key]) => key),
      ["{'i': 0}", "{'i': 1}", "{'i': 2}"],
    );
    assert.equal(reprExamples(examples).length, 1935);
    assert.equal(selectExamples(entries.slice(0, 2)).length, 2);
  });

  test('example length counts code points, as Python len() does', () => {
    // 1090 code points but 2090 UTF-16 units: Python keeps both.
    const entries: ExamplePair[] = [0, 1].map((index) => [`{'i': ${index}}`, { error: '', response: '😀'.repeat(500) }]);
    assert.equal(selectExamples(entries).length, 2);
  });

  test('one example longer than 2048 stays, and the message keeps its first 2048 code points', () => {
    const examples = selectExamples([['{}', { error: '', response: '😀'.repeat(3000) }], ['{"a": 1}', { error: '', response: '' }]]);
    assert.equal(examples.length, 1);
    const [, user] = buildSimulationMessages(buildApiDoc(undefined, 'x'), examples, {});
    const prefix = "[('{}', {'error': '', 'response': '"; // 35 code points
    assert.equal(user?.content, `API Documentation:{'tool_description': '', 'api_info': ''}\nAPI Examples:${prefix}${'😀'.repeat(2048 - 35)}\nAPI Input:{}\n`);
  });
});

describe('parseSimulatorReply', () => {
  test('removes ```json fences and surrounding whitespace', () => {
    assert.deepEqual(parseSimulatorReply('```json\n{"error": "", "response": "hi"}\n```\n'), { error: '', response: 'hi' });
  });

  test('keeps integral floats and key order, like json.loads', () => {
    assert.equal(pyRepr(parseSimulatorReply('{"b": 1.0, "2": [true, null], "1": "é"}') ?? 'missing'), "{'b': 1.0, '2': [True, None], '1': 'é'}");
  });

  test('accepts any JSON value, not only {error, response}', () => {
    assert.deepEqual(parseSimulatorReply(' [1, 2]\n'), [1, 2]);
  });

  test('as upstream, fences are removed only when the text has ```json', () => {
    assert.equal(parseSimulatorReply('```\n{"a": 1}\n```'), undefined);
    assert.deepEqual(parseSimulatorReply('{"response": "use ``` fences"}'), { response: 'use ``` fences' });
  });

  test('rejects what json.loads rejects', () => {
    assert.equal(parseSimulatorReply('{"a": 1,}'), undefined);
    assert.equal(parseSimulatorReply('Sure! {"a": 1}'), undefined);
    assert.equal(parseSimulatorReply(''), undefined);
  });
});

describe('createSimulator against an OpenAI-compatible server', () => {
  let server: FakeOpenAI;
  let script: FakeReply[] = [];
  let delays: number[] = [];

  before(async () => {
    server = await startFakeOpenAI((_body, callIndex) => script[callIndex - firstCall] ?? { status: 500 });
  });
  after(() => server.close());

  let firstCall = 0;
  beforeEach(() => {
    firstCall = server.requests.length;
    delays = [];
  });

  function simulator(overrides: Partial<SimulatorOptions> = {}) {
    return createSimulator({
      baseUrl: server.baseUrl,
      apiKey: API_KEY,
      model: 'gpt-4-turbo',
      temperature: 0,
      maxRetries: 0,
      sleep: async (ms) => {
        delays.push(ms);
      },
      ...overrides,
    });
  }

  function calls() {
    return server.requests.slice(firstCall);
  }

  test('sends the upstream request: messages, model, temperature, max_tokens 1024, json_object', async () => {
    script = [{ content: '{"error": "", "response": "ok"}' }];
    const result = await simulator().simulate(request());
    assert.deepEqual(result, { ok: true, reply: { error: '', response: 'ok' }, attempts: 1 });
    const [call] = calls();
    assert.equal(call?.path, '/v1/chat/completions');
    assert.deepEqual(call?.body, {
      model: 'gpt-4-turbo',
      messages: [
        { role: 'system', content: VIRTUAL_API_SYSTEM_PROMPT },
        { role: 'user', content: EXPECTED_USER },
      ],
      max_tokens: 1024,
      temperature: 0,
      response_format: { type: 'json_object' },
    });
    assert.equal(call?.headers.authorization, `Bearer ${API_KEY}`);
    assert.deepEqual(delays, []);
  });

  test('a seed is sent only when set', async () => {
    script = [{ content: '{}' }];
    await simulator({ seed: 42, temperature: 0.1, model: 'simulation-model' }).simulate(request());
    const body = calls()[0]?.body;
    assert.equal(body.seed, 42);
    assert.equal(body.temperature, 0.1);
    assert.equal(body.model, 'simulation-model');
  });

  test('a fenced reply is accepted', async () => {
    script = [{ content: '```json\n{"error": "", "response": {"price": 10.0}}\n```' }];
    const result = await simulator().simulate(request());
    assert.equal(result.ok, true);
    assert.equal(result.ok && pyRepr(result.reply), "{'error': '', 'response': {'price': 10.0}}");
  });

  test('when the first reply is not JSON then a second attempt is made after the delay', async () => {
    script = [{ content: 'Here is the response: {' }, { content: '{"error": "", "response": "second"}' }];
    const result = await simulator().simulate(request());
    assert.deepEqual(result, { ok: true, reply: { error: '', response: 'second' }, attempts: 2 });
    assert.equal(calls().length, 2);
    assert.deepEqual(delays, [1000]);
  });

  test('when three replies are not JSON then the simulation fails after 3 attempts', async () => {
    script = [{ content: 'no' }, { content: 'still no' }, { content: null }];
    const result = await simulator({ retryDelayMs: 250 }).simulate(request());
    assert.equal(result.ok, false);
    assert.equal(result.attempts, 3);
    assert.equal(calls().length, 3);
    assert.deepEqual(delays, [250, 250]);
  });

  test('an HTTP 500 costs an attempt and the next one succeeds', async () => {
    script = [{ status: 500 }, { content: '{"error": "", "response": "after 500"}' }];
    const result = await simulator().simulate(request());
    assert.deepEqual(result, { ok: true, reply: { error: '', response: 'after 500' }, attempts: 2 });
    assert.deepEqual(delays, [1000]);
  });

  test("the openai client's own retries stay inside one attempt", async () => {
    script = [{ status: 429, headers: { 'retry-after-ms': '1' } }, { content: '{"a": 1}' }];
    const result = await simulator({ maxRetries: 1 }).simulate(request());
    assert.deepEqual(result, { ok: true, reply: { a: 1 }, attempts: 1 });
    assert.equal(calls().length, 2);
  });

  test('a dropped connection costs an attempt', async () => {
    script = [{ destroy: true }, { content: '{"a": 2}' }];
    const result = await simulator().simulate(request());
    assert.deepEqual(result, { ok: true, reply: { a: 2 }, attempts: 2 });
  });

  test('a timeout costs an attempt', async () => {
    script = [{ delayMs: 2000, content: '{"late": true}' }, { content: '{"a": 3}' }];
    const result = await simulator({ timeoutMs: 100 }).simulate(request());
    assert.deepEqual(result, { ok: true, reply: { a: 3 }, attempts: 2 });
  });

  test('the API key appears in nothing the simulator returns, even when the server echoes it', async () => {
    const echo: FakeReply = { status: 401, body: { error: { message: `Incorrect API key provided: ${API_KEY}`, type: 'invalid_request_error' } } };
    script = [echo, echo, echo];
    const failed = await simulator().simulate(request());
    assert.equal(failed.ok, false);
    assert.equal(failed.attempts, 3);
    assert.match(!failed.ok ? failed.reason : '', /401/);
    assert.doesNotMatch(JSON.stringify(failed), /SECRET/);
    assert.equal(calls()[0]?.headers.authorization, `Bearer ${API_KEY}`);

    firstCall = server.requests.length;
    script = [{ content: '{"error": "", "response": "fine"}' }];
    const succeeded = await simulator().simulate(request());
    assert.doesNotMatch(JSON.stringify(succeeded), /SECRET/);
  });

  test('credentials in the base URL appear in nothing the simulator returns, even when the server quotes them', async () => {
    const token = 'tok3n-PASSWORD-0123';
    const baseUrl = server.baseUrl.replace('http://', `http://alice:${token}@`);
    /** Node's fetch refuses URLs with credentials: this one drops them, so that the fake server answers. */
    const forward: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      url.username = '';
      url.password = '';
      return fetch(url, init);
    };
    const quote: FakeReply = { status: 400, body: { error: { message: `bad request to ${baseUrl} by alice:${token}` } } };
    script = [quote, quote, quote];
    const failed = await simulator({ baseUrl, fetch: forward }).simulate(request());
    assert.equal(failed.ok, false);
    assert.match(!failed.ok ? failed.reason : '', /bad request to http:\/\/127\.0\.0\.1/);
    assert.doesNotMatch(JSON.stringify(failed), /tok3n|alice/);
  });

  test('an aborted signal stops the simulation with the abort reason', async () => {
    script = [{ content: 'not json' }];
    const controller = new AbortController();
    const aborting = createSimulator({
      baseUrl: server.baseUrl,
      apiKey: API_KEY,
      model: 'm',
      temperature: 0,
      maxRetries: 0,
      sleep: async () => controller.abort(new Error('stop')),
    });
    await assert.rejects(aborting.simulate(request(), controller.signal), /stop/);
    assert.equal(calls().length, 1);
  });
});

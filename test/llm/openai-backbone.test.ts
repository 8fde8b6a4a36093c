import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import type { ChatMessage, CompletionRequest, MessageShape } from '../../src/llm/backbone.js';
import { createOpenAIBackbone, type OpenAIBackboneOptions } from '../../src/llm/openai-backbone.js';
import { createPriceTable } from '../../src/llm/prices.js';
import { createRateLimiter, type RateLimiter } from '../../src/llm/rate-limiter.js';
import type { OpenAIFunction } from '../../src/registry/function-schema.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply } from '../helpers/fake-openai.js';

const API_KEY = 'sk-test-SECRET-0123456789abcdef';

const SEARCH_FUNCTION = {
  name: 'search_for_songs',
  description: 'Search songs',
  parameters: { type: 'object', properties: { q: { type: 'string', description: 'query' } }, required: ['q'], optional: [] },
} as unknown as OpenAIFunction;
const FINISH = {
  name: 'Finish',
  description: 'Finish the task',
  parameters: { type: 'object', properties: {}, required: [] },
} as unknown as OpenAIFunction;
const FUNCTIONS: readonly OpenAIFunction[] = [SEARCH_FUNCTION, FINISH];

/** A DFSDT conversation in the ToolBench shape, with a diversity prompt marked invalid. */
const FUNCTIONS_CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'You are AutoGPT' },
  { role: 'user', content: '\nFind a song\nBegin!\n' },
  { role: 'user', content: 'This is not the first time you try this task', valid: false },
  { role: 'assistant', content: null, function_call: { name: 'search_for_songs', arguments: '{"q": "x"}' } },
  { role: 'function', name: 'search_for_songs', content: '{"error": "", "response": "ok"}' },
];

/** The same in the StableToolBench shape; upstream leaves `function_call: null` on replies. */
const TOOLS_CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'You are AutoGPT' },
  { role: 'user', content: '\nFind a song\nBegin!\n' },
  { role: 'user', content: 'This is not the first time you try this task', valid: false },
  {
    role: 'assistant',
    content: 'Thought',
    function_call: null,
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'search_for_songs', arguments: '{"q": "x"}' } }],
  },
  { role: 'tool', name: 'search_for_songs', content: '{"error": "", "response": "ok"}', tool_call_id: 'call_1' },
];

const USAGE = { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 };

let server: FakeOpenAI;
before(async () => {
  server = await startFakeOpenAI();
});
after(() => server.close());
afterEach(() => {
  // each test reads its own requests from this offset
  requestOffset = server.requests.length;
});
let requestOffset = 0;

function requestsOfThisTest() {
  return server.requests.slice(requestOffset);
}

function backbone(shape: MessageShape, overrides: Partial<OpenAIBackboneOptions> = {}) {
  return createOpenAIBackbone({ baseUrl: server.baseUrl, apiKey: API_KEY, model: 'gpt-4o-2024-08-06', shape, ...overrides });
}

function agentRequest(messages: readonly ChatMessage[], extra: Partial<CompletionRequest> = {}): CompletionRequest {
  return { messages, functions: FUNCTIONS, purpose: 'agent', ...extra };
}

/** Runs one call against scripted replies; returns the completion and the bodies sent. */
async function call(shape: MessageShape, replies: FakeReply[], request: CompletionRequest, overrides: Partial<OpenAIBackboneOptions> = {}) {
  server.enqueue(...replies);
  const completion = await backbone(shape, overrides).complete(request);
  return { completion, bodies: requestsOfThisTest().map((recorded) => recorded.body) };
}

function messageOf(completion: Awaited<ReturnType<typeof call>>['completion']): string {
  assert.ok(completion.ok, completion.ok ? '' : completion.error);
  return JSON.stringify(completion.message);
}

describe('request body, functions shape (ToolBench)', () => {
  test('sends the valid messages as they are, the functions, max_tokens 1024 and zero penalties, nothing unset', async () => {
    const { bodies } = await call('functions', [{ content: 'ok', usage: USAGE }], agentRequest(FUNCTIONS_CONVERSATION));
    assert.equal(bodies.length, 1);
    assert.deepEqual(bodies[0], {
      model: 'gpt-4o-2024-08-06',
      messages: [FUNCTIONS_CONVERSATION[0], FUNCTIONS_CONVERSATION[1], FUNCTIONS_CONVERSATION[3], FUNCTIONS_CONVERSATION[4]],
      max_tokens: 1024,
      frequency_penalty: 0,
      presence_penalty: 0,
      functions: FUNCTIONS,
    });
    assert.deepEqual(Object.keys(bodies[0]), ['model', 'messages', 'max_tokens', 'frequency_penalty', 'presence_penalty', 'functions']);
    const recorded = requestsOfThisTest()[0];
    assert.equal(recorded?.path, '/v1/chat/completions');
    assert.equal(recorded?.headers.authorization, `Bearer ${API_KEY}`);
  });

  test('the valid key is never sent, and temperature, seed and max_tokens are sent when set', async () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'hi', valid: true }];
    const { bodies } = await call('functions', [{ content: 'ok' }], agentRequest(messages), { temperature: 0.5, seed: 7, maxTokens: 64 });
    assert.deepEqual(bodies[0].messages, [{ role: 'user', content: 'hi' }]);
    assert.equal(bodies[0].temperature, 0.5);
    assert.equal(bodies[0].seed, 7);
    assert.equal(bodies[0].max_tokens, 64);
    assert.deepEqual(messages, [{ role: 'user', content: 'hi', valid: true }]);
  });

  test('a ranking call sends function_call "none"', async () => {
    const { bodies } = await call('functions', [{ content: 'ok' }], agentRequest(FUNCTIONS_CONVERSATION, { purpose: 'rank' }));
    assert.equal(bodies[0].function_call, 'none');
    assert.deepEqual(bodies[0].functions, FUNCTIONS);
    assert.equal(bodies[0].tools, undefined);
  });

  test('an empty function list is left out', async () => {
    const { bodies } = await call('functions', [{ content: 'ok' }], agentRequest(FUNCTIONS_CONVERSATION, { functions: [], purpose: 'rank' }));
    assert.equal('functions' in bodies[0], false);
    assert.equal('function_call' in bodies[0], false);
  });
});

describe('request body, tools shape (StableToolBench)', () => {
  test('wraps each function as a tool and strips function_call keys without touching the caller’s messages', async () => {
    const before = structuredClone(TOOLS_CONVERSATION);
    const { bodies } = await call('tools', [{ content: 'ok' }], agentRequest(TOOLS_CONVERSATION));
    assert.deepEqual(bodies[0].tools, [
      { type: 'function', function: SEARCH_FUNCTION },
      { type: 'function', function: FINISH },
    ]);
    assert.equal('functions' in bodies[0], false);
    assert.equal('tool_choice' in bodies[0], false);
    assert.equal(
      JSON.stringify(bodies[0].messages[2]),
      '{"role":"assistant","content":"Thought","tool_calls":[{"id":"call_1","type":"function","function":{"name":"search_for_songs","arguments":"{\\"q\\": \\"x\\"}"}}]}',
    );
    assert.deepEqual(bodies[0].messages, [TOOLS_CONVERSATION[0], TOOLS_CONVERSATION[1], bodies[0].messages[2], TOOLS_CONVERSATION[4]]);
    assert.deepEqual(TOOLS_CONVERSATION, before);
  });

  test('a ranking call sends tool_choice "none"', async () => {
    const { bodies } = await call('tools', [{ content: 'ok' }], agentRequest(TOOLS_CONVERSATION, { purpose: 'rank' }));
    assert.equal(bodies[0].tool_choice, 'none');
    assert.equal('function_call' in bodies[0], false);
  });
});

describe('returned message, functions shape', () => {
  test('a call keeps content null and the function_call, in upstream key order; extra keys are dropped', async () => {
    const { completion } = await call('functions', [{ content: null, function_call: { name: 'search_for_songs', arguments: '{"q": "y"}' } }], agentRequest(FUNCTIONS_CONVERSATION));
    assert.equal(messageOf(completion), '{"role":"assistant","content":null,"function_call":{"name":"search_for_songs","arguments":"{\\"q\\": \\"y\\"}"}}');
  });

  test('text only has content and no function_call key', async () => {
    const { completion } = await call('functions', [{ content: 'Thought only' }], agentRequest(FUNCTIONS_CONVERSATION));
    assert.equal(messageOf(completion), '{"role":"assistant","content":"Thought only"}');
  });

  test('a dotted function name keeps its last segment', async () => {
    const { completion } = await call('functions', [{ content: 'Let me search', function_call: { name: 'functions.api.search_for_songs', arguments: '{}' } }], agentRequest(FUNCTIONS_CONVERSATION));
    assert.equal(messageOf(completion), '{"role":"assistant","content":"Let me search","function_call":{"name":"search_for_songs","arguments":"{}"}}');
  });

  test('tool_calls in the reply become a function_call from the first call', async () => {
    const reply: FakeReply = {
      tool_calls: [
        { id: 'call_a', function: { name: 'functions.search_for_songs', arguments: '{"q": "1"}' } },
        { id: 'call_b', function: { name: 'Finish', arguments: '{}' } },
      ],
    };
    const { completion } = await call('functions', [reply], agentRequest(FUNCTIONS_CONVERSATION));
    assert.equal(messageOf(completion), '{"role":"assistant","content":null,"function_call":{"name":"search_for_songs","arguments":"{\\"q\\": \\"1\\"}"}}');
  });
});

describe('returned message, tools shape', () => {
  test('null content is dropped and tool calls are kept in order with their ids, keys as model_dump() writes them', async () => {
    const reply: FakeReply = {
      tool_calls: [
        { id: 'call_a', function: { name: 'search_for_songs', arguments: '{"q": "1"}' } },
        { id: 'call_b', function: { name: 'Finish', arguments: '{}' } },
      ],
    };
    const { completion } = await call('tools', [reply], agentRequest(TOOLS_CONVERSATION));
    assert.equal(
      messageOf(completion),
      '{"role":"assistant","tool_calls":[{"id":"call_a","function":{"name":"search_for_songs","arguments":"{\\"q\\": \\"1\\"}"},"type":"function"},{"id":"call_b","function":{"name":"Finish","arguments":"{}"},"type":"function"}]}',
    );
  });

  test('content and calls together keep both; dotted names are left alone', async () => {
    const reply: FakeReply = { content: 'Thought', tool_calls: [{ id: 'call_a', function: { name: 'a.b', arguments: '{}' } }] };
    const { completion } = await call('tools', [reply], agentRequest(TOOLS_CONVERSATION));
    assert.equal(messageOf(completion), '{"role":"assistant","content":"Thought","tool_calls":[{"id":"call_a","function":{"name":"a.b","arguments":"{}"},"type":"function"}]}');
  });

  test('text only has no tool_calls key', async () => {
    const { completion } = await call('tools', [{ content: 'Done' }], agentRequest(TOOLS_CONVERSATION));
    assert.equal(messageOf(completion), '{"role":"assistant","content":"Done"}');
  });

  test('a legacy function_call becomes one tool call with a derived id', async () => {
    const { completion } = await call('tools', [{ function_call: { name: 'Finish', arguments: '{}' } }], agentRequest(TOOLS_CONVERSATION));
    assert.ok(completion.ok);
    const text = JSON.stringify(completion.message);
    const id = (completion.message.tool_calls as { id: string }[])[0]?.id ?? '';
    assert.match(id, /^call_[0-9a-f]{24}$/);
    assert.equal(text, `{"role":"assistant","tool_calls":[{"id":"${id}","function":{"name":"Finish","arguments":"{}"},"type":"function"}]}`);
  });

  test('derived ids reproduce: the same request and reply give the same id; another call, reply or conversation another', async () => {
    const idsOf = async (reply: FakeReply, messages: readonly ChatMessage[] = TOOLS_CONVERSATION, seed?: number, fetch?: typeof globalThis.fetch): Promise<string[]> => {
      const { completion } = await call('tools', [reply], agentRequest(messages), { ...(seed === undefined ? {} : { seed }), ...(fetch === undefined ? {} : { fetch }) });
      assert.ok(completion.ok);
      return (completion.message.tool_calls as { id: string }[]).map((toolCall) => toolCall.id);
    };
    const legacy: FakeReply = { function_call: { name: 'search_for_songs', arguments: '{"q": "1"}' } };
    const [first] = await idsOf(legacy);
    assert.deepEqual(await idsOf(legacy), [first]);
    const others = [
      ...(await idsOf({ function_call: { name: 'search_for_songs', arguments: '{"q": "2"}' } })),
      ...(await idsOf({ content: 'Thought', function_call: { name: 'search_for_songs', arguments: '{"q": "1"}' } })),
      ...(await idsOf(legacy, TOOLS_CONVERSATION.slice(0, 2))),
      ...(await idsOf(legacy, TOOLS_CONVERSATION, 7)),
    ];
    assert.equal(new Set([first, ...others]).size, 5, JSON.stringify([first, ...others]));
    // tool calls the server sent without ids: one reply, two identical calls, two ids
    const withoutIds = rewritingFetch((json) => {
      for (const toolCall of json.choices[0].message.tool_calls) delete toolCall.id;
    });
    const finish = { function: { name: 'Finish', arguments: '{}' } };
    const idless = await idsOf({ tool_calls: [finish, finish] }, TOOLS_CONVERSATION, undefined, withoutIds);
    assert.equal(idless.length, 2);
    assert.notEqual(idless[0], idless[1]);
    for (const id of idless) assert.match(id, /^call_[0-9a-f]{24}$/);
  });
});

describe('usage and cost', () => {
  test('usage comes from the response and the cost from the price table', async () => {
    const prices = createPriceTable([['gpt-4o', { input: 2.5, output: 10 }]]);
    const { completion } = await call('functions', [{ content: 'ok', usage: USAGE }], agentRequest(FUNCTIONS_CONVERSATION), { prices });
    assert.ok(completion.ok);
    assert.deepEqual(completion.usage, { promptTokens: 1000, completionTokens: 200, totalTokens: 1200 });
    assert.ok(Math.abs(completion.cost - (1000 * 2.5 + 200 * 10) / 1e6) < 1e-15, String(completion.cost));
  });

  test('without a price table the built-in prices are used; an unknown model costs 0', async () => {
    const known = await call('functions', [{ content: 'ok', usage: USAGE }], agentRequest(FUNCTIONS_CONVERSATION));
    assert.ok(known.completion.ok && known.completion.cost > 0);
    server.enqueue({ content: 'ok', usage: USAGE });
    const unknown = await backbone('functions', { model: 'my-local-llama' }).complete(agentRequest(FUNCTIONS_CONVERSATION));
    assert.ok(unknown.ok);
    assert.equal(unknown.cost, 0);
    assert.equal(unknown.usage.totalTokens, 1200);
  });

  test('a response without usage counts zero tokens', async () => {
    const withoutUsage = rewritingFetch((json) => {
      delete json.usage;
    });
    const { completion } = await call('functions', [{ content: 'ok' }], agentRequest(FUNCTIONS_CONVERSATION), { fetch: withoutUsage });
    assert.ok(completion.ok);
    assert.deepEqual(completion.usage, { promptTokens: 0, completionTokens: 0, totalTokens: 0 });
    assert.equal(completion.cost, 0);
  });

  test('a response without choices[0].message is a failed call', async () => {
    const withoutChoices = rewritingFetch((json) => {
      json.choices = [];
    });
    const { completion } = await call('functions', [{ content: 'ok' }], agentRequest(FUNCTIONS_CONVERSATION), { fetch: withoutChoices });
    assert.equal(completion.ok, false);
    assert.deepEqual(completion.usage, { promptTokens: 0, completionTokens: 0, totalTokens: 0 });
  });
});

describe('retries and failures', () => {
  test('a 429 with retry-after-ms is retried after that delay, not the default backoff', async () => {
    const started = performance.now();
    const { completion, bodies } = await call(
      'functions',
      [{ status: 429, headers: { 'retry-after-ms': '50' } }, { content: 'after the wait' }],
      agentRequest(FUNCTIONS_CONVERSATION),
    );
    const elapsed = performance.now() - started;
    assert.equal(messageOf(completion), '{"role":"assistant","content":"after the wait"}');
    assert.equal(bodies.length, 2);
    assert.deepEqual(bodies[1], bodies[0]);
    assert.ok(elapsed >= 50, `waited ${elapsed} ms`);
    assert.ok(elapsed < 350, `waited ${elapsed} ms: the default backoff (>= 375 ms) was used`);
  });

  test('a 500 is retried', async () => {
    const { completion, bodies } = await call(
      'functions',
      [{ status: 500, headers: { 'retry-after-ms': '10' } }, { status: 503, headers: { 'retry-after-ms': '10' } }, { content: 'third time' }],
      agentRequest(FUNCTIONS_CONVERSATION),
    );
    assert.equal(messageOf(completion), '{"role":"assistant","content":"third time"}');
    assert.equal(bodies.length, 3);
  });

  test('when the retries run out the call fails with the last error and no usage', async () => {
    const overloaded: FakeReply = { status: 500, headers: { 'retry-after-ms': '1' }, body: { error: { message: 'overloaded', type: 'server_error' } } };
    const { completion, bodies } = await call('functions', [overloaded, overloaded, overloaded], agentRequest(FUNCTIONS_CONVERSATION), { maxRetries: 2 });
    assert.equal(bodies.length, 3);
    assert.equal(completion.ok, false);
    assert.ok(!completion.ok);
    assert.match(completion.error, /overloaded/);
    assert.deepEqual(completion.usage, { promptTokens: 0, completionTokens: 0, totalTokens: 0 });
    assert.equal(completion.cost, 0);
  });

  test('a 400 (context too long) is not retried and fails the call', async () => {
    const tooLong: FakeReply = { status: 400, body: { error: { message: "This model's maximum context length is 16385 tokens", type: 'invalid_request_error' } } };
    const { completion, bodies } = await call('functions', [tooLong], agentRequest(FUNCTIONS_CONVERSATION));
    assert.equal(bodies.length, 1);
    assert.ok(!completion.ok);
    assert.match(completion.error, /maximum context length/);
  });

  for (const status of [401, 403, 404]) {
    test(`a ${status} is a configuration error that names the endpoint and model, never the key`, async () => {
      server.enqueue({ status, body: { error: { message: `Incorrect API key provided: ${API_KEY} and sk-abc***cdef`, type: 'invalid_request_error' } } });
      await assert.rejects(backbone('functions').complete(agentRequest(FUNCTIONS_CONVERSATION)), (error: unknown) => {
        assert.ok(error instanceof ToolbenchError);
        assert.equal(error.code, 'llm.config');
        assert.equal(error.exitCode, 1);
        assert.ok(error.message.includes(server.baseUrl), error.message);
        assert.ok(error.message.includes('gpt-4o-2024-08-06'), error.message);
        assert.ok(!error.message.includes(API_KEY), error.message);
        assert.ok(!error.message.includes('SECRET'), error.message);
        assert.ok(!error.message.includes('abc***cdef'), error.message);
        return true;
      });
      assert.equal(requestsOfThisTest().length, 1);
    });
  }

  test('a request that takes longer than the timeout fails the call', async () => {
    const { completion, bodies } = await call('functions', [{ content: 'late', delayMs: 2_000 }], agentRequest(FUNCTIONS_CONVERSATION), { timeoutMs: 100, maxRetries: 0 });
    assert.equal(bodies.length, 1);
    assert.ok(!completion.ok);
    assert.match(completion.error, /timed out/i);
  });

  test('a refused connection fails the call and says why', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const completion = await backbone('functions', { baseUrl: `http://127.0.0.1:${port}/v1`, maxRetries: 0 }).complete(agentRequest(FUNCTIONS_CONVERSATION));
    assert.ok(!completion.ok);
    assert.match(completion.error, /Connection error.*ECONNREFUSED/s);
  });
});

describe('abort', () => {
  test('an abort during the request rejects at once with the reason', async () => {
    server.enqueue({ content: 'late', delayMs: 5_000 });
    const controller = new AbortController();
    const reason = new Error('interrupted');
    setTimeout(() => controller.abort(reason), 50);
    const started = performance.now();
    await assert.rejects(backbone('functions').complete(agentRequest(FUNCTIONS_CONVERSATION, { signal: controller.signal })), (error) => error === reason);
    assert.ok(performance.now() - started < 2_000);
  });

  test('an abort while waiting to retry rejects at once with the reason', async () => {
    server.enqueue({ status: 429, headers: { 'retry-after-ms': '1500' } });
    const controller = new AbortController();
    const reason = new Error('interrupted');
    setTimeout(() => controller.abort(reason), 100);
    const started = performance.now();
    await assert.rejects(backbone('functions').complete(agentRequest(FUNCTIONS_CONVERSATION, { signal: controller.signal })), (error) => error === reason);
    assert.ok(performance.now() - started < 1_000, 'the retry wait (1.5 s) was not cut short');
    assert.equal(requestsOfThisTest().length, 1);
  });

  test('an already aborted signal sends nothing', async () => {
    const reason = new Error('before');
    await assert.rejects(
      backbone('functions').complete(agentRequest(FUNCTIONS_CONVERSATION, { signal: AbortSignal.abort(reason) })),
      (error) => error === reason,
    );
    assert.equal(requestsOfThisTest().length, 0);
  });
});

describe('rate limiter', () => {
  test('every HTTP attempt, retries included, goes through the limiter, and a 429 pauses it', async () => {
    const limiter = createRateLimiter({ concurrency: 1 });
    const pauses: number[] = [];
    const spy: RateLimiter = {
      schedule: (task, signal) => limiter.schedule(task, signal),
      pause: (ms) => {
        pauses.push(ms);
        limiter.pause(ms);
      },
      get stats() {
        return limiter.stats;
      },
    };
    let inFlight = 0;
    let maxInFlight = 0;
    const local = await startFakeOpenAI(async (_body, callIndex) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight--;
      return callIndex === 0 ? { status: 429, headers: { 'retry-after-ms': '30' } } : { content: `reply ${callIndex}` };
    });
    try {
      const model = createOpenAIBackbone({ baseUrl: local.baseUrl, apiKey: API_KEY, model: 'gpt-4o', shape: 'functions', limiter: spy });
      const results = await Promise.all([1, 2, 3].map(() => model.complete(agentRequest(FUNCTIONS_CONVERSATION))));
      assert.ok(results.every((result) => result.ok));
      assert.equal(local.requests.length, 4);
      assert.equal(limiter.stats.started, 4);
      assert.equal(maxInFlight, 1);
      assert.deepEqual(pauses, [30]);
    } finally {
      await local.close();
    }
  });
});

describe('describe', () => {
  test('records the model, endpoint and settings, never the key', () => {
    const described = backbone('tools', { maxTokens: 512 }).describe();
    assert.deepEqual(described, {
      backbone: 'openai',
      model: 'gpt-4o-2024-08-06',
      base_url: server.baseUrl,
      shape: 'tools',
      temperature: null,
      seed: null,
      max_tokens: 512,
    });
    assert.ok(!JSON.stringify(described).includes(API_KEY));
    const withSettings = backbone('functions', { temperature: 0.2, seed: 3, baseUrl: 'https://user:pw@example.com/v1' });
    assert.equal(withSettings.kind, 'openai');
    assert.equal(withSettings.shape, 'functions');
    assert.deepEqual(
      { temperature: withSettings.describe().temperature, seed: withSettings.describe().seed, base_url: withSettings.describe().base_url, max_tokens: withSettings.describe().max_tokens },
      { temperature: 0.2, seed: 3, base_url: 'https://example.com/v1', max_tokens: 1024 },
    );
  });
});

describe('credentials in the base URL', () => {
  const TOKEN = 'tok3n-PASSWORD-0123';
  const withCredentials = (): string => server.baseUrl.replace('http://', `http://alice:${TOKEN}@`);
  const leaks = (text: string): boolean => text.includes(TOKEN) || text.includes('alice') || text.includes(withCredentials());
  /** Node's fetch refuses URLs with credentials: this one drops them, so that the fake server answers. */
  const forward: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    url.username = '';
    url.password = '';
    return fetch(url, init);
  };

  test('never appear in describe()', () => {
    const described = backbone('tools', { baseUrl: withCredentials() }).describe();
    assert.equal(described.base_url, server.baseUrl);
    assert.ok(!leaks(JSON.stringify(described)));
  });

  test('never appear in the error of a failed call (Node refuses the URL and quotes it)', async () => {
    const completion = await backbone('tools', { baseUrl: withCredentials(), maxRetries: 0 }).complete(agentRequest(TOOLS_CONVERSATION));
    assert.ok(!completion.ok);
    assert.match(completion.error, /Connection error/);
    assert.ok(!leaks(completion.error), completion.error);
  });

  test('never appear in a configuration error, even when the server quotes them', async () => {
    server.enqueue({ status: 401, body: { error: { message: `no access for ${withCredentials()} (user alice, password ${TOKEN})` } } });
    await assert.rejects(backbone('tools', { baseUrl: withCredentials(), fetch: forward }).complete(agentRequest(TOOLS_CONVERSATION)), (error: unknown) => {
      assert.ok(error instanceof ToolbenchError && error.code === 'llm.config');
      assert.ok(error.message.includes(server.baseUrl), error.message);
      assert.ok(!leaks(error.message), error.message);
      return true;
    });
    assert.equal(requestsOfThisTest().length, 1);
  });

  test('never appear in a failed call, even when the server quotes them', async () => {
    server.enqueue({ status: 400, body: { error: { message: `bad request to ${withCredentials()} by alice:${TOKEN}` } } });
    const completion = await backbone('tools', { baseUrl: withCredentials(), fetch: forward }).complete(agentRequest(TOOLS_CONVERSATION));
    assert.ok(!completion.ok);
    assert.match(completion.error, /bad request to http:\/\/127\.0\.0\.1/);
    assert.ok(!leaks(completion.error), completion.error);
  });
});

/** A fetch that edits the JSON of each successful response (for replies the fake server cannot script). */
function rewritingFetch(edit: (json: any) => void): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!response.ok) return response;
    const json = await response.json();
    edit(json);
    return new Response(JSON.stringify(json), { status: response.status, headers: { 'content-type': 'application/json' } });
  };
}

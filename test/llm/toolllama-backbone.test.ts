import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { NO_USAGE, type ChatMessage, type CompletionRequest, type TokenUsage } from '../../src/llm/backbone.js';
import { createToolLlamaBackbone, type ToolLlamaBackboneOptions } from '../../src/llm/toolllama-backbone.js';
import { buildToolLlamaPrompt } from '../../src/llm/toolllama-prompt.js';
import {
  AGENT_SYSTEM_PROMPT,
  AGENT_USER_PROMPT,
  FINISH_FUNCTION,
  RANK_USER_PROMPT,
  TASK_DESCRIPTION_PREFIX,
  TOOLLLAMA_OVERFLOW_PREFIX,
} from '../../src/protocol/prompts.js';
import type { OpenAIFunction } from '../../src/registry/function-schema.js';
import type { LocalCompleter, LocalCompletion, LocalCompletionRequest } from '../../src/runner/local-completer.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply } from '../helpers/fake-openai.js';

const API_KEY = 'sk-test-SECRET-0123456789';
const MODEL = 'ToolBench/ToolLLaMA-2-7b-v2';

const FUNCTIONS: readonly OpenAIFunction[] = [
  {
    name: 'love_quote_for_olato_quotes',
    description: 'This is the subfunction for tool "olato_quotes", you can use this tool.',
    parameters: { type: 'object', properties: {}, required: [], optional: [] },
  },
  FINISH_FUNCTION,
];

const MESSAGES: readonly ChatMessage[] = [
  { role: 'system', content: AGENT_SYSTEM_PROMPT.replace('{task_description}', `${TASK_DESCRIPTION_PREFIX}1.olato_quotes: Quotes.\n`) },
  { role: 'user', content: AGENT_USER_PROMPT.replace('{input_description}', 'Give me a love quote.') },
];

const AGENT_REQUEST: CompletionRequest = { messages: MESSAGES, functions: FUNCTIONS, purpose: 'agent' };

const GENERATION = 'Thought: I need a love quote.\nAction: love_quote_for_olato_quotes\nAction Input: {}';
const USAGE = { prompt_tokens: 900, completion_tokens: 20, total_tokens: 920 };

let server: FakeOpenAI;
let replies: FakeReply[] = [];

beforeEach(async () => {
  replies = [];
  server = await startFakeOpenAI(() => replies.shift() ?? { status: 500, body: { error: { message: 'test: no reply left' } } });
});
afterEach(() => server.close());

function backbone(overrides: Partial<ToolLlamaBackboneOptions> = {}) {
  return createToolLlamaBackbone({ baseUrl: server.baseUrl, apiKey: API_KEY, model: MODEL, shape: 'functions', ...overrides });
}

test('the request is a completions call with the ToolLLaMA prompt and StableToolBench decoding', async () => {
  replies.push({ text: GENERATION, usage: USAGE });
  const result = await backbone().complete(AGENT_REQUEST);
  assert.equal(result.ok, true);
  assert.equal(server.requests.length, 1);
  const request = server.requests[0]!;
  assert.equal(request.path, '/v1/completions');
  assert.equal(request.headers.authorization, `Bearer ${API_KEY}`);
  assert.deepEqual(request.body, {
    model: MODEL,
    prompt: buildToolLlamaPrompt(MESSAGES, FUNCTIONS, { history: 'training' }),
    max_tokens: 1024,
    temperature: 0,
    stop: ['</s>'],
    echo: false,
    truncate_prompt_tokens: 7168,
  });
});

test('seed, temperature, max_tokens and truncate_prompt_tokens are sent as set', async () => {
  replies.push({ text: GENERATION, usage: USAGE });
  await backbone({ seed: 7, temperature: 0.5, maxTokens: 512, truncatePromptTokens: 4096 }).complete(AGENT_REQUEST);
  const body = server.requests[0]!.body;
  assert.equal(body.seed, 7);
  assert.equal(body.temperature, 0.5);
  assert.equal(body.max_tokens, 512);
  assert.equal(body.truncate_prompt_tokens, 4096);
});

test('truncatePromptTokens 0 sends no truncate_prompt_tokens; a negative or fractional one is refused', async () => {
  replies.push({ text: GENERATION, usage: USAGE });
  await backbone({ truncatePromptTokens: 0 }).complete(AGENT_REQUEST);
  assert.equal('truncate_prompt_tokens' in server.requests[0]!.body, false);
  assert.throws(() => backbone({ truncatePromptTokens: -1 }), RangeError);
  assert.throws(() => backbone({ truncatePromptTokens: 1.5 }), RangeError);
});

test('the configured history mode shapes the prompt', async () => {
  const messages: readonly ChatMessage[] = [
    ...MESSAGES,
    { role: 'assistant', content: 'I need a love quote.', function_call: { name: 'love_quote_for_olato_quotes', arguments: '{}' } },
    { role: 'function', name: 'love_quote_for_olato_quotes', content: '{"error": "", "response": "x"}' },
  ];
  replies.push({ text: GENERATION, usage: USAGE }, { text: GENERATION, usage: USAGE });
  await backbone().complete({ ...AGENT_REQUEST, messages });
  await backbone({ history: 'toolbench' }).complete({ ...AGENT_REQUEST, messages });
  assert.match(server.requests[0]!.body.prompt, /\nAssistant: \nThought: I need a love quote\.\nAction: love_quote_for_olato_quotes\nAction Input: \{\}\nFunction: /);
  assert.match(server.requests[1]!.body.prompt, /\nAssistant: I need a love quote\.\nFunction: /);
});

test('functions shape: the thought as content and one function_call (ToolBench)', async () => {
  replies.push({ text: GENERATION, usage: USAGE });
  const result = await backbone({ costOf: (usage) => usage.totalTokens / 1000 }).complete(AGENT_REQUEST);
  assert.ok(result.ok);
  assert.equal(
    JSON.stringify(result.message),
    JSON.stringify({
      role: 'assistant',
      content: 'I need a love quote.',
      function_call: { name: 'love_quote_for_olato_quotes', arguments: '{}' },
    }),
  );
  assert.deepEqual(result.usage, { promptTokens: 900, completionTokens: 20, totalTokens: 920 } satisfies TokenUsage);
  assert.equal(result.cost, 0.92);
});

test('tools shape: the raw text as content and one tool call with a derived 8-character id (StableToolBench vLLM)', async () => {
  replies.push({ text: GENERATION, usage: USAGE });
  const result = await backbone({ shape: 'tools', seed: 1 }).complete(AGENT_REQUEST);
  assert.ok(result.ok);
  const calls = result.message.tool_calls as readonly { id: string }[];
  const id = calls[0]!.id;
  assert.match(id, /^[A-Za-z0-9]{8}$/);
  assert.equal(
    JSON.stringify(result.message),
    JSON.stringify({
      role: 'assistant',
      content: GENERATION,
      tool_calls: [{ id, function: { name: 'love_quote_for_olato_quotes', arguments: '{}' }, type: 'function' }],
    }),
  );
});

test('the tool call id is reproducible: the same seed, prompt and text give the same id; another seed another', async () => {
  const ids: string[] = [];
  for (const seed of [1, 1, 2]) {
    replies.push({ text: GENERATION, usage: USAGE });
    const result = await backbone({ shape: 'tools', seed }).complete(AGENT_REQUEST);
    assert.ok(result.ok);
    ids.push((result.message.tool_calls as readonly { id: string }[])[0]!.id);
  }
  assert.equal(ids[0], ids[1]);
  assert.notEqual(ids[0], ids[2]);
});

test('the text is cut at the last </s> and stripped before it is parsed and stored', async () => {
  replies.push({ text: `\n ${GENERATION} \n</s> trailing`, usage: USAGE });
  const result = await backbone({ shape: 'tools' }).complete(AGENT_REQUEST);
  assert.ok(result.ok);
  assert.equal(result.message.content, GENERATION);
});

test('a completion reaching the context size becomes the overflow give-up (prompts.md §1.13)', async () => {
  const full = { prompt_tokens: 7168, completion_tokens: 1024, total_tokens: 8192 };
  replies.push({ text: GENERATION, usage: full }, { text: GENERATION, usage: full });
  const tools = await backbone({ shape: 'tools' }).complete(AGENT_REQUEST);
  const functions = await backbone().complete(AGENT_REQUEST);
  assert.ok(tools.ok && functions.ok);
  const finish = { name: 'Finish', arguments: '{"return_type": "give_up_and_restart"}' };
  assert.equal(
    JSON.stringify(tools.message),
    JSON.stringify({ role: 'assistant', content: TOOLLLAMA_OVERFLOW_PREFIX + GENERATION, tool_calls: [{ id: 0, function: finish, type: 'function' }] }),
  );
  assert.equal(
    JSON.stringify(functions.message),
    JSON.stringify({ role: 'assistant', content: TOOLLLAMA_OVERFLOW_PREFIX + GENERATION, function_call: finish }),
  );
  assert.equal(tools.usage.totalTokens, 8192);
});

test('one token under the context size is a normal reply; contextTokens moves the threshold', async () => {
  replies.push(
    { text: GENERATION, usage: { prompt_tokens: 7167, completion_tokens: 1024, total_tokens: 8191 } },
    { text: GENERATION, usage: USAGE },
  );
  const under = await backbone().complete(AGENT_REQUEST);
  const lowered = await backbone({ contextTokens: 920 }).complete(AGENT_REQUEST);
  assert.ok(under.ok && lowered.ok);
  assert.equal(under.message.content, 'I need a love quote.');
  assert.equal(lowered.message.content, TOOLLLAMA_OVERFLOW_PREFIX + GENERATION);
});

test('rank purpose: plain roles without the function-list rewrite, the reply as text', async () => {
  const messages: readonly ChatMessage[] = [
    { role: 'system', content: 'You are value-GPT, which is an expert of defining which trail is better.' },
    { role: 'user', content: RANK_USER_PROMPT },
  ];
  replies.push({ text: ' A</s>', usage: USAGE });
  const result = await backbone({ shape: 'tools' }).complete({ messages, functions: FUNCTIONS, purpose: 'rank' });
  assert.ok(result.ok);
  assert.equal(JSON.stringify(result.message), JSON.stringify({ role: 'assistant', content: 'A' }));
  assert.equal(
    server.requests[0]!.body.prompt,
    `System: You are value-GPT, which is an expert of defining which trail is better.\nUser: ${RANK_USER_PROMPT}\nAssistant:\n`,
  );
});

for (const status of [401, 403, 404]) {
  test(`HTTP ${status} throws llm.config naming the URL and model, never the key`, async () => {
    replies.push({ status, body: { error: { message: `Incorrect API key provided: ${API_KEY}`, type: 'invalid_request_error' } } });
    await assert.rejects(backbone().complete(AGENT_REQUEST), (error: unknown) => {
      assert.ok(error instanceof ToolbenchError);
      assert.equal(error.code, 'llm.config');
      assert.equal(error.exitCode, 1);
      assert.ok(error.message.includes(server.baseUrl));
      assert.ok(error.message.includes(MODEL));
      assert.ok(!error.message.includes(API_KEY));
      return true;
    });
    assert.equal(server.requests.length, 1, 'not retried');
  });
}

test('HTTP 500 is retried by the client, then the reply is used', async () => {
  replies.push({ status: 500, headers: { 'retry-after-ms': '1' } }, { text: GENERATION, usage: USAGE });
  const result = await backbone().complete(AGENT_REQUEST);
  assert.ok(result.ok);
  assert.equal(result.message.content, 'I need a love quote.');
  assert.equal(server.requests.length, 2);
});

test('failures after the retries are an ok:false value without usage, cost or key', async () => {
  const error = { status: 500, headers: { 'retry-after-ms': '1' }, body: { error: { message: `boom for ${API_KEY}` } } };
  replies.push(error, error, error);
  const result = await backbone({ maxRetries: 2, costOf: () => 1 }).complete(AGENT_REQUEST);
  assert.equal(result.ok, false);
  assert.ok(!result.ok);
  assert.deepEqual(result.usage, NO_USAGE);
  assert.equal(result.cost, 0);
  assert.ok(!result.error.includes(API_KEY));
  assert.ok(result.error.includes(server.baseUrl));
  assert.equal(server.requests.length, 3);
});

test('an abort rejects with the abort reason', async () => {
  replies.push({ delayMs: 10_000, text: GENERATION, usage: USAGE });
  const controller = new AbortController();
  const reason = new Error('stop now');
  const pending = backbone().complete({ ...AGENT_REQUEST, signal: controller.signal });
  while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort(reason);
  await assert.rejects(pending, (error: unknown) => error === reason);
});

test('an already aborted signal rejects without a request', async () => {
  const controller = new AbortController();
  controller.abort(new Error('early'));
  await assert.rejects(backbone().complete({ ...AGENT_REQUEST, signal: controller.signal }), /early/);
  assert.equal(server.requests.length, 0);
});

test('the limiter schedules every request', async () => {
  replies.push({ text: GENERATION, usage: USAGE });
  const signals: (AbortSignal | undefined)[] = [];
  const limiter = {
    schedule<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      signals.push(signal);
      return task();
    },
  };
  const controller = new AbortController();
  await backbone({ limiter }).complete({ ...AGENT_REQUEST, signal: controller.signal });
  assert.deepEqual(signals, [controller.signal]);
});

const URL_TOKEN = 'tok3n-PASSWORD-0123';

function withCredentials(): string {
  return server.baseUrl.replace('http://', `http://alice:${URL_TOKEN}@`);
}

function leaksCredentials(text: string): boolean {
  return text.includes(URL_TOKEN) || text.includes('alice') || text.includes(withCredentials());
}

/** Node's fetch refuses URLs with credentials: this one drops them, so that the fake server answers. */
const forward: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  url.username = '';
  url.password = '';
  return fetch(url, init);
};

test('credentials in the base URL never appear in describe()', () => {
  const described = backbone({ baseUrl: withCredentials() }).describe();
  assert.equal(described.base_url, server.baseUrl);
  assert.ok(!leaksCredentials(JSON.stringify(described)));
});

test('credentials in the base URL never appear in the error of a failed call', async () => {
  const refused = await backbone({ baseUrl: withCredentials(), maxRetries: 0 }).complete(AGENT_REQUEST);
  replies.push({ status: 400, body: { error: { message: `prompt too long for ${withCredentials()} (alice:${URL_TOKEN})` } } });
  const quoted = await backbone({ baseUrl: withCredentials(), fetch: forward }).complete(AGENT_REQUEST);
  replies.push({ text: GENERATION });
  const withoutChoices: typeof fetch = async (input, init) => {
    const response = await forward(input, init);
    return new Response(JSON.stringify({ choices: [] }), { status: response.status, headers: { 'content-type': 'application/json' } });
  };
  const noText = await backbone({ baseUrl: withCredentials(), fetch: withoutChoices }).complete(AGENT_REQUEST);
  for (const result of [refused, quoted, noText]) {
    assert.ok(!result.ok);
    assert.ok(result.error.includes(server.baseUrl), result.error);
    assert.ok(!leaksCredentials(result.error), result.error);
  }
  assert.match(quoted.ok ? '' : quoted.error, /prompt too long for http:\/\/127\.0\.0\.1/);
});

test('credentials in the base URL never appear in a configuration error, even when the server quotes them', async () => {
  replies.push({ status: 401, body: { error: { message: `no access for ${withCredentials()} (user alice, password ${URL_TOKEN})` } } });
  await assert.rejects(backbone({ baseUrl: withCredentials(), fetch: forward }).complete(AGENT_REQUEST), (error: unknown) => {
    assert.ok(error instanceof ToolbenchError && error.code === 'llm.config');
    assert.ok(error.message.includes(server.baseUrl), error.message);
    assert.ok(!leaksCredentials(error.message), error.message);
    return true;
  });
});

test('describe() records the settings, never the key', () => {
  const described = backbone({ shape: 'tools', history: 'stabletoolbench' }).describe();
  assert.deepEqual(described, {
    backbone: 'toolllama',
    model: MODEL,
    base_url: server.baseUrl,
    shape: 'tools',
    history: 'stabletoolbench',
    temperature: 0,
    seed: null,
    max_tokens: 1024,
  });
  assert.equal(backbone({ seed: 3 }).describe().seed, 3);
  assert.equal(backbone().describe().history, 'training');
  assert.equal(backbone().kind, 'toolllama');
  assert.ok(!JSON.stringify(described).includes(API_KEY));
});

// ---------------------------------------------------------------- in-process (a scripted LocalCompleter)

/** A LocalCompleter double: answers from its script (throws once it is used up) and records the requests. */
function scriptedCompleter(script: Omit<LocalCompletion, 'contextTokens'>[], contextTokens: number): LocalCompleter & { readonly requests: LocalCompletionRequest[] } {
  const requests: LocalCompletionRequest[] = [];
  return {
    modelPath: '/models/tiny.gguf',
    requests,
    async complete(_prompt, request) {
      requests.push(request);
      const next = script.shift();
      if (next === undefined) throw new Error('scripted completer: no completion left');
      return { ...next, contextTokens };
    },
    async close() {},
  };
}

test('in-process: the overflow give-up happens at the model\'s own context, not at the 8192 of a server', async () => {
  // a 2048-token model: its context fills at 2048 tokens, long before 8192
  const local = scriptedCompleter(
    [
      { text: GENERATION, promptTokens: 2000, completionTokens: 47 },
      { text: GENERATION, promptTokens: 2000, completionTokens: 48 },
    ],
    2048,
  );
  const model = createToolLlamaBackbone({ local, model: 'tiny', shape: 'functions' });
  const under = await model.complete(AGENT_REQUEST);
  const full = await model.complete(AGENT_REQUEST);
  assert.ok(under.ok && full.ok);
  assert.equal(under.message.content, 'I need a love quote.');
  assert.deepEqual(full.message, { role: 'assistant', content: TOOLLLAMA_OVERFLOW_PREFIX + GENERATION, function_call: { name: 'Finish', arguments: '{"return_type": "give_up_and_restart"}' } });
  assert.deepEqual(full.usage, { promptTokens: 2000, completionTokens: 48, totalTokens: 2048 });
  // and a model with a context past 8192 does not give up at 8192
  const long = createToolLlamaBackbone({ local: scriptedCompleter([{ text: GENERATION, promptTokens: 7168, completionTokens: 1024 }], 32768), model: 'long', shape: 'functions' });
  const result = await long.complete(AGENT_REQUEST);
  assert.ok(result.ok);
  assert.equal(result.message.content, 'I need a love quote.');
});

test('in-process: contextTokens, when given, overrides the model\'s context; the decoding settings reach the completer', async () => {
  const local = scriptedCompleter([{ text: GENERATION, promptTokens: 900, completionTokens: 20 }], 8192);
  const result = await createToolLlamaBackbone({ local, model: 'tiny', shape: 'functions', contextTokens: 920, maxTokens: 20, seed: 5 }).complete(AGENT_REQUEST);
  assert.ok(result.ok);
  assert.equal(result.message.content, TOOLLLAMA_OVERFLOW_PREFIX + GENERATION);
  assert.deepEqual(local.requests, [{ maxTokens: 20, temperature: 0, seed: 5, stop: ['</s>'], truncatePromptTokens: 7168 }]);
});

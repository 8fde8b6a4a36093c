/**
 * The search engine end to end over HTTP: `runSearch` drives the two real backbones
 * (`openai` in both message shapes, `toolllama` on the completions endpoint in both shapes)
 * against the loopback fake OpenAI server, scripted per test, with a small in-memory tool
 * environment. The checks read what the server received (request bodies, prompts) and the
 * answer file the engine built (algorithms.md §6, §8–§11; formats.md §3).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiRef, ToolCallResult, ToolEnv } from '../../src/env/tool-call.js';
import type { Backbone, ChatMessage, MessageShape } from '../../src/llm/backbone.js';
import { createOpenAIBackbone } from '../../src/llm/openai-backbone.js';
import { createPriceTable } from '../../src/llm/prices.js';
import { createToolLlamaBackbone } from '../../src/llm/toolllama-backbone.js';
import { buildToolLlamaPrompt } from '../../src/llm/toolllama-prompt.js';
import {
  DIVERSITY_FORMER_OBSERVATION,
  DIVERSITY_PROMPT,
  FINISH_OBSERVATION,
  HALLUCINATED_FUNCTION_NAME,
  RANK_USER_PROMPT,
  TOOLLLAMA_OVERFLOW_PREFIX,
} from '../../src/protocol/prompts.js';
import { toToolsShape } from '../../src/registry/function-schema.js';
import { parseMethod } from '../../src/search/method.js';
import { initialMessages, runSearch } from '../../src/search/run-search.js';
import type { SearchEvent, SearchResult, SearchTask } from '../../src/search/types.js';
import { ToolbenchError } from '../../src/util/errors.js';
import type { PyObject, PyValue } from '../../src/util/py-value.js';
import { startFakeOpenAI, type FakeReply, type RecordedRequest } from '../helpers/fake-openai.js';
import { answerArgs, asArray, asObject, fn, giveUpArgs, makeTask, nodeAt, observationFor, outline, QUERY, TOOL } from './scripted.js';

// ---------------------------------------------------------------------------------------------
// The four backbone/shape pairs

const API_KEY = 'sk-test-over-http-0123456789';
const MODEL = 'fake-agent-model';
const USAGE = { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 };
const NO_PRICES = createPriceTable([]);

interface BackboneSettings {
  readonly maxRetries: number;
  readonly contextTokens?: number;
}

interface Variant {
  readonly label: string;
  readonly kind: 'openai' | 'toolllama';
  readonly shape: MessageShape;
  /** The route the backbone posts to. */
  readonly path: string;
  /** A reply that says `thought` and calls `name` with `args` (null thought: openai content null). */
  act(thought: string | null, name: string, args: string): FakeReply;
  /** A reply of text only (ranking answers). */
  text(content: string): FakeReply;
  /** What the engine stores as the Thought node's description for `act(thought, name, args)`. */
  thoughtNode(thought: string, name: string, args: string): string;
  create(baseUrl: string, settings: BackboneSettings): Backbone;
}

/** ToolLLaMA's generation text (react format, algorithms.md §6.6). */
function reactText(thought: string, name: string, args: string): string {
  return `Thought: ${thought}\nAction: ${name}\nAction Input: ${args}`;
}

function openaiVariant(shape: MessageShape): Variant {
  return {
    label: `openai backbone, ${shape} shape`,
    kind: 'openai',
    shape,
    path: '/v1/chat/completions',
    act: (thought, name, args) =>
      shape === 'functions'
        ? { content: thought, function_call: { name, arguments: args }, usage: USAGE }
        : // no id: the fake server names it call_fake_<request number>_0
          { content: thought, tool_calls: [{ function: { name, arguments: args } }], usage: USAGE },
    text: (content) => ({ content, usage: USAGE }),
    thoughtNode: (thought) => thought,
    create: (baseUrl, settings) =>
      createOpenAIBackbone({ baseUrl, apiKey: API_KEY, model: MODEL, shape, maxRetries: settings.maxRetries, prices: NO_PRICES }),
  };
}

function toolLlamaVariant(shape: MessageShape): Variant {
  return {
    label: `toolllama backbone, ${shape} shape`,
    kind: 'toolllama',
    shape,
    path: '/v1/completions',
    act: (thought, name, args) => ({ text: reactText(thought ?? '', name, args), usage: USAGE }),
    text: (content) => ({ text: content, usage: USAGE }),
    // functions: the thought is the content; tools: the whole generation is
    thoughtNode: (thought, name, args) => (shape === 'functions' ? thought : reactText(thought, name, args)),
    create: (baseUrl, settings) =>
      createToolLlamaBackbone({
        baseUrl,
        apiKey: API_KEY,
        model: MODEL,
        shape,
        maxRetries: settings.maxRetries,
        ...(settings.contextTokens !== undefined ? { contextTokens: settings.contextTokens } : {}),
      }),
  };
}

const VARIANTS: readonly Variant[] = [openaiVariant('functions'), openaiVariant('tools'), toolLlamaVariant('functions'), toolLlamaVariant('tools')];

// ---------------------------------------------------------------------------------------------
// Environment and runner

interface EnvCall {
  readonly api: ApiRef;
  readonly args: string;
}

/** Answers every API with `{"error": "", "response": "<api>#<n>"}` (n counts calls to that API). */
function memoryEnv(): ToolEnv & { readonly calls: EnvCall[] } {
  const calls: EnvCall[] = [];
  const counts = new Map<string, number>();
  return {
    calls,
    call: async (api: ApiRef, args: string): Promise<ToolCallResult> => {
      calls.push({ api, args });
      const n = (counts.get(api.api) ?? 0) + 1;
      counts.set(api.api, n);
      return { observation: observationFor(api.api, n), status: 0, source: 'local' };
    },
    close: async () => {},
  };
}

interface RunSettings {
  readonly method?: string;
  readonly maxQueryCount?: number;
  readonly maxRetries?: number;
  readonly contextTokens?: number;
  readonly signal?: AbortSignal;
  /** Told of each request as it arrives (0-based), before its reply is taken. */
  readonly onRequest?: (callIndex: number) => void;
}

interface HttpRun {
  readonly result: SearchResult;
  readonly answer: PyObject;
  readonly generation: PyObject;
  readonly requests: readonly RecordedRequest[];
  readonly env: ReturnType<typeof memoryEnv>;
  readonly events: SearchEvent[];
  readonly task: SearchTask;
  /** Scripted replies never asked for. */
  readonly unused: number;
}

const NO_REPLY_LEFT: FakeReply = { status: 400, body: { error: { message: 'test: no scripted reply left', type: 'test' } } };

async function searchOverHttp(variant: Variant, replies: readonly FakeReply[], settings: RunSettings = {}): Promise<HttpRun> {
  const queue = [...replies];
  const server = await startFakeOpenAI((_body, callIndex) => {
    settings.onRequest?.(callIndex);
    return queue.shift() ?? NO_REPLY_LEFT;
  });
  try {
    const env = memoryEnv();
    const task = makeTask();
    const events: SearchEvent[] = [];
    const result = await runSearch(task, {
      method: parseMethod(settings.method ?? 'DFS_woFilter_w2'),
      backbone: variant.create(server.baseUrl, { maxRetries: settings.maxRetries ?? 0, contextTokens: settings.contextTokens }),
      env,
      maxDepth: 12,
      maxQueryCount: settings.maxQueryCount ?? 200,
      seed: 0,
      onEvent: (event) => events.push(event),
      ...(settings.signal !== undefined ? { signal: settings.signal } : {}),
    });
    const answer = result.answer;
    const generation = asObject(answer.answer_generation, 'answer_generation');
    return { result, answer, generation, requests: [...server.requests], env, events, task, unused: queue.length };
  } finally {
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Expected messages and prompts

const OBS = (api: string, n = 1): string => observationFor(api, n);
const ALPHA: ApiRef = { category: 'Testing', tool: TOOL, api: 'alpha' };
const BETA: ApiRef = { category: 'Testing', tool: TOOL, api: 'beta' };
const GIVE_UP = giveUpArgs();

function messagesSent(request: RecordedRequest | undefined): ChatMessage[] {
  assert.ok(request !== undefined, 'the request was made');
  assert.ok(Array.isArray(request.body?.messages), 'a chat request has messages');
  return request.body.messages as ChatMessage[];
}

function promptSent(request: RecordedRequest | undefined): string {
  assert.ok(request !== undefined, 'the request was made');
  assert.equal(typeof request.body?.prompt, 'string', 'a completions request has a prompt');
  return request.body.prompt as string;
}

/** The prompt of the first call (the root conversation), without its closing `Assistant:\n`. */
function promptHead(task: SearchTask): string {
  const prompt = buildToolLlamaPrompt(initialMessages(task), task.functions, { history: 'training' });
  assert.ok(prompt.endsWith('Assistant:\n'));
  return prompt.slice(0, -'Assistant:\n'.length);
}

/** One earlier step as the training history renders it, with its observation. */
function renderedStep(thought: string, name: string, args: string, observation: string): string {
  return `Assistant: \nThought: ${thought}\nAction: ${name}\nAction Input: ${args}\nFunction: ${observation}\n`;
}

/** The diversity prompt (prompts.md §1.7) listing the given earlier first calls. */
function diversity(previous: readonly { name: string; args: string; output: string }[], formerObservation = ''): string {
  const entries = previous.map(
    ({ name, args, output }) =>
      `  {\n    "name": ${JSON.stringify(name)},\n    "arguments": ${JSON.stringify(args)},\n    "function_output": ${JSON.stringify(output)},\n    "mento-carlo-action-value": 0.0\n  }`,
  );
  let candidate = `[\n${entries.join(',\n')}\n]\n`;
  if (formerObservation !== '') candidate += `${DIVERSITY_FORMER_OBSERVATION}${formerObservation}\n`;
  return DIVERSITY_PROMPT.replace('{previous_candidate}', () => candidate);
}

/**
 * Checks a stored (or sent) assistant message that calls one function, and returns the call id
 * (tools shape). `id`: the id the openai backbone must keep; toolllama derives one.
 */
function assertCallMessage(variant: Variant, message: PyValue | undefined, thought: string | null, name: string, args: string, id?: string): string | undefined {
  const actual = asObject(message, 'assistant message');
  if (variant.shape === 'functions') {
    assert.deepEqual(actual, { role: 'assistant', content: thought, function_call: { name, arguments: args } });
    assert.deepEqual(Object.keys(actual), ['role', 'content', 'function_call']);
    return undefined;
  }
  const toolCalls = asArray(actual.tool_calls, 'tool_calls');
  assert.equal(toolCalls.length, 1);
  const callId = asObject(toolCalls[0]).id;
  assert.equal(typeof callId, 'string');
  if (variant.kind === 'openai') {
    if (id !== undefined) assert.equal(callId, id);
    const expected: Record<string, PyValue> = { role: 'assistant' };
    if (thought !== null) expected.content = thought;
    expected.tool_calls = [{ id: callId as string, type: 'function', function: { name, arguments: args } }];
    assert.deepEqual(actual, expected);
  } else {
    assert.match(callId as string, /^[A-Za-z0-9]{8}$/, 'toolllama derives an 8-character id');
    assert.deepEqual(actual, {
      role: 'assistant',
      content: reactText(thought ?? '', name, args),
      tool_calls: [{ id: callId as string, function: { name, arguments: args }, type: 'function' }],
    });
    assert.deepEqual(Object.keys(asObject(toolCalls[0])), ['id', 'function', 'type'], 'upstream key order');
  }
  return callId as string;
}

/** The result message that follows a call: `role: function`, or `role: tool` with the call's id. */
function resultMessage(variant: Variant, name: string, content: string, callId: string | undefined): ChatMessage {
  if (variant.shape === 'functions') return { role: 'function', name, content };
  assert.ok(callId !== undefined, 'a tools-shape call has an id');
  return { role: 'tool', name, content, tool_call_id: callId };
}

/** The conversations of `train_messages`. */
function conversations(generation: PyObject): PyObject[][] {
  return asArray(generation.train_messages, 'train_messages').map((conversation) => asArray(conversation).map((message) => asObject(message)));
}

function roles(conversation: readonly PyObject[]): string[] {
  return conversation.map((message) => `${String(message.role)}${message.valid === false ? '(invalid)' : ''}`);
}

function resultRole(variant: Variant): string {
  return variant.shape === 'functions' ? 'function' : 'tool';
}

function systemAndUser(task: SearchTask): ChatMessage[] {
  return initialMessages(task);
}

function lastOf<T>(items: readonly T[]): T {
  assert.ok(items.length > 0);
  return items[items.length - 1] as T;
}

// ---------------------------------------------------------------------------------------------
// Tests

for (const variant of VARIANTS) {
  describe(`search over HTTP: ${variant.label}`, () => {
    test('an answer at the first call: the request, the tree and the answer file', async () => {
      const run = await searchOverHttp(variant, [variant.act('I know it.', 'Finish', answerArgs('42'))]);
      const { result, answer, generation, requests, task } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 1);
      const request = requests[0] as RecordedRequest;
      assert.equal(request.path, variant.path);
      assert.equal(request.headers.authorization, `Bearer ${API_KEY}`);
      assert.equal(request.body.model, MODEL);
      if (variant.kind === 'openai') {
        assert.deepEqual(messagesSent(request), systemAndUser(task));
        if (variant.shape === 'functions') {
          assert.deepEqual(request.body.functions, task.functions);
          assert.equal('tools' in request.body, false);
        } else {
          assert.deepEqual(request.body.tools, toToolsShape(task.functions));
          assert.equal('functions' in request.body, false);
        }
        assert.equal('function_call' in request.body || 'tool_choice' in request.body, false, 'an agent call leaves the choice to the model');
      } else {
        const prompt = promptSent(request);
        assert.equal(prompt, `${promptHead(task)}Assistant:\n`);
        assert.ok(prompt.startsWith('System: You are AutoGPT, you can use many tools(functions)'));
        assert.ok(prompt.includes('Your output should follow this format:\nThought:\nAction\nAction Input:\n'));
        assert.ok(prompt.includes(`Specifically, you have access to the following APIs: [{'name': '${fn('alpha')}'`));
        assert.ok(prompt.endsWith(`User: \n${QUERY}\nBegin!\n\nAssistant:\n`));
        assert.deepEqual(request.body.stop, ['</s>']);
      }

      assert.equal(result.win, true);
      assert.equal(result.finishType, 'give_answer');
      assert.equal(result.queryCount, 1);
      assert.equal(result.totalTokens, USAGE.total_tokens);
      assert.equal(result.stoppedBy, undefined);
      assert.equal(answer.win, true);
      assert.equal(generation.valid_data, true);
      assert.equal(generation.finish_type, 'give_answer');
      assert.equal(generation.final_answer, answerArgs('42'));
      assert.equal(generation.query_count, 1);
      assert.equal(generation.total_tokens, USAGE.total_tokens);
      assert.equal(generation.query, QUERY);
      assert.deepEqual(generation.function, variant.shape === 'tools' ? toToolsShape(task.functions) : task.functions);
      assert.deepEqual(outline(answer), [
        '0 Action Input  e0 finished',
        `1 Thought ${variant.thoughtNode('I know it.', 'Finish', answerArgs('42'))} e0 finished`,
        '2 Action Finish e0 finished',
        `3 Action Input ${answerArgs('42')} e1 finished code=3`,
      ]);
      assert.equal(nodeAt(answer, [0, 0, 0]).observation, FINISH_OBSERVATION.finalAnswer);
      const toolbench = asObject(answer.toolbench);
      assert.equal(asObject(toolbench.backbone).backbone, variant.kind);
      assert.equal(asObject(toolbench.backbone).shape, variant.shape);
      assert.ok(!JSON.stringify(answer).includes(API_KEY), 'the key is never recorded');

      const [conversation, ...more] = conversations(generation);
      assert.deepEqual(more, []);
      assert.ok(conversation !== undefined);
      assert.deepEqual(roles(conversation), ['system', 'user', 'assistant']);
      assert.deepEqual(conversation.slice(0, 2), systemAndUser(task));
      assertCallMessage(variant, conversation[2], 'I know it.', 'Finish', answerArgs('42'), 'call_fake_1_0');
    });

    test('a tool call, then the answer: the second request carries the call and its result', async () => {
      const run = await searchOverHttp(variant, [
        variant.act('I call alpha.', fn('alpha'), '{"q": 1}'),
        variant.act('Done.', 'Finish', answerArgs('alpha#1')),
      ]);
      const { generation, requests, task, env, events } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 2);
      assert.deepEqual(env.calls, [{ api: ALPHA, args: '{"q": 1}' }]);
      const tool = events.find((event) => event.type === 'tool');
      assert.ok(tool?.type === 'tool');
      assert.deepEqual([tool.name, tool.arguments, tool.observation, tool.status, tool.source], [fn('alpha'), '{"q": 1}', OBS('alpha'), 0, 'local']);

      const [final] = conversations(generation).slice(-1);
      assert.ok(final !== undefined);
      assert.equal(conversations(generation).length, 2, 'one conversation per reply on the path');
      assert.deepEqual(roles(final), ['system', 'user', 'assistant', resultRole(variant), 'assistant']);
      const callId = assertCallMessage(variant, final[2], 'I call alpha.', fn('alpha'), '{"q": 1}', 'call_fake_1_0');
      assert.deepEqual(final[3], resultMessage(variant, fn('alpha'), OBS('alpha'), callId));
      const finishId = assertCallMessage(variant, final[4], 'Done.', 'Finish', answerArgs('alpha#1'), 'call_fake_2_0');
      if (variant.shape === 'tools') assert.notEqual(finishId, callId, 'each call has its own id');

      if (variant.kind === 'openai') {
        const sent = messagesSent(requests[1]);
        assert.deepEqual(sent.slice(0, 2), systemAndUser(task));
        assert.equal(sent.length, 4);
        assertCallMessage(variant, sent[2], 'I call alpha.', fn('alpha'), '{"q": 1}', callId);
        assert.deepEqual(sent[3], resultMessage(variant, fn('alpha'), OBS('alpha'), callId));
      } else {
        assert.equal(
          promptSent(requests[1]),
          `${promptHead(task)}${renderedStep('I call alpha.', fn('alpha'), '{"q": 1}', OBS('alpha'))}Assistant:\n`,
          'the earlier turn rendered as Thought/Action/Action Input, then `Function: <observation>`',
        );
      }
      assert.equal(generation.query_count, 2);
      assert.equal(generation.total_tokens, 2 * USAGE.total_tokens);
    });

    test('CoT@1: one chain through the same backbone', async () => {
      const run = await searchOverHttp(variant, [variant.act('Alpha first.', fn('alpha'), '{}'), variant.act('Done.', 'Finish', answerArgs('ok'))], {
        method: 'CoT@1',
      });
      const { answer, generation, result } = run;
      assert.equal(run.unused, 0);
      assert.equal(result.win, true);
      assert.equal(result.finishType, 'give_answer');
      assert.equal(answer.try_count, 1);
      assert.equal(generation.valid_data, true);
      assert.equal(generation.query_count, 2);
      assert.equal(generation.final_answer, answerArgs('ok'));
      assert.deepEqual(roles(lastOf(conversations(generation))), ['system', 'user', 'assistant', resultRole(variant), 'assistant']);
    });

    test('give-ups and backtracking: each later expansion carries its diversity prompt', async () => {
      // root: alpha -> give up; root again (diversity D1): beta -> gamma -> give up;
      // beta again (diversity D2, with beta's observation): Finish.
      const run = await searchOverHttp(variant, [
        variant.act('Try alpha.', fn('alpha'), '{"q": 1}'),
        variant.act('Alpha failed.', 'Finish', GIVE_UP),
        variant.act('Try beta.', fn('beta'), '{"q": 2}'),
        variant.act('Then gamma.', fn('gamma'), '{"q": 3}'),
        variant.act('Gamma failed.', 'Finish', GIVE_UP),
        variant.act('Answer from beta.', 'Finish', answerArgs('beta#1')),
      ]);
      const { answer, generation, requests, task, env, result } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 6);
      assert.deepEqual(
        env.calls.map((entry) => [entry.api.api, entry.args]),
        [
          ['alpha', '{"q": 1}'],
          ['beta', '{"q": 2}'],
          ['gamma', '{"q": 3}'],
        ],
      );
      const d1 = diversity([{ name: fn('alpha'), args: '{"q": 1}', output: OBS('alpha') }]);
      const d2 = diversity([{ name: fn('gamma'), args: '{"q": 3}', output: OBS('gamma') }], OBS('beta'));
      const head = promptHead(task);
      const betaStep = renderedStep('Try beta.', fn('beta'), '{"q": 2}', OBS('beta'));

      if (variant.kind === 'openai') {
        // call 3 (from the root): D1 is sent, valid at the time of the call
        assert.deepEqual(messagesSent(requests[2]), [...systemAndUser(task), { role: 'user', content: d1 }]);
        // call 4 (below beta): D1 is now marked invalid and left out
        const fourth = messagesSent(requests[3]);
        assert.deepEqual(roles(fourth as PyObject[]), ['system', 'user', 'assistant', resultRole(variant)]);
        const betaId = assertCallMessage(variant, fourth[2], 'Try beta.', fn('beta'), '{"q": 2}', 'call_fake_3_0');
        assert.deepEqual(fourth[3], resultMessage(variant, fn('beta'), OBS('beta'), betaId));
        // call 6 (beta's second expansion): D2 is sent, D1 still is not
        const sixth = messagesSent(requests[5]);
        assert.deepEqual(sixth, [...fourth, { role: 'user', content: d2 }]);
        for (const body of requests.map((request) => request.rawBody)) assert.ok(!body.includes('"valid"'), 'the marker is never sent');
      } else {
        // every diversity prompt stays in the prompt text (quirk 13)
        assert.equal(promptSent(requests[2]), `${head}User: ${d1}\nAssistant:\n`);
        assert.equal(promptSent(requests[3]), `${head}User: ${d1}\n${betaStep}Assistant:\n`);
        assert.equal(promptSent(requests[5]), `${head}User: ${d1}\n${betaStep}User: ${d2}\nAssistant:\n`);
      }

      assert.equal(result.win, true);
      assert.equal(result.finishType, 'give_answer');
      assert.equal(generation.finish_type, 'give_answer');
      assert.equal(generation.query_count, 6);
      assert.equal(generation.total_tokens, 6 * USAGE.total_tokens);
      assert.equal(generation.final_answer, answerArgs('beta#1'));
      assert.equal(asObject(answer.toolbench).give_up_choice, undefined);
      const lines = outline(answer).map((line) => line.replace(/^(\d+ Thought) [\s\S]*? (e\d+)/, '$1 $2'));
      assert.deepEqual(lines, [
        '0 Action Input  e0 finished',
        '1 Thought e0',
        `2 Action ${fn('alpha')} e0`,
        '3 Action Input {"q": 1} e1 code=0',
        '4 Thought e0',
        '5 Action Finish e0',
        `6 Action Input ${GIVE_UP} e2 pruned code=4`,
        '1 Thought e0 finished',
        `2 Action ${fn('beta')} e0 finished`,
        '3 Action Input {"q": 2} e3 finished code=0',
        '4 Thought e0',
        `5 Action ${fn('gamma')} e0`,
        '6 Action Input {"q": 3} e4 code=0',
        '7 Thought e0',
        '8 Action Finish e0',
        `9 Action Input ${GIVE_UP} e5 pruned code=4`,
        '4 Thought e0 finished',
        '5 Action Finish e0 finished',
        `6 Action Input ${answerArgs('beta#1')} e6 finished code=3`,
      ]);
      assert.equal(nodeAt(answer, [0, 0, 0, 0, 0, 0]).observation, FINISH_OBSERVATION.giveUp);

      // train_messages keep only the latest invalid message: D2, not D1
      const final = lastOf(conversations(generation));
      assert.deepEqual(roles(final), ['system', 'user', 'assistant', resultRole(variant), 'user(invalid)', 'assistant']);
      assert.deepEqual(final[4], { role: 'user', content: d2, valid: false });
      assertCallMessage(variant, final[5], 'Answer from beta.', 'Finish', answerArgs('beta#1'), 'call_fake_6_0');
    });

    test('a give-up alone is reported as finish_type give_up', async () => {
      const run = await searchOverHttp(variant, [variant.act('I cannot.', 'Finish', GIVE_UP)], { method: 'DFS_woFilter_w1' });
      const { result, answer, generation } = run;
      assert.equal(run.unused, 0);
      assert.equal(result.win, false);
      assert.equal(result.finishType, 'give_up');
      assert.equal(answer.win, false);
      assert.equal(generation.valid_data, true);
      assert.equal(generation.finish_type, 'give_up');
      assert.equal(generation.final_answer, GIVE_UP);
      assert.deepEqual(asObject(answer.toolbench).give_up_choice, { candidates: 1, chosen: 0, by: 'seed' });
      assert.deepEqual(asArray(answer.compare_candidates), []);
      const [conversation] = conversations(generation);
      assert.ok(conversation !== undefined);
      assert.deepEqual(roles(conversation), ['system', 'user', 'assistant']);
      assertCallMessage(variant, conversation[2], 'I cannot.', 'Finish', GIVE_UP, 'call_fake_1_0');
    });

    test('the LLM-call budget (maxQueryCount) stops the search before the last reply is used', async () => {
      const run = await searchOverHttp(variant, [variant.act('Alpha.', fn('alpha'), '{}'), variant.act('Beta.', fn('beta'), '{}')], { maxQueryCount: 2 });
      const { result, answer, generation, requests, env } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 2, 'no call after the budget is spent');
      assert.deepEqual(
        env.calls.map((entry) => entry.api.api),
        ['alpha'],
        'the reply of the call that spent the budget is not run',
      );
      assert.equal(result.stoppedBy, 'max-query-count');
      assert.equal(result.win, false);
      assert.equal(result.finishType, 'none');
      assert.equal(result.queryCount, 2);
      assert.equal(generation.valid_data, false);
      assert.equal(generation.finish_type, 'give_answer', 'upstream writes give_answer when nothing was chosen');
      assert.equal(generation.final_answer, '');
      assert.equal(generation.query_count, 2);
      assert.equal('train_messages' in generation, false);
      assert.equal(asObject(answer.toolbench).stopped_by, 'max-query-count');
      assert.equal(asObject(answer.forward_args).max_query_count, 2);
      assert.equal(asObject(answer.tree).size, 4, 'root, Thought, Action, Action Input');
    });

    test('Finish arguments that are not JSON: missing return_type, then the substring fallback', async () => {
      const truncated = '{"return_type": "give_answer", "final_answer": "42';
      const run = await searchOverHttp(variant, [
        variant.act('Finish now.', 'Finish', '{return_type: give_answer}'),
        variant.act('Again.', 'Finish', truncated),
      ]);
      const { answer, generation, requests, task } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 2);
      assert.equal(nodeAt(answer, [0, 0, 0]).observation_code, 2);
      assert.equal(nodeAt(answer, [0, 0, 0]).observation, FINISH_OBSERVATION.missingReturnType);
      assert.equal(nodeAt(answer, [0, 0, 0, 0, 0, 0]).observation_code, 3);
      assert.equal(answer.win, true);
      assert.equal(generation.final_answer, truncated, 'the raw arguments text');
      if (variant.kind === 'openai') {
        const sent = messagesSent(requests[1]);
        const callId = assertCallMessage(variant, sent[2], 'Finish now.', 'Finish', '{return_type: give_answer}', 'call_fake_1_0');
        assert.deepEqual(sent[3], resultMessage(variant, 'Finish', FINISH_OBSERVATION.missingReturnType, callId));
      } else {
        assert.equal(
          promptSent(requests[1]),
          `${promptHead(task)}${renderedStep('Finish now.', 'Finish', '{return_type: give_answer}', FINISH_OBSERVATION.missingReturnType)}Assistant:\n`,
        );
      }
    });

    test('function names: a suffix reaches the full name, an unknown one is renamed in the stored messages', async () => {
      const unknown = '{"error": "No such function name: no_such_tool", "response": ""}';
      const run = await searchOverHttp(variant, [
        variant.act('Alpha by suffix.', 'pha_for_test_tool', '{}'),
        variant.act('Made up.', 'no_such_tool', '{"x": 1}'),
        variant.act('Done.', 'Finish', answerArgs('x')),
      ]);
      const { answer, generation, requests, task, env } = run;
      assert.equal(run.unused, 0);
      assert.deepEqual(env.calls, [{ api: ALPHA, args: '{}' }]);
      assert.equal(nodeAt(answer, [0, 0]).description, 'pha_for_test_tool', 'the Action node keeps the name as written');
      assert.equal(nodeAt(answer, [0, 0, 0]).observation_code, 0);
      assert.equal(nodeAt(answer, [0, 0, 0, 0, 0]).description, 'no_such_tool');
      assert.equal(nodeAt(answer, [0, 0, 0, 0, 0, 0]).observation_code, 1);
      assert.equal(nodeAt(answer, [0, 0, 0, 0, 0, 0]).observation, unknown);
      assert.equal(answer.win, true);

      const final = lastOf(conversations(generation));
      assert.deepEqual(roles(final), ['system', 'user', 'assistant', resultRole(variant), 'assistant', resultRole(variant), 'assistant']);
      const firstId = assertCallMessage(variant, final[2], 'Alpha by suffix.', 'pha_for_test_tool', '{}', 'call_fake_1_0');
      assert.deepEqual(final[3], resultMessage(variant, 'pha_for_test_tool', OBS('alpha'), firstId));
      if (variant.kind === 'toolllama' && variant.shape === 'tools') {
        // the raw generation (content) still names the model's function; the call is renamed
        const stored = asObject(final[4]);
        assert.equal(stored.content, reactText('Made up.', 'no_such_tool', '{"x": 1}'));
        const callEntry = asObject(asArray(stored.tool_calls)[0]);
        assert.deepEqual(callEntry.function, { name: HALLUCINATED_FUNCTION_NAME, arguments: '{"x": 1}' });
        assert.deepEqual(final[5], resultMessage(variant, HALLUCINATED_FUNCTION_NAME, unknown, callEntry.id as string));
      } else {
        const secondId = assertCallMessage(variant, final[4], 'Made up.', HALLUCINATED_FUNCTION_NAME, '{"x": 1}', 'call_fake_2_0');
        assert.deepEqual(final[5], resultMessage(variant, HALLUCINATED_FUNCTION_NAME, unknown, secondId));
      }

      if (variant.kind === 'openai') {
        const sent = messagesSent(requests[2]);
        assert.deepEqual(sent, final.slice(0, 6), 'the third request sends the renamed call');
      } else {
        assert.equal(
          promptSent(requests[2]),
          `${promptHead(task)}${renderedStep('Alpha by suffix.', 'pha_for_test_tool', '{}', OBS('alpha'))}${renderedStep('Made up.', HALLUCINATED_FUNCTION_NAME, '{"x": 1}', unknown)}Assistant:\n`,
        );
      }
    });

    test('arguments that are not JSON reach the environment as written', async () => {
      const args = "city=Paris, {'q': 1";
      const run = await searchOverHttp(variant, [variant.act('Odd arguments.', fn('beta'), args), variant.act('Done.', 'Finish', answerArgs('beta#1'))]);
      const { answer, requests, task, env } = run;
      assert.equal(run.unused, 0);
      assert.deepEqual(env.calls, [{ api: BETA, args }]);
      assert.equal(nodeAt(answer, [0, 0, 0]).description, args);
      assert.equal(nodeAt(answer, [0, 0, 0]).observation_code, 0);
      if (variant.kind === 'openai') {
        assertCallMessage(variant, messagesSent(requests[1])[2], 'Odd arguments.', fn('beta'), args, 'call_fake_1_0');
      } else {
        assert.equal(promptSent(requests[1]), `${promptHead(task)}${renderedStep('Odd arguments.', fn('beta'), args, OBS('beta'))}Assistant:\n`);
      }
      assert.equal(answer.win, true);
    });

    test('a 500 is retried (one agent call), then the answer', async () => {
      const run = await searchOverHttp(variant, [{ status: 500, headers: { 'retry-after-ms': '1' } }, variant.act('Fine now.', 'Finish', answerArgs('ok'))], {
        maxRetries: 1,
      });
      const { result, answer, requests, events } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 2, 'two HTTP attempts');
      assert.equal(requests[0]?.rawBody, requests[1]?.rawBody, 'the retry sends the same body');
      assert.equal(result.queryCount, 1, 'one agent call');
      assert.equal(result.win, true);
      assert.ok(!outline(answer).some((line) => line.includes('pruned')));
      assert.deepEqual(
        events.flatMap((event) => (event.type === 'llm' ? [event.ok] : [])),
        [true],
      );
    });

    test('a 400 fails the call: a pruned Thought with observation_code -1, then the next expansion', async () => {
      const run = await searchOverHttp(
        variant,
        [
          { status: 400, body: { error: { message: 'prompt is too long', type: 'invalid_request_error' } } },
          variant.act('Second try.', 'Finish', answerArgs('ok')),
        ],
        { maxRetries: 3 },
      );
      const { result, answer, generation, requests, events } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 2, 'a 400 is not retried');
      assert.equal(requests[0]?.rawBody, requests[1]?.rawBody, 'no diversity prompt: the failed expansion made no call');
      const failed = nodeAt(answer, [0]);
      assert.equal(failed.node_type, 'Thought');
      assert.equal(failed.pruned, true);
      assert.equal(failed.observation_code, -1);
      assert.match(String(failed.description), /prompt is too long/);
      assert.equal(failed.child_count, 0);
      assert.equal(result.win, true);
      assert.equal(result.queryCount, 2, 'the failed call counts');
      assert.equal(result.totalTokens, USAGE.total_tokens, 'and has no tokens');
      assert.equal(generation.query_count, 2);
      const llm = events.flatMap((event) => (event.type === 'llm' ? [event] : []));
      assert.deepEqual(
        llm.map((event) => event.ok),
        [false, true],
      );
      assert.match(String(llm[0]?.error), /prompt is too long/);
      assert.ok(!String(llm[0]?.error).includes(API_KEY));
      // the failed Thought is not on the answer's path
      assert.deepEqual(roles(lastOf(conversations(generation))), ['system', 'user', 'assistant']);
    });

    test('5xx until the retries run out: the call fails like a 400', async () => {
      const overloaded: FakeReply = { status: 503, headers: { 'retry-after-ms': '1' }, body: { error: { message: 'overloaded', type: 'server_error' } } };
      const run = await searchOverHttp(variant, [overloaded, overloaded, variant.act('Back.', 'Finish', answerArgs('ok'))], { maxRetries: 1 });
      const { result, answer, requests } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 3);
      assert.equal(nodeAt(answer, [0]).observation_code, -1);
      assert.equal(nodeAt(answer, [0]).pruned, true);
      assert.equal(result.queryCount, 2);
      assert.equal(result.win, true);
    });

    test('a 401 stops the search with a configuration error', async () => {
      await assert.rejects(
        searchOverHttp(variant, [{ status: 401, body: { error: { message: 'bad key', type: 'invalid_request_error' } } }], { maxRetries: 3 }),
        (error: unknown) => {
          assert.ok(error instanceof ToolbenchError);
          assert.equal(error.code, 'llm.config');
          assert.ok(!error.message.includes(API_KEY));
          return true;
        },
      );
    });

    test('DFS_wFilter: every expansion first, then two ranking calls per pair decide the order', async () => {
      // root: alpha, beta; rank (beta wins); beta: Finish, gamma; rank (Finish wins); Finish is terminal
      const run = await searchOverHttp(
        variant,
        [
          variant.act('Alpha.', fn('alpha'), '{}'),
          variant.act('Beta.', fn('beta'), '{}'),
          variant.text('Candidate B is better, so: B'), // A=alpha, B=beta: not A
          variant.text('I prefer A'), // A=beta, B=alpha: A
          variant.act('Done.', 'Finish', answerArgs('beta#1')),
          variant.act('Or gamma.', fn('gamma'), '{}'),
          variant.text('A'), // A=Finish, B=gamma
          variant.text('B'), // A=gamma, B=Finish
        ],
        { method: 'DFS_wFilter_w2' },
      );
      const { answer, generation, requests, env, task, result } = run;
      assert.equal(run.unused, 0);
      assert.equal(requests.length, 8);
      assert.deepEqual(
        env.calls.map((entry) => entry.api.api),
        ['alpha', 'beta', 'gamma'],
      );
      for (const rankRequest of [requests[2], requests[3], requests[6], requests[7]]) {
        if (variant.kind === 'openai') {
          const sent = messagesSent(rankRequest);
          assert.deepEqual(
            sent.map((message) => message.role),
            ['system', 'user'],
          );
          assert.ok(String(sent[0]?.content).startsWith('\nYou are value-GPT'));
          assert.equal(sent[1]?.content, RANK_USER_PROMPT);
          if (variant.shape === 'functions') assert.equal(rankRequest?.body.function_call, 'none');
          else assert.equal(rankRequest?.body.tool_choice, 'none');
        } else {
          const prompt = promptSent(rankRequest);
          assert.ok(prompt.startsWith('System: \nYou are value-GPT'));
          assert.ok(!prompt.includes('Specifically, you have access to the following APIs'), 'no function list when ranking');
        }
      }
      // the first pair compares the alpha and beta branches from the root
      const rankText = variant.kind === 'openai' ? String(messagesSent(requests[2])[0]?.content) : promptSent(requests[2]);
      assert.ok(rankText.indexOf(`Action: ${fn('alpha')}`) < rankText.indexOf(`Action: ${fn('beta')}`), 'A is alpha, B is beta');
      // beta won the ranking, so the 5th call comes from beta's branch
      const d1 = diversity([{ name: fn('alpha'), args: '{}', output: OBS('alpha') }]);
      if (variant.kind === 'openai') {
        const sent = messagesSent(requests[4]);
        assertCallMessage(variant, sent[2], 'Beta.', fn('beta'), '{}', 'call_fake_2_0');
        assert.equal(sent.length, 4, 'the diversity prompt of the root is not resent below it');
      } else {
        assert.equal(promptSent(requests[4]), `${promptHead(task)}User: ${d1}\n${renderedStep('Beta.', fn('beta'), '{}', OBS('beta'))}Assistant:\n`);
      }
      assert.equal(result.win, true);
      assert.equal(generation.query_count, 8, 'ranking calls count');
      assert.equal(generation.final_answer, answerArgs('beta#1'));
      assert.equal(asObject(answer.forward_args).with_filter, true);
    });

    test('an abort during a call rejects the search with the reason, without waiting for the reply', async () => {
      const controller = new AbortController();
      const reason = new Error('test: stop now');
      const started = performance.now();
      await assert.rejects(
        searchOverHttp(variant, [variant.act('Alpha.', fn('alpha'), '{}'), { delayMs: 10_000 }], {
          signal: controller.signal,
          onRequest: (callIndex) => {
            if (callIndex === 1) setImmediate(() => controller.abort(reason));
          },
        }),
        (error: unknown) => error === reason,
      );
      assert.ok(performance.now() - started < 5_000, 'the delayed reply is not awaited');
    });

    if (variant.kind === 'openai') {
      test('empty content: "" with a call, then null without a call (resent as empty text)', async () => {
        const run = await searchOverHttp(variant, [
          variant.act('', fn('alpha'), '{}'),
          { content: null, usage: USAGE },
          variant.act(null, 'Finish', answerArgs('alpha#1')),
        ]);
        const { answer, generation, requests, task } = run;
        assert.equal(run.unused, 0);
        assert.equal(requests.length, 3);
        assert.deepEqual(outline(answer), [
          '0 Action Input  e0 finished',
          '1 Thought  e0 finished',
          `2 Action ${fn('alpha')} e0 finished`,
          '3 Action Input {} e1 finished code=0',
          '4 Thought  e2 finished',
          '5 Action Finish e0 finished',
          `6 Action Input ${answerArgs('alpha#1')} e3 finished code=3`,
        ]);
        const sent = messagesSent(requests[2]);
        assert.deepEqual(sent.slice(0, 2), systemAndUser(task));
        const callId = assertCallMessage(variant, sent[2], '', fn('alpha'), '{}', 'call_fake_1_0');
        assert.deepEqual(sent[3], resultMessage(variant, fn('alpha'), OBS('alpha'), callId));
        // the backbone gives content null (functions) or none (tools); the engine stores '' so that
        // the next request carries no assistant message without text and calls (chat APIs refuse one)
        assert.deepEqual(sent[4], { role: 'assistant', content: '' });
        assert.equal(sent.length, 5);
        const final = lastOf(conversations(generation));
        assert.deepEqual(roles(final), ['system', 'user', 'assistant', resultRole(variant), 'assistant', 'assistant']);
        assert.deepEqual(final[4], { role: 'assistant', content: '' });
        assertCallMessage(variant, final[5], null, 'Finish', answerArgs('alpha#1'), 'call_fake_3_0');
        assert.equal(answer.win, true);
      });
    }

    if (variant.kind === 'openai') {
      test('several tool calls in one reply: tools runs each in order, functions keeps the first', async () => {
        const unknown = '{"error": "No such function name: no_such_tool", "response": ""}';
        const run = await searchOverHttp(variant, [
          {
            content: null,
            tool_calls: [
              { id: 'call_a', function: { name: fn('alpha'), arguments: '{"q": 1}' } },
              { id: 'call_b', function: { name: 'no_such_tool', arguments: '{}' } },
              { id: 'call_c', function: { name: fn('beta'), arguments: '{"q": 2}' } },
            ],
            usage: USAGE,
          },
          variant.act(null, 'Finish', answerArgs('both')),
        ]);
        const { answer, generation, requests, env } = run;
        assert.equal(run.unused, 0);
        const sent = messagesSent(requests[1]);
        if (variant.shape === 'tools') {
          assert.deepEqual(
            env.calls.map((entry) => [entry.api.api, entry.args]),
            [
              ['alpha', '{"q": 1}'],
              ['beta', '{"q": 2}'],
            ],
          );
          // one chain per call; only the last Action Input is a frame (make_finish(2) stops at the third Action Input up)
          assert.deepEqual(outline(answer).slice(1, 7), [
            `1 Action ${fn('alpha')} e0`,
            '2 Action Input {"q": 1} e0 code=0',
            '3 Action no_such_tool e0',
            '4 Action Input {} e0 finished code=1',
            `5 Action ${fn('beta')} e0 finished`,
            '6 Action Input {"q": 2} e1 finished code=0',
          ]);
          // one assistant message (the hallucinated name rewritten in it), then one result per call
          assert.deepEqual(sent.slice(2), [
            {
              role: 'assistant',
              tool_calls: [
                { id: 'call_a', function: { name: fn('alpha'), arguments: '{"q": 1}' }, type: 'function' },
                { id: 'call_b', function: { name: HALLUCINATED_FUNCTION_NAME, arguments: '{}' }, type: 'function' },
                { id: 'call_c', function: { name: fn('beta'), arguments: '{"q": 2}' }, type: 'function' },
              ],
            },
            { role: 'tool', name: fn('alpha'), content: OBS('alpha'), tool_call_id: 'call_a' },
            { role: 'tool', name: HALLUCINATED_FUNCTION_NAME, content: unknown, tool_call_id: 'call_b' },
            { role: 'tool', name: fn('beta'), content: OBS('beta'), tool_call_id: 'call_c' },
          ]);
          assert.deepEqual(roles(lastOf(conversations(generation))), ['system', 'user', 'assistant', 'tool', 'tool', 'tool', 'assistant']);
        } else {
          assert.deepEqual(env.calls, [{ api: ALPHA, args: '{"q": 1}' }]);
          assert.deepEqual(sent.slice(2), [
            { role: 'assistant', content: null, function_call: { name: fn('alpha'), arguments: '{"q": 1}' } },
            { role: 'function', name: fn('alpha'), content: OBS('alpha') },
          ]);
        }
        assert.equal(answer.win, true);
      });
    }

    if (variant.kind === 'openai' && variant.shape === 'functions') {
      test('a dotted function name keeps its last segment (ToolBench)', async () => {
        const run = await searchOverHttp(variant, [variant.act(null, `functions.${fn('beta')}`, '{}'), variant.act(null, 'Finish', answerArgs('b'))]);
        assert.equal(run.unused, 0);
        assert.deepEqual(run.env.calls, [{ api: BETA, args: '{}' }]);
        assert.equal(nodeAt(run.answer, [0]).description, fn('beta'));
      });
    }

    if (variant.kind === 'toolllama') {
      test('an empty generation (only `</s>`) calls the empty name: an unknown function', async () => {
        const unknown = '{"error": "No such function name: ", "response": ""}';
        const run = await searchOverHttp(variant, [{ text: '  </s>\n', usage: USAGE }, variant.act('Done.', 'Finish', answerArgs('x'))]);
        const { answer, requests, task, env } = run;
        assert.equal(run.unused, 0);
        assert.deepEqual(env.calls, []);
        assert.deepEqual(outline(answer).slice(0, 4), ['0 Action Input  e0 finished', '1 Thought  e0 finished', '2 Action  e0 finished', '3 Action Input  e1 finished code=1']);
        assert.equal(nodeAt(answer, [0, 0, 0]).observation, unknown);
        assert.equal(
          promptSent(requests[1]),
          `${promptHead(task)}Assistant: \nThought: \nAction: ${HALLUCINATED_FUNCTION_NAME}\nAction Input: \nFunction: ${unknown}\nAssistant:\n`,
        );
        assert.equal(answer.win, true);
      });

      test('a full context (usage at contextTokens) turns the reply into the overflow give-up', async () => {
        const text = reactText('More.', fn('alpha'), '{}');
        const run = await searchOverHttp(variant, [{ text, usage: { prompt_tokens: 95, completion_tokens: 5, total_tokens: 100 } }], {
          method: 'DFS_woFilter_w1',
          contextTokens: 100,
        });
        const { result, generation, env } = run;
        assert.equal(run.unused, 0);
        assert.deepEqual(env.calls, [], 'the parsed call is not made');
        assert.equal(result.finishType, 'give_up');
        assert.equal(generation.finish_type, 'give_up');
        const [conversation] = conversations(generation);
        assert.ok(conversation !== undefined);
        const reply = asObject(conversation[2]);
        assert.equal(reply.content, TOOLLLAMA_OVERFLOW_PREFIX + text);
        const overflowCall = variant.shape === 'functions' ? asObject(reply.function_call) : asObject(asObject(asArray(reply.tool_calls)[0]).function);
        assert.deepEqual(overflowCall, { name: 'Finish', arguments: '{"return_type": "give_up_and_restart"}' });
      });
    }
  });
}

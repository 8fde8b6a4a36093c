/**
 * One model step (algorithms.md §2.4, §5, §7, §10): resolving function names, unknown names,
 * arguments passed to the environment unchanged, and the StableToolBench `tools` shape with
 * parallel calls.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TOOL_STATUS } from '../../src/env/status.js';
import { resolveFunction } from '../../src/search/agent-step.js';
import { callsOf } from '../../src/search/step.js';
import {
  answerArgs,
  asArray,
  asObject,
  call,
  FakeEnv,
  finish,
  fn,
  giveUpArgs,
  makeTask,
  nodeAt,
  observationFor,
  outline,
  search,
  toolCalls,
  trainRoles,
} from './scripted.js';

const HALLUCINATED = 'invalid_hallucination_function_name';

describe('resolving the function a call names (§2.4)', () => {
  test('a suffix of a function name reaches the first function ending with it', async () => {
    const task = makeTask(['love_quote', 'hate_quote', 'quote']);
    const { env, answer, backbone } = await search('DFS_woFilter_w2', [call('quote_for_test_tool', '{"id": 7}'), finish('x')], { task });
    assert.deepEqual(env.calls, [{ api: { category: 'Testing', tool: 'test_tool', api: 'love_quote' }, args: '{"id": 7}' }]);
    const action = nodeAt(answer, [0]);
    assert.equal(action.description, 'quote_for_test_tool', 'the Action keeps the name as written');
    assert.equal(nodeAt(answer, [0, 0]).observation_code, 0);
    // not renamed: the name resolved
    assert.deepEqual(backbone.requests[1]?.snapshot.at(-1), { role: 'function', name: 'quote_for_test_tool', content: observationFor('love_quote', 1) });
  });

  test('resolveFunction: first match in list order; Finish and the empty name are no tool', () => {
    const task = makeTask(['love_quote', 'quote']);
    assert.equal(resolveFunction(task, 'love_quote_for_test_tool'), 0);
    assert.equal(resolveFunction(task, 'quote_for_test_tool'), 0);
    assert.equal(resolveFunction(task, 'e_for_test_tool'), 0);
    assert.equal(resolveFunction(task, 'nope'), undefined);
    // documented deviations from upstream (agent-step.ts): '' matches nothing, a suffix of Finish is unknown
    assert.equal(resolveFunction(task, ''), undefined);
    assert.equal(resolveFunction(task, 'ish'), undefined);
    assert.equal(resolveFunction(task, 'Finish'), undefined);
  });

  test(
    // Upstream mixes the first function's category and tool with the last one's API name (quirk 2);
    // we call the first function as it is listed (docs/search.md).
    'duplicate function names: the first function with the name is called, all of it',
    async () => {
      // two APIs of a long-named tool whose function names collide after the 64-character cut
      const base = makeTask(['first', 'second']);
      const shared = 'r_a_very_long_tool_name_for_testing_truncation_of_function_names';
      const task = {
        ...base,
        functions: base.functions.map((schema, index) => (index < 2 ? { ...schema, name: shared } : schema)),
        apis: [
          { category: 'Tools', tool: 'a_very_long_tool_name_for_testing_truncation_of_function_names', api: 'first_api' },
          { category: 'Tools', tool: 'a_very_long_tool_name_for_testing_truncation_of_function_names', api: 'second_api' },
          undefined,
        ],
      };
      const { env } = await search('DFS_woFilter_w2', [call(shared, '{}'), finish('x')], { task });
      assert.equal(env.calls[0]?.api.api, 'first_api');
    },
  );

  test('a name matching nothing: status 1, the exact observation, renamed in the stored messages only', async () => {
    const script = [call('no_such_function', '{"x": 1}', 'Trying.'), finish('x')];
    const original = structuredClone(script[0]?.message);
    const { env, answer, backbone, generation } = await search('DFS_woFilter_w2', script);
    assert.deepEqual(env.calls, [], 'the environment is not called');
    const input = nodeAt(answer, [0, 0, 0]);
    assert.equal(input.observation, '{"error": "No such function name: no_such_function", "response": ""}');
    assert.equal(input.observation_code, TOOL_STATUS.noSuchFunction);
    assert.equal(input.pruned, false, 'the search goes on below it');
    assert.equal(nodeAt(answer, [0, 0]).description, 'no_such_function', 'the Action node keeps the original name');
    const sent = backbone.requests[1]?.snapshot ?? [];
    assert.deepEqual(sent.slice(2), [
      { role: 'assistant', content: 'Trying.', function_call: { name: HALLUCINATED, arguments: '{"x": 1}' } },
      { role: 'function', name: HALLUCINATED, content: '{"error": "No such function name: no_such_function", "response": ""}' },
    ]);
    assert.deepEqual(script[0]?.message, original, "the backbone's message object is not modified");
    assert.deepEqual(trainRoles(generation)[0], ['system', 'user', `assistant:${HALLUCINATED}`]);
  });

  test('an empty name and a suffix of "Finish" are unknown functions (documented deviation)', async () => {
    for (const name of ['', 'ish']) {
      const { answer, env } = await search('DFS_woFilter_w2', [call(name, '{}'), finish('x')]);
      assert.equal(nodeAt(answer, [0, 0]).observation_code, 1, `name ${JSON.stringify(name)}`);
      assert.equal(nodeAt(answer, [0, 0]).observation, `{"error": "No such function name: ${name}", "response": ""}`);
      assert.deepEqual(env.calls, []);
    }
  });

  test('arguments that are not JSON reach the environment unchanged', async () => {
    const args = "{'city': 'Paris', trailing";
    const { env, answer } = await search('DFS_woFilter_w2', [call(fn('alpha'), args), finish('x')]);
    assert.deepEqual(env.calls.map((entry) => entry.args), [args]);
    assert.equal(nodeAt(answer, [0, 0]).description, args);
  });

  test("the environment's status and observation are kept on the node; non-0 tool statuses do not prune", async () => {
    const env = new FakeEnv({ alpha: { observation: '{"error": "API not working error...", "response": ""}', status: TOOL_STATUS.apiNotWorking, source: 'cache' } });
    const { answer, events } = await search('DFS_woFilter_w2', [call(fn('alpha'), '{}'), finish('x')], { env });
    const input = nodeAt(answer, [0, 0]);
    assert.equal(input.observation_code, 6);
    assert.equal(input.observation, '{"error": "API not working error...", "response": ""}');
    assert.equal(input.pruned, false);
    const tool = events.find((event) => event.type === 'tool');
    assert.ok(tool?.type === 'tool' && tool.source === 'cache' && tool.status === 6);
  });
});

describe('callsOf', () => {
  test('function_call, tool_calls, neither', () => {
    assert.deepEqual(callsOf({ role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } }), [{ name: 'f', arguments: '{}' }]);
    assert.deepEqual(
      callsOf({
        role: 'assistant',
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'f', arguments: '1' } },
          { id: 'b', type: 'function', function: { name: 'g', arguments: '2' } },
        ],
      }),
      [
        { id: 'a', name: 'f', arguments: '1' },
        { id: 'b', name: 'g', arguments: '2' },
      ],
    );
    assert.deepEqual(callsOf({ role: 'assistant', content: 'x', tool_calls: [], function_call: null }), []);
    assert.deepEqual(callsOf({ role: 'assistant', content: 'x' }), []);
  });
});

describe('the tools shape: parallel tool calls (§10)', () => {
  const parallel = toolCalls('Both at once.', [fn('alpha'), '{"a": 1}', 'call_a'], [fn('beta'), '{"b": 2}', 'call_b']);
  const finishTool = toolCalls(undefined, ['Finish', answerArgs('done'), 'call_f']);

  test('two calls make two Action/Action Input pairs in one chain; the search continues from the last', async () => {
    const { answer, env, backbone, task } = await search('DFS_woFilter_w2', [parallel, finishTool], { shape: 'tools' });
    assert.equal(backbone.requests[0]?.functions, task.functions, 'the backbone gets the plain schemas and wraps them itself');
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0',
      '1 Thought Both at once. e0',
      `2 Action ${fn('alpha')} e0`,
      '3 Action Input {"a": 1} e0 finished code=0',
      `4 Action ${fn('beta')} e0 finished`,
      '5 Action Input {"b": 2} e1 finished code=0',
      '6 Action Finish e0 finished',
      `7 Action Input ${answerArgs('done')} e2 finished code=3`,
    ]);
    assert.deepEqual(
      env.calls.map((entry) => entry.api.api),
      ['alpha', 'beta'],
    );
    assert.deepEqual(backbone.requests[1]?.position, { attempt: 0, path: [0, 0, 0, 0, 0], expansion: 0 });
  });

  test('the assistant message is appended once, followed by one tool message per call with its id', async () => {
    const { backbone } = await search('DFS_woFilter_w2', [parallel, finishTool], { shape: 'tools' });
    const sent = backbone.requests[1]?.snapshot ?? [];
    assert.deepEqual(
      sent.map((message) => message.role),
      ['system', 'user', 'assistant', 'tool', 'tool'],
    );
    assert.deepEqual(sent[2], parallel.message);
    assert.deepEqual(sent[3], { role: 'tool', name: fn('alpha'), content: observationFor('alpha', 1), tool_call_id: 'call_a' });
    assert.deepEqual(sent[4], { role: 'tool', name: fn('beta'), content: observationFor('beta', 1), tool_call_id: 'call_b' });
    assert.deepEqual(Object.keys(sent[3] ?? {}), ['role', 'name', 'content', 'tool_call_id']);
  });

  test('answer_generation.function wraps each schema as {type, function}; train_messages per Action Input', async () => {
    const { generation, task } = await search('DFS_woFilter_w2', [parallel, finishTool], { shape: 'tools' });
    assert.deepEqual(
      generation.function,
      task.functions.map((schema) => ({ type: 'function', function: schema })),
    );
    assert.deepEqual(Object.keys(asObject(asArray(generation.function)[0])), ['type', 'function']);
    // §11: every Action Input on the path contributes, so both calls of the first reply give the same conversation
    assert.deepEqual(trainRoles(generation), [
      ['system', 'user', 'assistant'],
      ['system', 'user', 'assistant'],
      ['system', 'user', 'assistant', 'tool', 'tool', 'assistant'],
    ]);
  });

  test('an unknown name in the first call is renamed in tool_calls[0] and in its tool message', async () => {
    const script = [toolCalls(undefined, ['made_up', '{}', 'call_x'], [fn('alpha'), '{}', 'call_y']), finishTool];
    const { backbone, answer } = await search('DFS_woFilter_w2', script, { shape: 'tools' });
    const sent = backbone.requests[1]?.snapshot ?? [];
    const calls = asArray(sent[2]?.tool_calls);
    assert.equal(asObject(asObject(calls[0]).function).name, HALLUCINATED);
    assert.equal(asObject(asObject(calls[1]).function).name, fn('alpha'));
    assert.deepEqual(sent[3], { role: 'tool', name: HALLUCINATED, content: '{"error": "No such function name: made_up", "response": ""}', tool_call_id: 'call_x' });
    assert.equal(nodeAt(answer, [0]).description, 'made_up');
    const original = asArray(script[0]?.message?.tool_calls);
    assert.equal(asObject(asObject(original[0]).function).name, 'made_up', "the backbone's object is not modified");
  });

  test('an unknown name in a later call is renamed in its tool message', async () => {
    const script = [toolCalls(undefined, [fn('alpha'), '{}', 'call_x'], ['made_up', '{}', 'call_y']), finishTool];
    const { backbone } = await search('DFS_woFilter_w2', script, { shape: 'tools' });
    const sent = backbone.requests[1]?.snapshot ?? [];
    assert.deepEqual(sent[4], { role: 'tool', name: HALLUCINATED, content: '{"error": "No such function name: made_up", "response": ""}', tool_call_id: 'call_y' });
  });

  test(
    // Upstream DFS keeps the model's name there (quirk 28); we rename every hallucinated call
    // in the stored message too (docs/search.md).
    'quirk 28 fixed: the stored assistant message shows the rename of a later call too',
    async () => {
      const script = [toolCalls(undefined, [fn('alpha'), '{}', 'call_x'], ['made_up', '{}', 'call_y']), finishTool];
      const { backbone } = await search('DFS_woFilter_w2', script, { shape: 'tools' });
      const sent = backbone.requests[1]?.snapshot ?? [];
      const calls = asArray(sent[2]?.tool_calls);
      assert.equal(asObject(asObject(calls[1]).function).name, HALLUCINATED);
    },
  );

  test('a give-up in a non-last call does not stop the chain', async () => {
    const script = [toolCalls(undefined, ['Finish', giveUpArgs(), 'call_g'], [fn('alpha'), '{}', 'call_a']), finishTool];
    const { answer, generation, backbone } = await search('DFS_woFilter_w2', script, { shape: 'tools' });
    assert.equal(backbone.remaining, 0);
    assert.equal(nodeAt(answer, [0, 0]).pruned, true);
    assert.equal(nodeAt(answer, [0, 0]).observation_code, 4);
    assert.equal(nodeAt(answer, [0, 0, 0, 0]).pruned, false);
    assert.deepEqual(backbone.requests[1]?.position, { attempt: 0, path: [0, 0, 0, 0], expansion: 0 });
    assert.equal(generation.finish_type, 'give_answer');
    assert.equal(answer.win, true);
  });

  test('a final answer before another call makes the later nodes terminal (the success flag is inherited)', async () => {
    const script = [toolCalls(undefined, ['Finish', answerArgs('early'), 'call_f'], [fn('alpha'), '{"late": true}', 'call_a'])];
    const { answer, generation, env } = await search('DFS_woFilter_w2', script, { shape: 'tools' });
    assert.equal(answer.win, true);
    assert.deepEqual(env.calls.map((entry) => entry.args), ['{"late": true}'], 'the later call still runs');
    // upstream reports the last node of the chain, whose description is the later call's arguments
    assert.equal(generation.final_answer, '{"late": true}');
    assert.equal(nodeAt(answer, [0, 0, 0, 0]).expand_num, 1);
  });
});

describe('CoT in the tools shape', () => {
  test('a later-call rename shows in the shared assistant message (CoT copies shallowly)', async () => {
    const script = [toolCalls(undefined, [fn('alpha'), '{}', 'c1'], ['made_up', '{}', 'c2']), toolCalls(undefined, ['Finish', answerArgs('x'), 'c3'])];
    const { backbone, answer } = await search('CoT@1', script, { shape: 'tools' });
    const sent = backbone.requests[1]?.snapshot ?? [];
    assert.equal(asObject(asObject(asArray(sent[2]?.tool_calls)[1]).function).name, HALLUCINATED);
    assert.equal(answer.win, true);
  });
});

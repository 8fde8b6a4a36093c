/**
 * DFSDT (`DFS_woFilter_wN`) against algorithms.md §9 and formats.md §3.1/§3.3, with a scripted
 * backbone and a fake tool environment.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMethod } from '../../src/search/method.js';
import { runSearch } from '../../src/search/run-search.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { isPyObject, type PyObject } from '../../src/util/py-value.js';
import {
  answerArgs,
  asArray,
  asObject,
  call,
  DEFAULT_COST,
  DEFAULT_TOKENS,
  describeRecord,
  FakeEnv,
  fail,
  finish,
  fn,
  giveUp,
  giveUpArgs,
  makeTask,
  nodeAt,
  observationFor,
  outline,
  QUERY,
  reply,
  say,
  ScriptedBackbone,
  search,
  TASK_DESCRIPTION,
  trainRoles,
} from './scripted.js';

/** prompts.md §1.7, the exact JSON string literal. */
const DIVERSITY_PROMPT_TEXT =
  'This is not the first time you try this task, all previous trails failed.\nBefore you generate my thought for this state, I will first show you your previous actions for this state, and then you must generate actions that is different from all of them. Here are some previous actions candidates:\n{previous_candidate}\nRemember you are now in the intermediate state of a trail, you will first analyze the now state and previous action candidates, then make actions that is different from all the previous.';

const FINAL_ANSWER_OBSERVATION = '{"response":"successfully giving the final answer."}';
const GIVE_UP_OBSERVATION = '{"response":"chose to give up and restart"}';

function diversityText(previousCandidate: string): string {
  return DIVERSITY_PROMPT_TEXT.replace('{previous_candidate}', previousCandidate);
}

/** The worked example of algorithms.md §9.10: give up at x3, back to x1, answer at x5. */
const WORKED_EXAMPLE = [
  call(fn('alpha'), '{"q": 1}'),
  call(fn('beta'), '{"q": 2}'),
  giveUp(),
  call(fn('gamma'), '{"q": 3}'),
  finish('done'),
];

describe('DFSDT: an answer at the first call', () => {
  test('one Finish(give_answer) call: win, valid data, raw arguments as final_answer', async () => {
    const run = await search('DFS_woFilter_w2', [finish('forty-two')]);
    const { answer, generation, result } = run;
    assert.equal(answer.win, true);
    assert.equal(result.win, true);
    assert.equal(result.finishType, 'give_answer');
    assert.equal(result.queryCount, 1);
    assert.equal(result.totalTokens, DEFAULT_TOKENS);
    assert.equal(result.cost, DEFAULT_COST);
    assert.equal(result.stoppedBy, undefined);
    assert.equal(generation.valid_data, true);
    assert.equal(generation.finish_type, 'give_answer');
    assert.equal(generation.final_answer, answerArgs('forty-two'), 'the Finish arguments text, unparsed');
    assert.equal(generation.query_count, 1);
    assert.equal(generation.total_tokens, DEFAULT_TOKENS);
    assert.deepEqual(generation.chain, []);
    assert.equal(generation.query, QUERY);
    assert.deepEqual(generation.function, run.task.functions, 'functions shape: the plain schemas');
    assert.deepEqual(answer.forward_args, { single_chain_max_step: 12, tree_beam_size: 2, max_query_count: 200, answer: 1, with_filter: false });
  });

  test('tree: size, max_length, expand_num stamps and make_finish(2) flags', async () => {
    const { answer } = await search('DFS_woFilter_w2', [finish('forty-two')]);
    const tree = asObject(answer.tree);
    assert.equal(tree.size, 3);
    assert.equal(tree.max_length, 3);
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0 finished',
      '1 Action Finish e0 finished',
      `2 Action Input ${answerArgs('forty-two')} e1 finished code=3`,
    ]);
    const leaf = nodeAt(answer, [0, 0]);
    assert.equal(leaf.observation, FINAL_ANSWER_OBSERVATION);
    assert.equal(leaf.is_terminal, false, 'quirk 21: always written false');
    assert.equal(pyJsonDumps(leaf.Elo), '1000.0');
    assert.deepEqual(leaf.io_state, {});
  });

  test('compare_candidates and train_messages', async () => {
    const { answer, generation, backbone } = await search('DFS_woFilter_w2', [finish('forty-two')]);
    const candidates = asArray(answer.compare_candidates);
    assert.equal(candidates.length, 1);
    const path = asArray(candidates[0]).map((record) => describeRecord(asObject(record)));
    assert.deepEqual(path, ['1 Action Finish e0 finished', `2 Action Input ${answerArgs('forty-two')} e1 finished code=3`]);
    for (const record of asArray(candidates[0])) assert.ok(!('children' in asObject(record)), 'flat records have no children');

    const conversations = asArray(generation.train_messages);
    assert.equal(conversations.length, 1);
    const [system, user, assistant, ...rest] = asArray(conversations[0]).map((message) => asObject(message));
    assert.deepEqual(rest, [], 'the function message after the last reply is dropped');
    assert.deepEqual(Object.keys(system ?? {}), ['role', 'content']);
    assert.equal(system?.role, 'system');
    assert.ok(String(system?.content).startsWith('You are AutoGPT, you can use many tools(functions) to do the following task.\n'));
    assert.ok(String(system?.content).endsWith(`Task description: ${TASK_DESCRIPTION}`));
    assert.deepEqual(user, { role: 'user', content: `\n${QUERY}\nBegin!\n` });
    assert.deepEqual(assistant, { role: 'assistant', content: null, function_call: { name: 'Finish', arguments: answerArgs('forty-two') } });
    assert.deepEqual(Object.keys(assistant ?? {}), ['role', 'content', 'function_call'], 'the reply keeps its key order');
    assert.deepEqual(backbone.requests[0]?.snapshot, [system, user], 'the first request is [system, user]');
  });

  test('events: one llm, one tool (Finish, answered by the engine), node stamps, each start before its call, the step end after its subtree', async () => {
    const { events } = await search('DFS_woFilter_w2', [finish('x')]);
    assert.deepEqual(
      events.map((event) => event.type),
      ['node', 'llm_start', 'llm', 'tool_start', 'tool', 'node', 'step_end'],
    );
    const tool = events.find((event) => event.type === 'tool');
    assert.ok(tool?.type === 'tool');
    assert.equal(tool.name, 'Finish');
    assert.equal(tool.status, 3);
    assert.equal(tool.source, undefined);
    assert.deepEqual(
      events.flatMap((event) => (event.type === 'node' ? [event.expandNum] : [])),
      [0, 1],
    );
  });
});

describe('DFSDT: give-up then backtrack (the worked example of §9.10)', () => {
  test('the give-up node is pruned, its frame abandoned, and the grandparent expands again', async () => {
    const { answer, generation, backbone, env } = await search('DFS_woFilter_w2', WORKED_EXAMPLE);
    assert.equal(backbone.remaining, 0);
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0',
      `1 Action ${fn('alpha')} e0`,
      '2 Action Input {"q": 1} e1 finished code=0',
      `3 Action ${fn('beta')} e0`,
      '4 Action Input {"q": 2} e2 code=0',
      '5 Action Finish e0',
      `6 Action Input ${giveUpArgs()} e3 pruned code=4`,
      `3 Action ${fn('gamma')} e0 finished`,
      '4 Action Input {"q": 3} e4 finished code=0',
      '5 Action Finish e0 finished',
      `6 Action Input ${answerArgs('done')} e5 finished code=3`,
    ]);
    assert.equal(nodeAt(answer, [0, 0, 0, 0, 0, 0]).observation, GIVE_UP_OBSERVATION);
    assert.deepEqual(asObject(answer.tree).size, 11);
    assert.deepEqual(asObject(answer.tree).max_length, 7);
    assert.equal(generation.query_count, 5);
    assert.equal(generation.total_tokens, 5 * DEFAULT_TOKENS);
    assert.equal(generation.final_answer, answerArgs('done'));
    assert.deepEqual(
      env.calls.map((entry) => [entry.api.api, entry.args]),
      [
        ['alpha', '{"q": 1}'],
        ['beta', '{"q": 2}'],
        ['gamma', '{"q": 3}'],
      ],
    );
    assert.deepEqual(
      backbone.requests.map((request) => request.position),
      [
        { attempt: 0, path: [], expansion: 0 },
        { attempt: 0, path: [0, 0], expansion: 0 },
        { attempt: 0, path: [0, 0, 0, 0], expansion: 0 },
        { attempt: 0, path: [0, 0], expansion: 1 },
        { attempt: 0, path: [0, 0, 1, 0], expansion: 0 },
      ],
    );
  });

  test('the second expansion receives the diversity prompt of prompts.md §1.7, exactly', async () => {
    const { backbone } = await search('DFS_woFilter_w2', WORKED_EXAMPLE);
    const request = backbone.requests[3];
    assert.ok(request !== undefined);
    const candidate =
      '[\n' +
      '  {\n' +
      `    "name": "${fn('beta')}",\n` +
      '    "arguments": "{\\"q\\": 2}",\n' +
      `    "function_output": "{\\"error\\": \\"\\", \\"response\\": \\"beta#1\\"}",\n` +
      '    "mento-carlo-action-value": 0.0\n' +
      '  }\n' +
      ']\n' +
      `again, your former observation: ${observationFor('alpha', 1)}\n`;
    const roles = request.snapshot.map((message) => message.role);
    assert.deepEqual(roles, ['system', 'user', 'assistant', 'function', 'user']);
    assert.deepEqual(request.snapshot[4], { role: 'user', content: diversityText(candidate) }, 'valid (no marker) when sent');
    assert.deepEqual(request.snapshot[3], { role: 'function', name: fn('alpha'), content: observationFor('alpha', 1) });
    // the message object is marked invalid after the call, in place
    assert.equal(request.live[4]?.valid, false);
    assert.deepEqual(Object.keys(request.live[4] ?? {}), ['role', 'content', 'valid']);
  });

  test('later requests still contain the invalid diversity message: the backbone filters, not the engine', async () => {
    const { backbone } = await search('DFS_woFilter_w2', WORKED_EXAMPLE);
    const last = backbone.requests[4];
    assert.ok(last !== undefined);
    assert.deepEqual(
      last.snapshot.map((message) => `${message.role}${message.valid === false ? '(invalid)' : ''}`),
      ['system', 'user', 'assistant', 'function', 'user(invalid)', 'assistant', 'function'],
    );
    assert.ok(String(last.snapshot[4]?.content).startsWith('This is not the first time you try this task'));
    // earlier requests from other nodes never saw it
    for (const request of backbone.requests.slice(0, 3)) {
      assert.ok(request.snapshot.every((message) => !String(message.content).startsWith('This is not the first time')));
    }
  });

  test('make_finish(2) marks the answer and its ancestors up to the third Action Input', async () => {
    const { answer } = await search('DFS_woFilter_w2', WORKED_EXAMPLE);
    const finished = outline(answer).filter((line) => line.includes(' finished'));
    assert.deepEqual(finished, [
      '2 Action Input {"q": 1} e1 finished code=0',
      `3 Action ${fn('gamma')} e0 finished`,
      '4 Action Input {"q": 3} e4 finished code=0',
      '5 Action Finish e0 finished',
      `6 Action Input ${answerArgs('done')} e5 finished code=3`,
    ]);
    assert.equal(nodeAt(answer, []).finished, false, 'the root is a fourth Action Input: not reached');
  });

  test('train_messages: conversations ending at calls 1, 4 and 5, the diversity prompt kept as invalid', async () => {
    const { generation } = await search('DFS_woFilter_w2', WORKED_EXAMPLE);
    assert.deepEqual(trainRoles(generation), [
      ['system', 'user', `assistant:${fn('alpha')}`],
      ['system', 'user', `assistant:${fn('alpha')}`, 'function', 'user(invalid)', `assistant:${fn('gamma')}`],
      ['system', 'user', `assistant:${fn('alpha')}`, 'function', 'user(invalid)', `assistant:${fn('gamma')}`, 'function', 'assistant:Finish'],
    ]);
    const compare = asArray(asArray(generation.train_messages)[2]);
    assert.deepEqual(Object.keys(asObject(compare[4])), ['role', 'content', 'valid']);
  });

  test('events: node stamps in visit order, tool calls with their sources', async () => {
    const { events } = await search('DFS_woFilter_w2', WORKED_EXAMPLE);
    assert.deepEqual(
      events.flatMap((event) => (event.type === 'node' ? [`${event.nodeType}@${event.depth}#${event.expandNum}`] : [])),
      ['Action Input@0#0', 'Action Input@2#1', 'Action Input@4#2', 'Action Input@6#3', 'Action Input@4#4', 'Action Input@6#5'],
    );
    assert.deepEqual(
      events.flatMap((event) => (event.type === 'tool' ? [[event.name, event.status, event.source ?? null]] : [])),
      [
        [fn('alpha'), 0, 'local'],
        [fn('beta'), 0, 'local'],
        ['Finish', 4, null],
        [fn('gamma'), 0, 'local'],
        ['Finish', 3, null],
      ],
    );
    assert.equal(events.filter((event) => event.type === 'llm').length, 5);
  });

  test('a give-up directly below the root ends the search: the root frame returns at once', async () => {
    const { generation, backbone } = await search('DFS_woFilter_w2', [giveUp('nothing works'), finish('never asked')]);
    assert.equal(backbone.remaining, 1, 'the second expansion of the root is not made');
    assert.equal(generation.query_count, 1);
    assert.equal(generation.finish_type, 'give_up');
  });
});

describe('DFSDT: only give-ups', () => {
  const script = [call(fn('alpha'), '{}'), giveUp('first'), call(fn('beta'), '{}'), giveUp('second')];

  test('valid data with finish_type give_up; win false; no compare_candidates', async () => {
    const { answer, generation, result, backbone } = await search('DFS_woFilter_w2', script);
    assert.equal(backbone.remaining, 0);
    assert.equal(answer.win, false);
    assert.equal(result.win, false);
    assert.equal(result.finishType, 'give_up');
    assert.equal(generation.valid_data, true);
    assert.equal(generation.finish_type, 'give_up');
    assert.deepEqual(answer.compare_candidates, []);
    assert.ok([giveUpArgs('first'), giveUpArgs('second')].includes(String(generation.final_answer)));
  });

  test('the reported give-up is chosen by the seed, recorded, and the same for the same seed', async () => {
    const chosen = new Set<number>();
    for (let seed = 0; seed < 24; seed++) {
      const first = await search('DFS_woFilter_w2', script, { seed });
      const again = await search('DFS_woFilter_w2', script, { seed });
      const record = asObject(asObject(first.answer.toolbench).give_up_choice);
      assert.deepEqual(Object.keys(record), ['candidates', 'chosen', 'by']);
      assert.equal(record.candidates, 2);
      assert.equal(record.by, 'seed');
      assert.deepEqual(asObject(again.answer.toolbench).give_up_choice, record, `seed ${seed}: same choice`);
      assert.equal(first.generation.final_answer, again.generation.final_answer);
      const index = Number(record.chosen);
      chosen.add(index);
      // the final answer and train_messages belong to the chosen give-up
      const expectedArgs = index === 0 ? giveUpArgs('first') : giveUpArgs('second');
      assert.equal(first.generation.final_answer, expectedArgs);
      const conversations = asArray(first.generation.train_messages);
      const last = asArray(conversations.at(-1));
      const finishMessage = asObject(last.at(-1));
      assert.equal(asObject(finishMessage.function_call).arguments, expectedArgs);
      assert.equal(asObject(first.answer.toolbench).seed, seed);
    }
    assert.deepEqual([...chosen].sort(), [0, 1], 'both give-ups are reachable by some seed');
  });

  test('compat dfs-2023 never reports a give-up', async () => {
    const { generation, answer, result } = await search('DFS_woFilter_w2', script, { compat: ['dfs-2023'] });
    assert.equal(generation.valid_data, false);
    assert.equal(generation.finish_type, 'give_answer');
    assert.equal(generation.final_answer, '');
    assert.ok(!('train_messages' in generation));
    assert.equal(result.finishType, 'none');
    const toolbench = asObject(answer.toolbench);
    assert.ok(!('give_up_choice' in toolbench));
    assert.deepEqual(toolbench.compat, ['dfs-2023']);
  });
});

describe('DFSDT: --max-query-count', () => {
  test('the call that reaches the budget is discarded and the search stops', async () => {
    const script = [call(fn('alpha'), '{}'), call(fn('beta'), '{}'), call(fn('gamma'), '{}'), finish('late')];
    const { answer, generation, result, env, backbone } = await search('DFS_woFilter_w2', script, { maxQueryCount: 3 });
    assert.equal(backbone.remaining, 1);
    assert.equal(generation.query_count, 3, 'query_count equals the budget');
    assert.equal(generation.total_tokens, 3 * DEFAULT_TOKENS, 'the discarded call is still counted');
    assert.equal(result.stoppedBy, 'max-query-count');
    assert.equal(asObject(answer.toolbench).stopped_by, 'max-query-count');
    assert.deepEqual(
      env.calls.map((entry) => entry.api.api),
      ['alpha', 'beta'],
      'the third reply is never executed',
    );
    assert.equal(asObject(answer.tree).size, 5, 'no nodes for the discarded reply');
    assert.equal(generation.valid_data, false);
    assert.equal(answer.win, false);
    assert.equal(asObject(answer.forward_args).max_query_count, 3);
  });

  test('a budget call that carried a diversity prompt leaves it valid (quirk 17)', async () => {
    const { backbone, generation, answer } = await search('DFS_woFilter_w2', WORKED_EXAMPLE, { maxQueryCount: 4 });
    assert.equal(generation.query_count, 4);
    const last = backbone.requests[3];
    assert.ok(last !== undefined);
    assert.equal(last.live.at(-1)?.role, 'user');
    assert.ok(!('valid' in (last.live.at(-1) ?? {})), 'the diversity message is never marked invalid');
    // the give-up found before the budget ran out is still reported
    assert.equal(generation.valid_data, true);
    assert.equal(generation.finish_type, 'give_up');
    assert.equal(asObject(answer.toolbench).stopped_by, 'max-query-count');
  });

  test('a budget of 1 discards the very first call', async () => {
    const { answer, generation } = await search('DFS_woFilter_w2', [finish('x')], { maxQueryCount: 1 });
    assert.equal(generation.query_count, 1);
    assert.equal(answer.win, false);
    assert.equal(asObject(answer.tree).size, 1);
  });
});

describe('DFSDT: the depth limit', () => {
  const sixCalls = [
    call(fn('alpha'), '{"n": 1}'),
    call(fn('beta'), '{"n": 2}'),
    call(fn('beta'), '{"n": 3}'),
    call(fn('alpha'), '{"n": 4}'),
    call(fn('gamma'), '{"n": 5}'),
    call(fn('gamma'), '{"n": 6}'),
  ];

  test('a node at depth >= maxDepth is pruned and returns 1: its parent expands again', async () => {
    const { answer, generation, backbone, result } = await search('DFS_woFilter_w2', sixCalls, { maxDepth: 4 });
    assert.equal(backbone.remaining, 0);
    assert.equal(generation.query_count, 6, 'every state below the limit is expanded width times');
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0',
      `1 Action ${fn('alpha')} e0`,
      '2 Action Input {"n": 1} e1 code=0',
      `3 Action ${fn('beta')} e0`,
      '4 Action Input {"n": 2} e2 pruned code=0',
      `3 Action ${fn('beta')} e0`,
      '4 Action Input {"n": 3} e3 pruned code=0',
      `1 Action ${fn('alpha')} e0`,
      '2 Action Input {"n": 4} e4 code=0',
      `3 Action ${fn('gamma')} e0`,
      '4 Action Input {"n": 5} e5 pruned code=0',
      `3 Action ${fn('gamma')} e0`,
      '4 Action Input {"n": 6} e6 pruned code=0',
    ]);
    assert.equal(generation.valid_data, false);
    assert.equal(generation.final_answer, '');
    assert.equal(generation.finish_type, 'give_answer', 'the default even when invalid');
    assert.ok(!('train_messages' in generation));
    assert.equal(result.finishType, 'none');
    assert.equal(answer.win, false);
    assert.equal(asObject(answer.forward_args).single_chain_max_step, 4);
  });

  test('compat dfs-2023: a depth cut returns 2, so its parent state is abandoned too', async () => {
    const { answer, generation } = await search('DFS_woFilter_w2', sixCalls, { maxDepth: 4, compat: ['dfs-2023'] });
    assert.equal(generation.query_count, 4);
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0',
      `1 Action ${fn('alpha')} e0`,
      '2 Action Input {"n": 1} e1 code=0',
      `3 Action ${fn('beta')} e0`,
      '4 Action Input {"n": 2} e2 pruned code=0',
      `1 Action ${fn('beta')} e0`,
      '2 Action Input {"n": 3} e3 code=0',
      `3 Action ${fn('alpha')} e0`,
      '4 Action Input {"n": 4} e4 pruned code=0',
    ]);
  });

  test('a final answer at the depth limit still wins (terminal is checked first)', async () => {
    const { answer, generation } = await search('DFS_woFilter_w2', [finish('just in time')], { maxDepth: 2 });
    assert.equal(answer.win, true);
    assert.equal(generation.valid_data, true);
    assert.equal(nodeAt(answer, [0, 0]).pruned, false);
  });

  test('a Thought counts as a level: content + call adds 3 nodes', async () => {
    const script = [call(fn('alpha'), '{}', 'thinking'), call(fn('beta'), '{}', 'more'), finish('x')];
    const { answer, generation } = await search('DFS_woFilter_w1', script, { maxDepth: 5 });
    // alpha's Action Input is at depth 3; beta's at 6 >= 5 is cut before the Finish call
    assert.equal(generation.query_count, 2);
    assert.deepEqual(outline(answer).slice(-1), ['6 Action Input {} e2 pruned code=0']);
  });
});

describe('DFSDT: width 1 is a single chain', () => {
  test('no retries, no diversity prompt: unwinding reaches the root', async () => {
    const script = [call(fn('alpha'), '{}'), call(fn('beta'), '{}'), call(fn('gamma'), '{}'), finish('never')];
    const { answer, generation, backbone } = await search('DFS_woFilter_w1', script, { maxDepth: 6 });
    assert.equal(generation.query_count, 3);
    assert.equal(backbone.remaining, 1);
    assert.equal(asObject(answer.tree).size, 7);
    assert.equal(asObject(answer.tree).max_length, 7);
    for (const request of backbone.requests) {
      assert.ok(request.snapshot.every((message) => !String(message.content ?? '').startsWith('This is not the first time')));
      assert.equal(request.position?.expansion, 0);
    }
    assert.equal(asObject(answer.forward_args).tree_beam_size, 1);
  });

  test('a give-up ends a width-1 search with that give-up reported', async () => {
    const { generation, backbone } = await search('DFS_woFilter_w1', [call(fn('alpha'), '{}'), giveUp('stuck'), finish('never')]);
    assert.equal(backbone.remaining, 1);
    assert.equal(generation.finish_type, 'give_up');
    assert.equal(generation.final_answer, giveUpArgs('stuck'));
    assert.deepEqual(asObject(generation).valid_data, true);
  });
});

describe('DFSDT: message content', () => {
  test('null content with a call makes no Thought', async () => {
    const { answer } = await search('DFS_woFilter_w2', [call(fn('alpha'), '{}', null), finish('x')]);
    assert.deepEqual(outline(answer).slice(0, 3), ['0 Action Input  e0 finished', `1 Action ${fn('alpha')} e0 finished`, '2 Action Input {} e1 finished code=0']);
  });

  test('empty content with a call makes a Thought with an empty description', async () => {
    const { answer } = await search('DFS_woFilter_w2', [call(fn('alpha'), '{}', ''), finish('x')]);
    assert.deepEqual(outline(answer).slice(0, 4), ['0 Action Input  e0 finished', '1 Thought  e0 finished', `2 Action ${fn('alpha')} e0 finished`, '3 Action Input {} e1 finished code=0']);
    const thought = nodeAt(answer, [0]);
    assert.deepEqual(Object.keys(thought), ['is_terminal', 'pruned', 'finished', 'depth', 'node_type', 'description', 'Elo', 'child_count', 'expand_num', 'children']);
  });

  test('a text-only reply is a Thought leaf that is expanded next, with the reply in its conversation', async () => {
    const { answer, backbone, generation } = await search('DFS_woFilter_w2', [say('Let me think.'), finish('x')]);
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0 finished',
      '1 Thought Let me think. e1 finished',
      '2 Action Finish e0 finished',
      `3 Action Input ${answerArgs('x')} e2 finished code=3`,
    ]);
    assert.deepEqual(backbone.requests[1]?.position, { attempt: 0, path: [0], expansion: 0 });
    assert.deepEqual(backbone.requests[1]?.snapshot.at(-1), { role: 'assistant', content: 'Let me think.' });
    // the Thought's own reply is a conversation of train_messages
    assert.deepEqual(trainRoles(generation), [
      ['system', 'user', 'assistant'],
      ['system', 'user', 'assistant', 'assistant:Finish'],
    ]);
  });

  test('content and a call: Thought, Action, Action Input; only the last node holds the reply', async () => {
    const { answer, backbone } = await search('DFS_woFilter_w2', [call(fn('alpha'), '{"a": 1}', 'I will call alpha.'), finish('x')]);
    assert.deepEqual(outline(answer).slice(0, 4), [
      '0 Action Input  e0 finished',
      '1 Thought I will call alpha. e0 finished',
      `2 Action ${fn('alpha')} e0 finished`,
      '3 Action Input {"a": 1} e1 finished code=0',
    ]);
    assert.deepEqual(backbone.requests[1]?.position, { attempt: 0, path: [0, 0, 0], expansion: 0 });
    assert.deepEqual(
      backbone.requests[1]?.snapshot.slice(2),
      [
        { role: 'assistant', content: 'I will call alpha.', function_call: { name: fn('alpha'), arguments: '{"a": 1}' } },
        { role: 'function', name: fn('alpha'), content: observationFor('alpha', 1) },
      ],
    );
  });

  test('a reply with neither content nor a call counts as an empty Thought (documented deviation from quirk 18)', async () => {
    const { answer, backbone } = await search('DFS_woFilter_w2', [reply({ role: 'assistant', content: null }), finish('x')]);
    assert.equal(backbone.remaining, 0);
    assert.deepEqual(outline(answer).slice(0, 2), ['0 Action Input  e0 finished', '1 Thought  e1 finished']);
  });
});

describe('DFSDT: a failed LLM call', () => {
  test('ok:false makes a pruned Thought with observation_code -1; the frame tries its next expansion', async () => {
    const { answer, backbone, generation, events } = await search('DFS_woFilter_w2', [fail('upstream exploded'), finish('x')]);
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0 finished',
      '1 Thought upstream exploded e1 pruned code=-1',
      '1 Action Finish e0 finished',
      `2 Action Input ${answerArgs('x')} e2 finished code=3`,
    ]);
    const thought = nodeAt(answer, [0]);
    assert.deepEqual(Object.keys(thought), ['is_terminal', 'pruned', 'finished', 'depth', 'node_type', 'description', 'Elo', 'observation_code', 'child_count', 'expand_num', 'children']);
    // a failed Thought is no candidate for the diversity prompt: the retry sees [system, user] only
    assert.deepEqual(
      backbone.requests[1]?.snapshot.map((message) => message.role),
      ['system', 'user'],
    );
    assert.deepEqual(backbone.requests[1]?.position, { attempt: 0, path: [], expansion: 1 });
    assert.equal(generation.query_count, 2);
    assert.equal(generation.total_tokens, 2 * DEFAULT_TOKENS);
    const llm = events.filter((event) => event.type === 'llm');
    assert.ok(llm[0]?.type === 'llm' && llm[0].ok === false && llm[0].error === 'upstream exploded');
  });

  test('with width 1 a failed call ends the search', async () => {
    const { generation, backbone } = await search('DFS_woFilter_w1', [fail('boom'), finish('x')]);
    assert.equal(backbone.remaining, 1);
    assert.equal(generation.valid_data, false);
  });
});

describe('DFSDT: width 3 and repeated diversity prompts', () => {
  const script = [
    call(fn('alpha'), '{}'),
    giveUp('a'),
    call(fn('beta'), '{}'),
    giveUp('b'),
    call(fn('gamma'), '{}'),
    finish('third time lucky'),
  ];

  test('the third expansion lists both earlier candidates; both diversity messages stay in the state', async () => {
    const { backbone } = await search('DFS_woFilter_w3', script);
    assert.equal(backbone.remaining, 0);
    const third = backbone.requests[4];
    assert.ok(third !== undefined);
    assert.deepEqual(
      third.snapshot.map((message) => `${message.role}${message.valid === false ? '(invalid)' : ''}`),
      ['system', 'user', 'user(invalid)', 'user'],
    );
    const candidate =
      '[\n' +
      `  {\n    "name": "${fn('alpha')}",\n    "arguments": "{}",\n    "function_output": "{\\"error\\": \\"\\", \\"response\\": \\"alpha#1\\"}",\n    "mento-carlo-action-value": 0.0\n  },\n` +
      `  {\n    "name": "${fn('beta')}",\n    "arguments": "{}",\n    "function_output": "{\\"error\\": \\"\\", \\"response\\": \\"beta#1\\"}",\n    "mento-carlo-action-value": 0.0\n  }\n` +
      ']\n';
    assert.equal(third.snapshot[3]?.content, diversityText(candidate), 'the root has no observation: no "again, your former observation"');
    const final = backbone.requests[5];
    assert.deepEqual(
      final?.snapshot.map((message) => `${message.role}${message.valid === false ? '(invalid)' : ''}`),
      ['system', 'user', 'user(invalid)', 'user(invalid)', 'assistant', 'function'],
    );
  });

  test('train_messages keep only the latest invalid message (§11)', async () => {
    const { generation, backbone } = await search('DFS_woFilter_w3', script);
    assert.deepEqual(trainRoles(generation), [
      ['system', 'user', 'user(invalid)', `assistant:${fn('gamma')}`],
      ['system', 'user', 'user(invalid)', `assistant:${fn('gamma')}`, 'function', 'assistant:Finish'],
    ]);
    const kept = asObject(asArray(asArray(generation.train_messages)[0])[2]);
    assert.equal(kept.content, backbone.requests[4]?.snapshot[3]?.content, 'the kept one is the latest (two candidates)');
  });
});

describe('DFSDT: the diversity prompt names calls as the model wrote them', () => {
  test('a hallucinated name appears unrenamed in the next diversity prompt', async () => {
    const script = [call(fn('alpha'), '{}'), call('no_such_thing', '{"x": 1}'), giveUp(), call(fn('beta'), '{}'), finish('x')];
    const { backbone } = await search('DFS_woFilter_w2', script);
    // x1 -> hallucinated call (status 1, search continues below it) -> give-up -> back to x1
    const retry = backbone.requests[3];
    assert.deepEqual(retry?.position, { attempt: 0, path: [0, 0], expansion: 1 });
    const text = String(retry?.snapshot.at(-1)?.content);
    assert.ok(text.includes('"name": "no_such_thing"'), text);
    assert.ok(text.includes('No such function name: no_such_thing'));
  });
});

describe('DFSDT: the answer file serializes', () => {
  test('pyjson of the whole answer has Python floats and no undefined values', async () => {
    const { answer } = await search('DFS_woFilter_w2', WORKED_EXAMPLE);
    const text = pyJsonDumps(answer, { indent: 2 });
    assert.ok(text.includes('"Elo": 1000.0'));
    assert.ok(!text.includes('undefined'));
    const reparsed = JSON.parse(text) as PyObject;
    assert.ok(isPyObject(reparsed.answer_generation));
  });
});

describe('DFSDT: an abort', () => {
  test('an aborted signal stops the search before the next LLM call, by rejecting', async () => {
    const controller = new AbortController();
    const env = new FakeEnv();
    const call0 = env.call.bind(env);
    env.call = async (api, args) => {
      controller.abort();
      return call0(api, args);
    };
    const backbone = new ScriptedBackbone([call(fn('alpha'), '{}'), finish('never')]);
    await assert.rejects(
      runSearch(makeTask(), { method: parseMethod('DFS_woFilter_w2'), backbone, env, maxDepth: 12, maxQueryCount: 200, seed: 0, signal: controller.signal }),
      (error: unknown) => error instanceof Error && error.name === 'AbortError',
    );
    assert.equal(backbone.requests.length, 1);
  });
});

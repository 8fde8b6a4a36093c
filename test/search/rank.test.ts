/**
 * DFS with LLM pairwise ranking (`DFS_wFilter_wN`, algorithms.md §9.3 step 4, §9.7;
 * prompts.md §1.8).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MessageList } from '../../src/search/message-list.js';
import { SearchNode } from '../../src/search/node.js';
import { trace } from '../../src/search/rank.js';
import {
  answerArgs,
  asObject,
  call,
  DEFAULT_TOKENS,
  finish,
  fn,
  giveUp,
  observationFor,
  outline,
  rank,
  search,
  TASK_DESCRIPTION,
} from './scripted.js';

/** prompts.md §1.8a and §1.8b, the exact JSON string literals. */
const RANK_SYSTEM =
  '\nYou are value-GPT, which is an expert of defining which trail is better, which trail is more close to solving the task. \nAll candidate tries to solve this task with some funciton calls:\n*******************************\n{{TASK_DESCRIPTION}}\n{task_description}\n{{END_TASK_DESCRIPTION}}\n*******************************\nFirst, all candidate do the following things:\n{intersect_trice}\nAfter that, there are two candidates A and B, they do different things:\n*******************************\n{{CANDIDATE_A_START}}\n{candidate_A}\n{{CANDIDATE_A_END}}\n*******************************\n{{CANDIDATE_B_START}}\n{candidate_B}\n{{CANDIDATE_B_END}}\nWhich try do you think is more helpful to solving the task?\n';
const RANK_USER = '\nTell me which candidate is better in ONE Word: "A" or "B":';

function rankSystem(intersect: string, a: string, b: string): string {
  return RANK_SYSTEM.replace('{task_description}', TASK_DESCRIPTION).replace('{intersect_trice}', intersect).replace('{candidate_A}', a).replace('{candidate_B}', b);
}

function steps(...entries: string[]): string {
  return entries.map((entry, index) => `step_${index + 1}: ${entry}\n`).join('');
}

/**
 * Root: candidates alpha (c1) and beta (c2); the model prefers beta both ways round ("Candidate A."
 * ends with "." so it counts as B). Below beta: a final answer (t) and gamma; t wins.
 */
const SCRIPT = [
  call(fn('alpha'), '{"a": 1}'),
  call(fn('beta'), '{"b": 2}'),
  rank('Candidate A.'),
  rank(' a \n'),
  finish('from beta'),
  call(fn('gamma'), '{}'),
  rank('A'),
  rank('B'),
];

describe('DFS_wFilter_w2', () => {
  test('candidates are generated first, ranked, then searched in score order', async () => {
    const { answer, backbone, generation } = await search('DFS_wFilter_w2', SCRIPT);
    assert.equal(backbone.remaining, 0);
    assert.deepEqual(
      backbone.requests.map((request) => request.purpose),
      ['agent', 'agent', 'rank', 'rank', 'agent', 'agent', 'rank', 'rank'],
    );
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0 finished',
      `1 Action ${fn('alpha')} e0`,
      '2 Action Input {"a": 1} e0 code=0',
      `1 Action ${fn('beta')} e0 finished`,
      '2 Action Input {"b": 2} e1 finished code=0',
      '3 Action Finish e0 finished',
      `4 Action Input ${answerArgs('from beta')} e2 finished code=3`,
      `3 Action ${fn('gamma')} e0`,
      '4 Action Input {} e0 code=0',
    ]);
    assert.equal(answer.win, true);
    assert.equal(generation.final_answer, answerArgs('from beta'));
    assert.equal(asObject(answer.forward_args).with_filter, true);
  });

  test('ranking calls count in query_count and total_tokens', async () => {
    const { generation, result, events, task, backbone } = await search('DFS_wFilter_w2', SCRIPT);
    assert.deepEqual(
      events.flatMap((event) => (event.type === 'llm' ? [event.purpose] : [])),
      ['agent', 'agent', 'rank', 'rank', 'agent', 'agent', 'rank', 'rank'],
    );
    assert.ok(backbone.requests.every((request) => request.functions === task.functions), 'ranking calls pass the function list too');
    assert.equal(generation.query_count, 8);
    assert.equal(generation.total_tokens, 8 * DEFAULT_TOKENS);
    assert.equal(result.queryCount, 8);
  });

  test('the ranking prompt: task description, common trace, numbered candidate traces', async () => {
    const { backbone } = await search('DFS_wFilter_w2', SCRIPT);
    const first = backbone.requests[2];
    assert.ok(first !== undefined);
    const alpha = steps(`Action: ${fn('alpha')}\n`, 'Action Input: {"a": 1}\n', `Observation: ${observationFor('alpha', 1)}\n`);
    const beta = steps(`Action: ${fn('beta')}\n`, 'Action Input: {"b": 2}\n', `Observation: ${observationFor('beta', 1)}\n`);
    assert.deepEqual(first.snapshot, [
      { role: 'system', content: rankSystem('None', alpha, beta) },
      { role: 'user', content: RANK_USER },
    ]);
    assert.equal(first.position, undefined);
    assert.equal(backbone.requests[3]?.snapshot[0]?.content, rankSystem('None', beta, alpha), 'the second call swaps A and B');

    const below = backbone.requests[6];
    const finishTrace = steps('Action: Finish\n', `Action Input: ${answerArgs('from beta')}\n`, 'Observation: {"response":"successfully giving the final answer."}\n');
    const gamma = steps(`Action: ${fn('gamma')}\n`, 'Action Input: {}\n', `Observation: ${observationFor('gamma', 1)}\n`);
    assert.equal(below?.snapshot[0]?.content, rankSystem(beta, finishTrace, gamma), 'the common part is the path down to the shared ancestor');
    assert.ok(String(first.snapshot[0]?.content).includes('{{TASK_DESCRIPTION}}'), 'double braces reach the model');
  });

  test('the diversity prompt is used between candidates too', async () => {
    const { backbone } = await search('DFS_wFilter_w2', SCRIPT);
    const second = backbone.requests[1];
    assert.equal(second?.snapshot.at(-1)?.role, 'user');
    assert.ok(String(second?.snapshot.at(-1)?.content).startsWith('This is not the first time you try this task'));
    assert.equal(second?.live.at(-1)?.valid, false);
    const belowBeta = backbone.requests[5];
    assert.ok(String(belowBeta?.snapshot.at(-1)?.content).includes(`again, your former observation: ${observationFor('beta', 1)}\n`));
  });

  test('a tie keeps the generation order', async () => {
    const script = [call(fn('alpha'), '{}'), call(fn('beta'), '{}'), rank('A'), rank('A'), finish('x'), giveUp(), rank('A'), rank('B')];
    const { answer, backbone } = await search('DFS_wFilter_w2', script);
    assert.equal(backbone.remaining, 0);
    assert.deepEqual(outline(answer).slice(0, 3), ['0 Action Input  e0 finished', `1 Action ${fn('alpha')} e0 finished`, '2 Action Input {} e1 finished code=0']);
    assert.equal(answer.win, true);
  });

  test('the decision is the last character of the stripped, lower-cased reply', async () => {
    /** Which root candidate (w1 = alpha, generated first; w2 = beta) is searched first, given the two replies. */
    const firstSearched = async (first: string, second: string): Promise<string> => {
      const script = [call(fn('alpha'), '{"w": 1}'), call(fn('beta'), '{"w": 2}'), rank(first), rank(second), finish('x'), finish('y'), rank('A'), rank('A')];
      const { answer, backbone } = await search('DFS_wFilter_w2', script);
      assert.equal(backbone.remaining, 0);
      const line = outline(answer).find((entry) => entry.startsWith('2 Action Input') && entry.includes(' e1'));
      assert.ok(line !== undefined);
      return line.includes('{"w": 1}') ? 'alpha' : 'beta';
    };
    // the first call shows alpha as A, the second (swapped) shows beta as A
    assert.equal(await firstSearched('The answer is a', 'B'), 'alpha', 'alpha wins both votes');
    assert.equal(await firstSearched('A.', '  A  '), 'beta', '"A." counts as B; "  A  " is stripped to A');
    assert.equal(await firstSearched('B', 'b'), 'alpha', 'one vote each: a tie keeps the generation order');
    assert.equal(await firstSearched('x', 'ya'), 'beta', 'anything not ending in a is B');
  });

  test('a ranking call can push query_count past the budget; the next agent call stops the search', async () => {
    const { generation, result, backbone } = await search('DFS_wFilter_w2', SCRIPT, { maxQueryCount: 4 });
    assert.equal(generation.query_count, 5);
    assert.equal(result.stoppedBy, 'max-query-count');
    assert.equal(backbone.requests[4]?.purpose, 'agent');
  });

  test('a single candidate is not ranked', async () => {
    const { backbone, answer } = await search('DFS_wFilter_w1', [call(fn('alpha'), '{}'), finish('x')]);
    assert.deepEqual(
      backbone.requests.map((request) => request.purpose),
      ['agent', 'agent'],
    );
    assert.equal(answer.win, true);
  });

  test('a give-up candidate: make_finish(2) on the frame and the parent state is abandoned', async () => {
    // root: alpha (c1) and a give-up (c2); ranking prefers the give-up, which ends the root frame
    const script = [call(fn('alpha'), '{}'), giveUp('stop'), rank('B'), rank('A')];
    const { answer, backbone, generation } = await search('DFS_wFilter_w2', script);
    assert.equal(backbone.remaining, 0);
    assert.equal(generation.finish_type, 'give_up');
    assert.deepEqual(outline(answer), [
      '0 Action Input  e0 finished',
      `1 Action ${fn('alpha')} e0`,
      '2 Action Input {} e0 code=0',
      '1 Action Finish e0',
      `2 Action Input ${'{\n  "return_type": "give_up_and_restart",\n  "final_answer": "stop"\n}'} e1 pruned code=4`,
    ]);
  });
});

describe('trace()', () => {
  test('an empty path is None', () => {
    assert.equal(trace([]), 'None');
  });

  test('observations longer than 1024 characters are cut, counting code points as Python does', () => {
    const root = SearchNode.root([]);
    const action = root.child('Action', 'f');
    const input = action.child('Action Input', '{}');
    input.observation = '😀'.repeat(1100);
    const text = trace([action, input]);
    assert.equal(text, steps('Action: f\n', 'Action Input: {}\n', `Observation: ${'😀'.repeat(1024)}...(len=1100)\n`));
    input.observation = 'x'.repeat(1024);
    assert.ok(trace([input]).endsWith(`Observation: ${'x'.repeat(1024)}\n\n`), 'exactly 1024 is kept whole');
  });

  test('a Thought is a step; nodes without observation have one entry', () => {
    const root = new SearchNode('Action Input', '', undefined, MessageList.of([]));
    const thought = root.child('Thought', 'plan');
    assert.equal(trace([thought]), 'step_1: Thought: plan\n\n');
  });
});

/**
 * CoT@N (ReACT, algorithms.md §8; formats.md §3.2).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PyObject } from '../../src/util/py-value.js';
import {
  answerArgs,
  asArray,
  asObject,
  call,
  DEFAULT_TOKENS,
  describeRecord,
  fail,
  finish,
  fn,
  giveUp,
  giveUpArgs,
  say,
  search,
  trainRoles,
} from './scripted.js';

function chains(answer: PyObject): string[][] {
  return asArray(answer.trys).map((attempt) => asArray(asObject(attempt).chain).map((record) => describeRecord(asObject(record))));
}

describe('CoT@2', () => {
  const script = [giveUp('cannot'), finish('got it')];

  test('a give-up ends the first attempt; the second answers', async () => {
    const { answer, generation, result, backbone } = await search('CoT@2', script);
    assert.equal(backbone.remaining, 0);
    assert.equal(answer.win, true);
    assert.equal(result.win, true);
    assert.equal(result.finishType, 'give_answer');
    assert.equal(answer.try_count, 2);
    assert.deepEqual(chains(answer), [
      ['1 Action Finish e0', `2 Action Input ${giveUpArgs('cannot')} e0 pruned code=4`],
      ['1 Action Finish e0', `2 Action Input ${answerArgs('got it')} e0 code=3`],
    ]);
    assert.equal(generation.valid_data, true);
    assert.equal(generation.final_answer, answerArgs('got it'));
    assert.equal(generation.query_count, 2);
    assert.equal(generation.total_tokens, 2 * DEFAULT_TOKENS);
    assert.deepEqual(answer.forward_args, { single_chain_max_step: 12, pass_at: 2, answer: 1 });
  });

  test('trys[*].win is the status before the attempt (quirk 32): false for both', async () => {
    const { answer } = await search('CoT@2', script);
    const trys = asArray(answer.trys);
    assert.deepEqual(
      trys.map((attempt) => asObject(attempt).win),
      [false, false],
    );
    assert.deepEqual(Object.keys(asObject(trys[0])), ['chain', 'win']);
  });

  test('compare_candidates hold the answered chain; train_messages come from it alone', async () => {
    const { answer, generation } = await search('CoT@2', script);
    const candidates = asArray(answer.compare_candidates);
    assert.equal(candidates.length, 1);
    assert.deepEqual(asArray(candidates[0]), asArray(asObject(asArray(answer.trys)[1]).chain));
    assert.deepEqual(trainRoles(generation), [['system', 'user', 'assistant:Finish']]);
  });

  test('each attempt starts from the root conversation', async () => {
    const { backbone } = await search('CoT@2', script);
    assert.deepEqual(
      backbone.requests.map((request) => request.position),
      [
        { attempt: 0, path: [], expansion: 0 },
        { attempt: 1, path: [], expansion: 0 },
      ],
    );
    assert.deepEqual(backbone.requests[1]?.snapshot, backbone.requests[0]?.snapshot);
    assert.equal(backbone.requests[1]?.snapshot.length, 2);
  });

  test('no make_finish and no expand_num in CoT', async () => {
    const { answer } = await search('CoT@2', [call(fn('alpha'), '{}', 'look'), finish('x')]);
    assert.deepEqual(chains(answer), [['1 Thought look e0', `2 Action ${fn('alpha')} e0`, '3 Action Input {} e0 code=0', '4 Action Finish e0', `5 Action Input ${answerArgs('x')} e0 code=3`]]);
  });
});

describe('CoT@N: stopping', () => {
  test('stops at the first success', async () => {
    const { answer, backbone } = await search('CoT@3', [finish('first'), finish('unused'), finish('unused')]);
    assert.equal(answer.try_count, 1);
    assert.equal(backbone.remaining, 2);
  });

  test('all attempts failing: invalid, empty final answer, train_messages [], no candidates', async () => {
    const { answer, generation, result } = await search('CoT@2', [giveUp(), fail('model down')]);
    assert.equal(answer.win, false);
    assert.equal(result.finishType, 'none');
    assert.equal(generation.valid_data, false);
    assert.equal(generation.final_answer, '');
    assert.deepEqual(generation.train_messages, []);
    assert.deepEqual(answer.compare_candidates, []);
    assert.deepEqual(chains(answer), [
      ['1 Action Finish e0', `2 Action Input ${giveUpArgs()} e0 pruned code=4`],
      ['1 Thought model down e0 pruned code=-1'],
    ]);
    assert.ok(!('finish_type' in generation), 'CoT has no finish_type');
  });

  test('the depth limit prunes the chain end (depth counts nodes)', async () => {
    const { answer, backbone } = await search('CoT@1', [call(fn('alpha'), '{}'), call(fn('beta'), '{}'), finish('never')], { maxDepth: 4 });
    assert.equal(backbone.remaining, 1);
    assert.deepEqual(chains(answer), [[`1 Action ${fn('alpha')} e0`, '2 Action Input {} e0 code=0', `3 Action ${fn('beta')} e0`, '4 Action Input {} e0 pruned code=0']]);
  });

  test('a final answer at the depth limit is not pruned', async () => {
    const { answer } = await search('CoT@1', [call(fn('alpha'), '{}'), finish('x')], { maxDepth: 4 });
    assert.equal(answer.win, true);
  });

  test('text-only replies and bad Finish input keep the chain going', async () => {
    const script = [say('Hmm.'), call('Finish', '{"final_answer": "no type"}'), call('nope', '{}'), finish('x')];
    const { answer, backbone, generation } = await search('CoT@1', script);
    assert.equal(backbone.remaining, 0);
    assert.equal(answer.win, true);
    assert.deepEqual(
      backbone.requests.map((request) => request.position?.path),
      [[], [0], [0, 0, 0], [0, 0, 0, 0, 0]],
    );
    assert.deepEqual(trainRoles(generation), [
      ['system', 'user', 'assistant'],
      ['system', 'user', 'assistant', 'assistant:Finish'],
      ['system', 'user', 'assistant', 'assistant:Finish', 'function', 'assistant:invalid_hallucination_function_name'],
      ['system', 'user', 'assistant', 'assistant:Finish', 'function', 'assistant:invalid_hallucination_function_name', 'function', 'assistant:Finish'],
    ]);
  });

  test('--max-query-count also bounds CoT (an extension: upstream has none)', async () => {
    const script = [call(fn('alpha'), '{}'), call(fn('beta'), '{}'), call(fn('gamma'), '{}')];
    const { answer, generation, result } = await search('CoT@1', script, { maxQueryCount: 2 });
    assert.equal(generation.query_count, 2);
    assert.equal(result.stoppedBy, 'max-query-count');
    assert.equal(asObject(answer.toolbench).stopped_by, 'max-query-count');
    assert.equal(answer.try_count, 1);
  });

  test(
    'the budget holds across attempts',
    async () => {
      const script = [call(fn('alpha'), '{}'), giveUp(), finish('over budget')];
      const { generation, result } = await search('CoT@3', script, { maxQueryCount: 2 });
      assert.ok(Number(generation.query_count) <= 2, `query_count ${String(generation.query_count)} exceeds the budget 2`);
      assert.equal(result.stoppedBy, 'max-query-count');
    },
  );
});

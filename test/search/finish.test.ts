/**
 * The `Finish` function (algorithms.md §5.1, prompts.md §1.6): JSON arguments, upstream's
 * substring fallback for text that is not JSON, and the observations and statuses.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finishCall, parseFinishArguments } from '../../src/search/finish.js';
import { call, finish, nodeAt, outline, search, trainRoles } from './scripted.js';

/** prompts.md §1.6, verbatim. */
const OBSERVATION = {
  missingReturnType: '{error:"must have "return_type""}',
  giveUp: '{"response":"chose to give up and restart"}',
  missingFinalAnswer: '{error:"must have "final_answer""}',
  finalAnswer: '{"response":"successfully giving the final answer."}',
  badReturnType: '{error:""return_type" is not a valid choice"}',
};

describe('finishCall', () => {
  const cases: [string, string, string, number][] = [
    ['give_answer', '{"return_type": "give_answer", "final_answer": "Paris"}', OBSERVATION.finalAnswer, 3],
    ['give_answer with an empty answer', '{"return_type": "give_answer", "final_answer": ""}', OBSERVATION.finalAnswer, 3],
    ['give_answer with a non-string answer', '{"return_type": "give_answer", "final_answer": 12}', OBSERVATION.finalAnswer, 3],
    ['give_answer without final_answer', '{"return_type": "give_answer"}', OBSERVATION.missingFinalAnswer, 2],
    ['give_up_and_restart', '{"return_type": "give_up_and_restart"}', OBSERVATION.giveUp, 4],
    ['no return_type', '{"final_answer": "Paris"}', OBSERVATION.missingReturnType, 2],
    ['another return_type', '{"return_type": "answer", "final_answer": "Paris"}', OBSERVATION.badReturnType, 2],
    ['a null return_type', '{"return_type": null}', OBSERVATION.badReturnType, 2],
    ['empty arguments', '', OBSERVATION.missingReturnType, 2],
    ['Python-style quotes (no fallback mark)', "{'return_type': 'give_answer', 'final_answer': 'x'}", OBSERVATION.missingReturnType, 2],
    // upstream crashes on JSON that is not an object; the engine reads it as an object without keys
    ['JSON that is not an object', '["give_answer"]', OBSERVATION.missingReturnType, 2],
  ];
  for (const [name, args, observation, status] of cases) {
    test(name, () => {
      assert.deepEqual(finishCall(args), { observation, status });
    });
  }

  test('raw control characters inside strings are allowed (strict=False)', () => {
    const args = '{"return_type": "give_answer", "final_answer": "line one\nline two\ttab"}';
    assert.deepEqual(parseFinishArguments(args), { return_type: 'give_answer', final_answer: 'line one\nline two\ttab' });
    assert.equal(finishCall(args).status, 3);
  });
});

describe('the fallback for arguments that are not JSON (§5.1 step 2, quirk 9)', () => {
  test('give_answer with unescaped quotes: final_answer is everything after the mark, closing quote and brace included', () => {
    const args = '{"return_type": "give_answer", "final_answer": "He said "hi" twice"}';
    assert.deepEqual(parseFinishArguments(args), { return_type: 'give_answer', final_answer: 'He said "hi" twice"}' });
    assert.deepEqual(finishCall(args), { observation: OBSERVATION.finalAnswer, status: 3 });
  });

  test('give_up_and_restart is recognised by its exact text', () => {
    const args = '{"return_type": "give_up_and_restart", oops}';
    assert.deepEqual(parseFinishArguments(args), { return_type: 'give_up_and_restart' });
    assert.equal(finishCall(args).status, 4);
  });

  test('give_answer wins over give_up_and_restart when both texts occur', () => {
    const args = '{"return_type": "give_up_and_restart", "return_type": "give_answer" broken';
    assert.equal(parseFinishArguments(args).return_type, 'give_answer');
    assert.equal(finishCall(args).status, 2, 'no final_answer mark');
  });

  test('another return_type: the text between the mark and the first `",` of the whole string', () => {
    assert.deepEqual(parseFinishArguments('{"return_type": "maybe", "final_answer": "x" oops'), { return_type: 'maybe', final_answer: 'x" oops' });
    assert.equal(finishCall('{"return_type": "maybe", "final_answer": "x" oops').status, 2);
    assert.equal(finishCall('{"return_type": "maybe", "final_answer": "x" oops').observation, OBSERVATION.badReturnType);
  });

  test('Python slicing: no `",` means an end index of -1 (the last character is dropped)', () => {
    assert.deepEqual(parseFinishArguments('{"return_type": "maybe" }}'), { return_type: 'maybe" }' });
  });

  test('Python slicing: a `",` before the mark gives an empty return_type', () => {
    assert.deepEqual(parseFinishArguments('{"note": "a", "return_type": "weird'), { return_type: '' });
    assert.equal(finishCall('{"note": "a", "return_type": "weird').observation, OBSERVATION.badReturnType);
  });

  test('a final_answer mark without a return_type mark is still a missing return_type', () => {
    const args = '{"final_answer": "x" broken';
    assert.deepEqual(parseFinishArguments(args), { final_answer: 'x" broken' });
    assert.deepEqual(finishCall(args), { observation: OBSERVATION.missingReturnType, status: 2 });
  });

  test('the marks need the exact spacing `": "`', () => {
    assert.deepEqual(parseFinishArguments('{"return_type":"give_answer","final_answer":"x" broken'), {});
  });
});

describe('Finish inside a search', () => {
  test('malformed but recognisable arguments answer the query; final_answer is the raw text', async () => {
    const args = '{"return_type": "give_answer", "final_answer": "He said "hi""}';
    const { answer, generation } = await search('DFS_woFilter_w2', [call('Finish', args)]);
    assert.equal(answer.win, true);
    assert.equal(generation.final_answer, args);
    assert.equal(nodeAt(answer, [0, 0]).observation_code, 3);
  });

  test('missing return_type: status 2, the observation goes back to the model, the search continues below', async () => {
    const args = '{"final_answer": "forgot the type"}';
    const { answer, backbone, generation } = await search('DFS_woFilter_w2', [call('Finish', args), finish('ok')]);
    assert.deepEqual(outline(answer).slice(0, 3), ['0 Action Input  e0 finished', '1 Action Finish e0 finished', `2 Action Input ${args} e1 finished code=2`]);
    const node = nodeAt(answer, [0, 0]);
    assert.equal(node.observation, OBSERVATION.missingReturnType);
    assert.equal(node.pruned, false);
    assert.deepEqual(backbone.requests[1]?.snapshot.at(-1), { role: 'function', name: 'Finish', content: OBSERVATION.missingReturnType });
    assert.deepEqual(backbone.requests[1]?.position, { attempt: 0, path: [0, 0], expansion: 0 });
    assert.deepEqual(trainRoles(generation), [
      ['system', 'user', 'assistant:Finish'],
      ['system', 'user', 'assistant:Finish', 'function', 'assistant:Finish'],
    ]);
  });

  test('give_answer without final_answer and an invalid return_type continue too', async () => {
    const { answer } = await search('DFS_woFilter_w1', [call('Finish', '{"return_type": "give_answer"}'), call('Finish', '{"return_type": "done"}'), finish('ok')]);
    assert.equal(nodeAt(answer, [0, 0]).observation, OBSERVATION.missingFinalAnswer);
    assert.equal(nodeAt(answer, [0, 0, 0, 0]).observation, OBSERVATION.badReturnType);
    assert.equal(answer.win, true);
  });
});

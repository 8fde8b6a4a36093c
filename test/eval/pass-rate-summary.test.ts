/** Pass-rate numbers from verdicts (tooleval.md §4, §5), and a judge endpoint that is down. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadEvaluator } from '../../src/eval/evaluator-config.js';
import { passRateSummary, type VerdictTable } from '../../src/eval/pass-rate-results.js';
import type { RunVerdict } from '../../src/eval/pass-rate-job.js';
import { createJudge, readLabel, UNREACHABLE_AFTER } from '../../src/eval/judge.js';
import { JudgeCallError } from '../../src/eval/judge-transport.js';
import { ToolbenchError } from '../../src/util/errors.js';

const IDENTITY = { evaluator: 'e', model: 'm', template_sha256: 't', config_sha256: 'c' };
const pass: RunVerdict = { answerStatus: 'Solved', taskStatus: 'Solvable', label: 'passed' };
const fail: RunVerdict = { answerStatus: 'Unsolved', taskStatus: 'Solvable', label: 'failed' };

function summary(verdicts: VerdictTable, testIds: string[], answered = testIds) {
  return passRateSummary({ complete: true, protocol: 'toolbench', testSet: 'G1_instruction', model: 'x', judge: IDENTITY, evaluateTimes: 4, testIds, answered: new Set(answered), verdicts });
}

describe('toolbench pass rate', () => {
  test('a query passes when it failed no more often than it passed (ties pass)', () => {
    const verdicts: VerdictTable = new Map([
      ['1', new Map([[0, pass], [1, pass], [2, fail], [3, fail]])],
      ['2', new Map([[0, pass], [1, fail], [2, fail], [3, fail]])],
    ]);
    assert.equal(summary(verdicts, ['1', '2']).rate, 50);
  });

  test('runs without a verdict count as failures, in the headline as in the runs', () => {
    // one pass and three runs the judge never finished: not a passed query
    const verdicts: VerdictTable = new Map([['1', new Map([[0, pass]])]]);
    const result = summary(verdicts, ['1']);
    assert.equal(result.rate, 0);
    assert.deepEqual(result.runs.map((run) => run.rate), [100, 0, 0, 0]);
    assert.equal(result.counts.errors, 3);
  });

  test('missing answers stay in the denominator; rate_answered_only leaves them out', () => {
    const verdicts: VerdictTable = new Map([['1', new Map([[0, pass], [1, pass], [2, pass], [3, pass]])]]);
    const result = summary(verdicts, ['1', '2'], ['1']);
    assert.equal(result.rate, 50);
    assert.equal(result.rate_answered_only, 100);
    assert.deepEqual(result.missing_ids, ['2']);
    assert.equal(result.counts.missing, 4);
  });
});

describe('a judge endpoint that is down', () => {
  test(`stops the run after ${UNREACHABLE_AFTER} failed requests in a row`, async () => {
    let sent = 0;
    const judge = createJudge({
      evaluator: loadEvaluator('tooleval_gpt-3.5-turbo_default'),
      transport: {
        async send() {
          sent++;
          throw new JudgeCallError('connection refused');
        },
      },
      shape: 'functions',
      attempts: 3,
    });
    const ask = () =>
      judge.call({ label: 'q', sample: 0, calls: [] }, 'check_answer_status', { query: 'q', answer: 'a' }, { returnReason: false }, readLabel('answer_status', ['Solved']));
    const outcomes: unknown[] = [];
    for (let index = 0; index < 10 && !(outcomes.at(-1) instanceof ToolbenchError); index++) outcomes.push(await ask().catch((error: unknown) => error));
    const last = outcomes.at(-1);
    assert.ok(last instanceof ToolbenchError, String(last));
    assert.equal(last.code, 'llm.unreachable');
    assert.equal(sent, UNREACHABLE_AFTER);
  });
});

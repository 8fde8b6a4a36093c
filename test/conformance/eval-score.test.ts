/**
 * Conformance: ToolEval scores re-computed from the real upstream result files.
 *
 * - StableToolBench's pass-rate results (data_example/pass_rate_results) re-scored with
 *   `--judge replay:` give upstream's JSON and CSV back byte for byte: the answer_steps and
 *   final_step texts are rebuilt from the converted answers, the verdicts come from the file.
 * - The numbers: SoPR of the example runs, as upstream's script would print them.
 * - The leaderboard CSV shipped with ToolEval: every row's overall win rate and standard errors
 *   follow from its per-set win rates (the per-query preferences are not shipped; each set's
 *   rate times its query count gives how many queries were won).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { leaderboardHeader, leaderboardRow } from '../../src/eval/leaderboard.js';
import { runToolbench } from '../helpers/cli.js';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/paths.js';

const EXAMPLE = 'stabletoolbench/data_example';

describe('eval pass-rate --judge replay: reproduces StableToolBench result files', { skip: SKIP_WITHOUT_DATA }, () => {
  const expected: Record<string, { rate: number; solved: number; unsolved: number }> = {
    virtual_chatgpt_cot: { rate: 200 / 3, solved: 6, unsolved: 3 },
    virtual_chatgpt_dfs: { rate: 100, solved: 9, unsolved: 0 },
  };
  for (const model of Object.keys(expected)) {
    test(model, async () => {
      const out = mkdtempSync(join(tmpdir(), 'eval-score-conf-'));
      const recorded = dataPath(EXAMPLE, 'pass_rate_results', model, `G1_instruction_${model}`);
      const result = await runToolbench([
        'eval', 'pass-rate',
        '--converted', dataPath(EXAMPLE, 'model_predictions_converted'),
        '--model', model,
        '--test-ids', dataPath('stabletoolbench/solvable_queries_example/test_query_ids'),
        '--out', out,
        '--judge', `replay:${recorded}.json`,
        '--json',
      ]);
      assert.equal(result.code, 0, result.stderr);
      const written = join(out, model, `G1_instruction_${model}`);
      assert.equal(readFileSync(`${written}.json`, 'utf8'), readFileSync(`${recorded}.json`, 'utf8'));
      assert.equal(readFileSync(`${written}.csv`, 'utf8'), readFileSync(`${recorded}.csv`, 'utf8'));
      const summary = JSON.parse(result.stdout);
      assert.equal(summary.protocol, 'stable');
      assert.equal(summary.evaluate_times, 3);
      assert.equal(summary.total, 3);
      assert.deepEqual(summary.missing_ids, []);
      assert.ok(Math.abs(summary.rate - expected[model]!.rate) < 1e-9, `rate ${summary.rate}`);
      assert.equal(summary.std, 0);
      assert.equal(summary.counts.solved, expected[model]!.solved);
      assert.equal(summary.counts.unsolved, expected[model]!.unsolved);
    });
  }

  test('a test id without an answer stays in the denominator', async () => {
    const out = mkdtempSync(join(tmpdir(), 'eval-score-conf-'));
    const ids = join(out, 'ids');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(ids);
    writeFileSync(join(ids, 'G1_instruction.json'), '{"588": 0, "608": 0, "1073": 0, "9999": 0}');
    const model = 'virtual_chatgpt_dfs';
    const result = await runToolbench([
      'eval', 'pass-rate', '--converted', dataPath(EXAMPLE, 'model_predictions_converted'), '--model', model, '--test-ids', ids, '--out', join(out, 'r'),
      '--judge', `replay:${dataPath(EXAMPLE, 'pass_rate_results', model, `G1_instruction_${model}.json`)}`, '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.total, 4);
    assert.deepEqual(summary.missing_ids, ['9999']);
    assert.equal(summary.rate, 75);
    assert.equal(summary.rate_answered_only, 100);
    assert.equal(summary.counts.missing, 3);
  });
});

describe('leaderboard rows follow from their per-set win rates', { skip: SKIP_WITHOUT_DATA }, () => {
  const file = dataPath('toolbench/toolbench/tooleval/results/leaderboard###default_evalset###tooleval_gpt-3.5-turbo_normalized###gpt-3.5-turbo_CoT.csv');
  const referenceDir = 'toolbench/toolbench/tooleval/results/default_evalset/gpt-3.5-turbo_CoT';

  test('header, overall win rate and standard errors of every row', () => {
    const [header = '', ...rows] = readFileSync(file, 'utf8').trim().split('\n');
    const columns = header.split(',');
    const subsets = columns.filter((column) => column.endsWith('_WinRate')).map((column) => column.slice(0, -'_WinRate'.length));
    assert.equal(leaderboardHeader(subsets), header);
    // each subset has 100 reference queries; the method answered 99 of G2_instruction in one row
    const sizes = Object.fromEntries(subsets.map((subset) => [subset, Object.keys(JSON.parse(readFileSync(dataPath(referenceDir, `${subset}.json`), 'utf8'))).length]));
    for (const line of rows) {
      const cells = line.split(',');
      const value = (name: string): number => Number(cells[columns.indexOf(name)]);
      const method = cells[0] as string;
      if (method === 'gpt-3.5-turbo_CoT') {
        // the reference against itself is written as 0.5 with no error, by definition
        assert.deepEqual(cells.slice(1).map(Number), columns.slice(1).map((column) => (column.endsWith('WinRate') ? 0.5 : 0)));
        continue;
      }
      const perSet = subsets.map((name) => {
        const rate = value(`${name}_WinRate`);
        // the set's size: 100, or the count that makes rate × n a whole number of wins
        const n = [sizes[name] as number, 99, 98].find((candidate) => Math.abs(rate * candidate - Math.round(rate * candidate)) < 1e-9) as number;
        const wins = Math.round(rate * n);
        return { name, preferences: Array.from({ length: n }, (_, index) => (index < wins ? 1 : 0)) };
      });
      const row = leaderboardRow(method, perSet);
      const close = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 1e-12, `${method} ${what}: ${actual} vs ${expected}`);
      close(row.winRate, value('WinRate'), 'WinRate');
      close(row.stdError, value('StdError'), 'StdError');
      for (const subset of row.subsets) {
        close(subset.winRate, value(`${subset.name}_WinRate`), `${subset.name}_WinRate`);
        close(subset.stdError, value(`${subset.name}_StdError`), `${subset.name}_StdError`);
      }
    }
  });
});

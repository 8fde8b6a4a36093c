/**
 * `toolbench eval pass-rate`: ToolEval's pass rate (ToolBench) or SoPR (StableToolBench) of one
 * model's converted answers, per test set (tooleval.md §4, §5).
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { requireJudgeFunctions } from '../eval/evaluator-config.js';
import { TEST_SETS, convertedFilePath, readConvertedFile, readTestIds } from '../eval/converted.js';
import { readPassRateJson, type RecordedPassRate } from '../eval/pass-rate-results.js';
import { runPassRateSet, type PassRateSetResult } from '../eval/pass-rate.js';
import type { Protocol } from '../eval/summary.js';
import { usageError } from '../util/errors.js';
import { addJudgeOptions, integerFlag, judgedSetRun, judgeFlagsOf, judgeSetupFromFlags, runSettings, replayTestSet, testSetOfFile, type JudgeFlags } from './eval-judge-options.js';
import { listenForInterrupt } from './interrupt.js';
import { createReporter, type CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { PROCESS_STOP_SIGNALS, type StopSignals } from './serve-tools.js';

interface PassRateFlags extends JudgeFlags {
  converted: string;
  model: string;
  testIds: string;
  out: string;
  testSet?: string[];
  color?: boolean;
}

export function registerEvalPassRate(evaluation: Command, io: CliIo, outcome: CommandOutcome, signals: StopSignals = PROCESS_STOP_SIGNALS): void {
  const command = evaluation
    .command('pass-rate')
    .description('pass rate (ToolBench) or solvable pass rate, SoPR (StableToolBench) of converted answers, judged by an LLM')
    .requiredOption('--converted <dir>', 'converted answers: <dir>/<model>/<test_set>.json (eval convert writes them)')
    .requiredOption('--model <name>', 'the model folder inside --converted')
    .requiredOption('--test-ids <dir>', 'test-id files <dir>/<test_set>.json: every id listed is in the denominator')
    .requiredOption('--out <dir>', 'result folder (stable: results go to <dir>/<model>/, as upstream)')
    .option('--test-set <names...>', `test sets (default: those with a converted file among ${TEST_SETS.join(', ')})`);
  addJudgeOptions(command, { workers: 20, evaluateTimes: 4 })
    .addHelpText(
      'after',
      `
The denominator is always the whole test-id list: an answer that is missing or cannot be read
counts as a failure and is listed in the summary. For each test set the command writes upstream's
<set>_<model>.json and .csv, a .summary.json (rate, population std across evaluation runs, verdict
counts, missing ids, judge model and template hash) and a .judge.jsonl audit log holding every
judge reply. Judge replies are cached by request hash, so running again costs nothing; an
interrupted run resumes from --out. Exit 3 when the judge could not finish some runs.

Examples:
  $ OPENAI_API_KEY=... toolbench eval pass-rate --converted converted --model chatgpt_dfs --test-ids solvable_queries/test_query_ids --out pass_rate_results --protocol stable --judge gpt-4-turbo-2024-04-09 --evaluate-times 3
  $ toolbench eval pass-rate --converted converted --model chatgpt_dfs --test-ids test_query_ids --out results --base-url http://localhost:8000/v1 --judge Qwen2.5-72B-Instruct --test-set G1_instruction G1_tool
  $ toolbench eval pass-rate --converted converted --model chatgpt_dfs --test-ids test_query_ids --out rescored --judge replay:pass_rate_results/G1_instruction_chatgpt_dfs.judge.jsonl
  $ toolbench eval pass-rate --converted model_predictions_converted --model virtual_chatgpt_dfs --test-ids test_query_ids --out rescored --judge replay:pass_rate_results/virtual_chatgpt_dfs/G1_instruction_virtual_chatgpt_dfs.json --json`,
    )
    .action(async (_flags: unknown, self: Command) => passRate(judgeFlagsOf<PassRateFlags>(self), io, outcome, signals));
}

async function passRate(flags: PassRateFlags, io: CliIo, outcome: CommandOutcome, signals: StopSignals): Promise<void> {
  const reporter = createReporter(io, { color: flags.color });
  const setup = judgeSetupFromFlags(flags, io.env);
  const workers = integerFlag('--workers', flags.workers, 1);
  const recorded: RecordedPassRate | undefined = setup.kind === 'replay-results' ? readPassRateJson(setup.file) : undefined;
  const { protocol, seed, shape } = runSettings(
    flags,
    setup,
    recorded !== undefined ? { protocol: recorded.protocol } : setup.kind === 'replay-log' ? { protocol: setup.header.protocol as Protocol, seed: setup.header.seed } : undefined,
  );
  let testSets = flags.testSet;
  if (setup.kind === 'replay-results') testSets = [replayTestSet(flags.testSet, testSetOfFile(basename(setup.file)), setup.file)];
  else if (setup.kind === 'replay-log') testSets = [replayTestSet(flags.testSet, setup.header.test_set, setup.file)];
  if (setup.kind !== 'replay-results') {
    const needed = ['check_answer_status', 'parse_answer_status', ...(protocol === 'toolbench' ? ['check_task_solvable'] : [])];
    requireJudgeFunctions(setup.judge.evaluator, needed, 'judge a pass rate');
  }
  if (!existsSync(flags.converted)) throw usageError(`--converted ${flags.converted}: no such folder`);
  testSets ??= defaultTestSets(flags.converted, flags.model);
  const evaluateTimes =
    flags.evaluateTimes !== undefined
      ? integerFlag('--evaluate-times', flags.evaluateTimes, 1)
      : setup.kind === 'replay-results'
        ? Math.max(1, recorded!.runs)
        : setup.kind === 'replay-log'
          ? Math.max(1, ...setup.entries.map((entry) => entry.run + 1))
          : 4;

  const interrupt = listenForInterrupt(signals, reporter, 'everything judged so far is written', { listeners: workers + 20, resume: true });
  const showProgress = !flags.json && io.stderr.isTTY === true && io.env.TERM !== 'dumb';
  const results: PassRateSetResult[] = [];
  try {
    for (const testSet of testSets) {
      const testIds = readTestIds(flags.testIds, testSet);
      const file = convertedFilePath(flags.converted, flags.model, testSet);
      const converted = readConvertedFile(file);
      if (converted.answers.size === 0 && converted.unreadable.size === 0) reporter.warn(`${testSet}: no converted answers at ${file}: all ${testIds.length} test ids count as missing`);
      for (const problem of converted.unreadable.values()) reporter.warn(`unreadable answer, counted as missing: ${problem}`);
      const listed = new Set(testIds);
      const extra = [...converted.answers.keys()].filter((qid) => !listed.has(qid)).length;
      if (extra > 0) reporter.warn(`${testSet}: ${extra} converted answers are not in the test ids and are not scored`);
      let lastShown = 0;
      const result = await runPassRateSet({
        ...judgedSetRun(flags, setup, { protocol, seed, shape, workers }, interrupt.signal, reporter),
        testSet,
        model: flags.model,
        testIds,
        converted,
        evaluateTimes,
        ...(recorded !== undefined ? { recorded } : {}),
        ...(showProgress
          ? {
              onQueryDone: (done: number, total: number) => {
                if (done !== total && Date.now() - lastShown < 200) return;
                lastShown = Date.now();
                io.stderr.write(`\r${testSet}: ${done}/${total} queries judged${done === total ? '\n' : ''}`);
              },
            }
          : {}),
      });
      results.push(result);
      if (result.failures.length > 0) outcome.partial = true;
      report(result, flags, io, reporter);
    }
  } finally {
    interrupt.stop();
  }
}

function report(result: PassRateSetResult, flags: PassRateFlags, io: CliIo, reporter: ReturnType<typeof createReporter>): void {
  const { summary } = result;
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ ...summary, files: result.files })}\n`);
    return;
  }
  const name = summary.protocol === 'stable' ? 'SoPR' : 'pass rate';
  const missing = summary.missing_ids.length > 0 ? `, ${summary.missing_ids.length} missing counted as failures` : '';
  const errors = summary.counts.errors > 0 ? `, ${summary.counts.errors} runs without a verdict` : '';
  reporter.info(
    `${summary.test_set}: ${name} ${summary.rate.toFixed(1)}% ±${summary.std.toFixed(1)} over ${summary.total} test ids` +
      ` (${summary.evaluate_times} runs${missing}${errors}; judge ${summary.judge.model}) -> ${result.files.json}`,
  );
}

/** `G1_instruction_<model>.json` → `G1_instruction`. */
function defaultTestSets(convertedDir: string, model: string): string[] {
  const folder = join(convertedDir, model);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    throw usageError(`--converted ${convertedDir} --model ${model}: no folder ${folder}`);
  }
  const present = names.filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -'.json'.length));
  const known = TEST_SETS.filter((set) => present.includes(set));
  const sets = [...known, ...present.filter((set) => !(TEST_SETS as readonly string[]).includes(set)).sort()];
  if (sets.length === 0) throw usageError(`${folder}: no converted answer files (<test_set>.json)`);
  return sets;
}

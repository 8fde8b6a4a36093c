/**
 * `toolbench eval preference`: win rate (ToolBench) or SoWR (StableToolBench) of a candidate
 * model against a reference model, per test set (tooleval.md §6).
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { TEST_SETS, convertedFilePath, readConvertedFile, readTestIds, type ConvertedFile } from '../eval/converted.js';
import { requireJudgeFunctions } from '../eval/evaluator-config.js';
import { readPassRateJson } from '../eval/pass-rate-results.js';
import { readPreferenceJson, type RecordedPreference } from '../eval/preference-results.js';
import { runPreferenceSet, type PassRateView, type PreferenceSetResult } from '../eval/preference.js';
import type { Protocol } from '../eval/summary.js';
import type { AnswerStatus } from '../eval/tooleval-judge.js';
import { usageError } from '../util/errors.js';
import { addJudgeOptions, integerFlag, judgedSetRun, judgeFlagsOf, judgeSetupFromFlags, runSettings, replayTestSet, testSetOfFile, type JudgeFlags } from './eval-judge-options.js';
import { listenForInterrupt } from './interrupt.js';
import { createReporter, type CliIo, type Reporter } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { PROCESS_STOP_SIGNALS, type StopSignals } from './serve-tools.js';

interface PreferenceFlags extends JudgeFlags {
  converted: string;
  reference: string;
  candidate: string;
  testIds: string;
  out: string;
  passRate?: string;
  usePassRate?: boolean;
  testSet?: string[];
  color?: boolean;
}

export function registerEvalPreference(evaluation: Command, io: CliIo, outcome: CommandOutcome, signals: StopSignals = PROCESS_STOP_SIGNALS): void {
  const command = evaluation
    .command('preference')
    .description('win rate (ToolBench) or SoWR (StableToolBench) of a candidate model against a reference, judged by an LLM')
    .requiredOption('--converted <dir>', 'converted answers: <dir>/<model>/<test_set>.json for both models')
    .requiredOption('--reference <name>', 'the reference model folder inside --converted')
    .requiredOption('--candidate <name>', 'the model compared with it')
    .requiredOption('--test-ids <dir>', 'test-id files <dir>/<test_set>.json: every id listed is in the denominator')
    .requiredOption('--out <dir>', 'result folder: <set>_<reference>_<candidate>.{json,csv,summary.json,judge.jsonl}')
    .option('--pass-rate <dir>', 'pass-rate results of both models (eval pass-rate --out): a round where one passed and the other failed is decided without the judge')
    .option('--use-pass-rate', 'also give the judge the pass-rate answer and task statuses instead of judging each answer again (needs --pass-rate)')
    .option('--test-set <names...>', `test sets (default: those with converted files for both models among ${TEST_SETS.join(', ')})`);
  addJudgeOptions(command, { workers: 10, evaluateTimes: 2 })
    .addHelpText(
      'after',
      `
Each test id gets --evaluate-times rounds; a round votes for the reference or the candidate. A
missing answer votes for the other model. A query is a win when the candidate has more votes, a
loss when it has fewer, a tie otherwise: ties are reported on their own, never as half wins. The
answers are shown to the judge in a seeded random order, and their pass-rate statuses follow them
(upstream swaps the answers but not the statuses). Results are written as upstream's JSON and CSV,
a .summary.json and a .judge.jsonl audit log; --judge replay:FILE re-scores from either the log or
an upstream preference JSON.

Examples:
  $ OPENAI_API_KEY=... toolbench eval preference --converted converted --reference chatgpt_cot --candidate chatgpt_dfs --test-ids test_query_ids --pass-rate pass_rate_results --out preference_results
  $ toolbench eval preference --converted converted --reference chatgpt_cot --candidate toolllama_dfs --test-ids solvable_queries/test_query_ids --protocol stable --evaluate-times 3 --out sowr --base-url http://localhost:8000/v1 --judge Qwen2.5-72B-Instruct
  $ toolbench eval preference --converted model_predictions_converted --reference virtual_chatgpt_cot --candidate virtual_chatgpt_dfs --test-ids test_query_ids --out rescored --judge replay:preference_results/G1_instruction_virtual_chatgpt_cot_virtual_chatgpt_dfs.json --protocol stable`,
    )
    .action(async (_flags: unknown, self: Command) => preference(judgeFlagsOf<PreferenceFlags>(self), io, outcome, signals));
}

async function preference(flags: PreferenceFlags, io: CliIo, outcome: CommandOutcome, signals: StopSignals): Promise<void> {
  const reporter = createReporter(io, { color: flags.color });
  if (flags.usePassRate && flags.passRate === undefined) throw usageError('--use-pass-rate needs --pass-rate DIR (the pass-rate results of both models)');
  if (flags.reference === flags.candidate) throw usageError(`--reference and --candidate are both ${flags.reference}`);
  const setup = judgeSetupFromFlags(flags, io.env);
  const workers = integerFlag('--workers', flags.workers, 1);
  const { protocol, seed, shape } = runSettings(flags, setup, setup.kind === 'replay-log' ? { protocol: setup.header.protocol as Protocol, seed: setup.header.seed } : undefined);
  let testSets = flags.testSet;
  let recorded: RecordedPreference | undefined;
  if (setup.kind === 'replay-results') {
    recorded = readPreferenceJson(setup.file, flags.reference, flags.candidate);
    testSets = [replayTestSet(flags.testSet, testSetOfFile(basename(setup.file)), setup.file)];
  } else {
    const evaluator = setup.judge.evaluator;
    if (evaluator.className === 'OpenAIEvaluator') {
      if (evaluator.messages.length === 0) throw usageError(`--evaluator ${evaluator.name}: a ${evaluator.className} template needs <message> blocks (role, content)`);
    } else requireJudgeFunctions(evaluator, ['check_answer_status', 'parse_answer_status', 'check_task_solvable', 'select_better_answer'], 'judge preferences');
    if (setup.kind === 'replay-log') testSets = [replayTestSet(flags.testSet, setup.header.test_set, setup.file)];
  }
  if (!existsSync(flags.converted)) throw usageError(`--converted ${flags.converted}: no such folder`);
  testSets ??= TEST_SETS.filter((set) => existsSync(convertedFilePath(flags.converted, flags.reference, set)) || existsSync(convertedFilePath(flags.converted, flags.candidate, set)));
  if (testSets.length === 0) throw usageError(`--converted ${flags.converted}: no <test_set>.json for ${flags.reference} or ${flags.candidate}`);
  const rounds =
    flags.evaluateTimes !== undefined
      ? integerFlag('--evaluate-times', flags.evaluateTimes, 1)
      : recorded !== undefined
        ? Math.max(1, recorded.rounds)
        : setup.kind === 'replay-log'
          ? Math.max(1, ...setup.entries.map((entry) => entry.run + 1))
          : 2;

  const interrupt = listenForInterrupt(signals, reporter, 'everything judged so far is written', { listeners: workers + 20, resume: true });
  try {
    for (const testSet of testSets) {
      const testIds = readTestIds(flags.testIds, testSet);
      const converted = { reference: openConverted(flags, flags.reference, testSet, reporter), candidate: openConverted(flags, flags.candidate, testSet, reporter) };
      const passRates = flags.passRate === undefined ? undefined : readPassRates(flags.passRate, testSet, flags, reporter);
      const result = await runPreferenceSet({
        ...judgedSetRun(flags, setup, { protocol, seed, shape, workers }, interrupt.signal, reporter),
        testSet,
        reference: flags.reference,
        candidate: flags.candidate,
        testIds,
        converted,
        ...(passRates !== undefined ? { passRates } : {}),
        usePassRateStatuses: flags.usePassRate === true,
        rounds,
        ...(recorded !== undefined ? { recorded } : {}),
      });
      if (result.failures.length > 0) outcome.partial = true;
      report(result, flags, io, reporter);
    }
  } finally {
    interrupt.stop();
  }
}

function openConverted(flags: PreferenceFlags, model: string, testSet: string, reporter: Reporter): ConvertedFile {
  const file = convertedFilePath(flags.converted, model, testSet);
  const converted = readConvertedFile(file);
  if (converted.answers.size === 0 && converted.unreadable.size === 0) reporter.warn(`${testSet}: no converted answers of ${model} at ${file}: every round votes for the other model`);
  for (const problem of converted.unreadable.values()) reporter.warn(`unreadable answer, counted as missing: ${problem}`);
  return converted;
}

/** Pass-rate results of both models, read from their JSON (upstream reads the CSV, quirk 2). */
function readPassRates(dir: string, testSet: string, flags: PreferenceFlags, reporter: Reporter): { reference: Map<string, PassRateView>; candidate: Map<string, PassRateView> } | undefined {
  const views = (model: string): Map<string, PassRateView> | undefined => {
    const file = [join(dir, `${testSet}_${model}.json`), join(dir, model, `${testSet}_${model}.json`)].find((path) => existsSync(path));
    if (file === undefined) {
      reporter.warn(`${testSet}: no pass-rate results of ${model} in ${dir}: every round goes to the judge`);
      return undefined;
    }
    const recorded = readPassRateJson(file);
    return new Map([...recorded.verdicts].map(([qid, runs]) => [qid, passRateView(recorded.protocol, [...runs.values()])]));
  };
  const reference = views(flags.reference);
  const candidate = views(flags.candidate);
  return reference === undefined || candidate === undefined ? undefined : { reference, candidate };
}

function passRateView(protocol: string, runs: readonly { answerStatus: AnswerStatus; taskStatus?: 'Unsure' | 'Unsolvable' | 'Solvable'; label?: 'passed' | 'failed' }[]): PassRateView {
  if (protocol === 'toolbench') {
    const passed = runs.filter((run) => run.label === 'passed').length;
    const failed = runs.length - passed;
    const last = runs.at(-1);
    return {
      ...(passed !== failed ? { label: passed > failed ? 'passed' : 'failed' } : {}),
      ...(last !== undefined ? { answerStatus: last.answerStatus, ...(last.taskStatus ? { taskStatus: last.taskStatus } : {}) } : {}),
    };
  }
  // StableToolBench: the most frequent status over the runs (none on a tie)
  const counts = new Map<AnswerStatus, number>();
  for (const run of runs) counts.set(run.answerStatus, (counts.get(run.answerStatus) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  const top = sorted[0];
  if (top === undefined || sorted[1]?.[1] === top[1]) return {};
  return { answerStatus: top[0], ...(top[0] === 'Solved' ? { label: 'passed' } : top[0] === 'Unsolved' ? { label: 'failed' } : {}) };
}

function report(result: PreferenceSetResult, flags: PreferenceFlags, io: CliIo, reporter: Reporter): void {
  const { summary } = result;
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ ...summary, files: result.files })}\n`);
    return;
  }
  const name = summary.protocol === 'stable' ? 'SoWR' : 'win rate';
  const errors = summary.errors > 0 ? `, ${summary.errors} rounds without a verdict` : '';
  reporter.info(
    `${summary.test_set}: ${summary.candidate} vs ${summary.reference}: ${name} ${summary.win_rate.toFixed(1)}% ±${summary.std.toFixed(1)}, ties ${summary.tie_rate.toFixed(1)}%` +
      ` (${summary.wins}/${summary.ties}/${summary.losses} of ${summary.total}, ${summary.evaluate_times} rounds${errors}) -> ${result.files.json}`,
  );
}

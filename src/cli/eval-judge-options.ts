/** Flags shared by `eval pass-rate` and `eval preference`: evaluator, judge, endpoints, cache, runs. */
import { Option, type Command } from 'commander';
import { TEST_SETS } from '../eval/converted.js';
import { BUILTIN_EVALUATORS, DEFAULT_EVALUATOR, loadEvaluator } from '../eval/evaluator-config.js';
import { defaultJudgeCacheFile, openJudgeCache } from '../eval/judge-cache.js';
import { DEFAULT_JUDGE_ATTEMPTS } from '../eval/judge.js';
import type { JudgedSetRun } from '../eval/judged-rounds.js';
import { setUpJudge, type JudgeSetup } from '../eval/judge-setup.js';
import type { JudgeShape } from '../eval/judge-transport.js';
import type { Protocol } from '../eval/summary.js';
import { usageError } from '../util/errors.js';
import type { Reporter } from './io.js';

export interface JudgeFlags {
  protocol: Protocol;
  evaluator: string;
  evaluators?: string;
  judge?: string;
  shape?: JudgeShape;
  baseUrl?: string;
  keyPool?: string;
  timeout?: string;
  retries: string;
  workers: string;
  evaluateTimes?: string;
  seed: string;
  judgeCache?: string | false;
  overwrite?: boolean;
  json?: boolean;
  /** Whether --protocol and --seed were given, not defaulted. */
  protocolGiven: boolean;
  seedGiven: boolean;
}

/** The flags of the command, with which of them were given on the command line. */
export function judgeFlagsOf<F extends JudgeFlags>(command: Command): F {
  return { ...(command.optsWithGlobals() as F), protocolGiven: command.getOptionValueSource('protocol') === 'cli', seedGiven: command.getOptionValueSource('seed') === 'cli' };
}

/** What a run records and replays: the protocol, the seed and the request shape. */
export function runSettings(flags: JudgeFlags, setup: JudgeSetup, found?: { readonly protocol?: Protocol; readonly seed?: number }): { protocol: Protocol; seed: number; shape: string } {
  const seed = integerFlag('--seed', flags.seed, 0);
  if (found?.protocol !== undefined && flags.protocolGiven && flags.protocol !== found.protocol) throw usageError(`--protocol ${flags.protocol}: the recorded results are ${found.protocol}`);
  if (found?.seed !== undefined && flags.seedGiven && seed !== found.seed) throw usageError(`--seed ${seed}: the recorded evaluation drew with seed ${found.seed}`);
  return {
    protocol: found?.protocol ?? flags.protocol,
    seed: found?.seed ?? seed,
    shape: setup.kind === 'replay-results' ? 'recorded' : setup.judge.shape,
  };
}

export function addJudgeOptions(command: Command, defaults: { workers: number; evaluateTimes: number }): Command {
  return command
    .addOption(new Option('--protocol <name>', 'toolbench (pass/fail with task solvability, coin on Unsure) or stable (StableToolBench: Unsure scores 0.5)').choices(['toolbench', 'stable']).default('toolbench'))
    .option('--evaluator <name|dir>', `evaluator configuration: built in ${BUILTIN_EVALUATORS.join(', ')}; or a folder with config.yaml and template.txt`, DEFAULT_EVALUATOR)
    .option('--evaluators <dir>', 'a folder of evaluator folders (upstream toolbench/tooleval/evaluators) to look --evaluator up in first')
    .option('--judge <model|replay:file>', 'judge model (default: the evaluator\'s; with --protocol stable, EVAL_MODEL when set), or replay:FILE to re-score from a recorded *.judge.jsonl or upstream result JSON without any model')
    .addOption(new Option('--shape <shape>', 'how the judge function is forced: functions (ToolBench) or tools (StableToolBench); default by --protocol').choices(['functions', 'tools']))
    .option('--base-url <url>', 'OpenAI-compatible judge endpoint (default OPENAI_BASE_URL or OPENAI_API_BASE, else OpenAI); keys from OPENAI_API_KEY or --key-pool')
    .option('--key-pool <file>', 'JSON list of {"api_key", "organization"?, "api_base"?} used round-robin (default API_POOL_FILE)')
    .option('--timeout <seconds>', 'per judge request (default: the evaluator\'s completions_kwargs.timeout)')
    .option('--retries <n>', 'extra attempts per judge call when the reply is unusable (no call, bad JSON, unknown label, refusal) or the request failed after the client\'s own HTTP retries', String(DEFAULT_JUDGE_ATTEMPTS - 1))
    .option('--workers <n>', 'judge jobs at a time', String(defaults.workers))
    .option('--evaluate-times <n>', `evaluation runs per answer (default ${defaults.evaluateTimes}; with --judge replay:FILE, as many as the file holds)`)
    .option('--seed <n>', 'seed of the draws upstream leaves to chance (Unsure coin, ties, answer order)', '0')
    .option('--judge-cache <file>', 'judge replies cached by request hash (default TOOLBENCH_JUDGE_CACHE, else ~/.cache/toolbench/judge.jsonl)')
    .option('--no-judge-cache', 'ask the judge even when a reply is cached')
    .option('--overwrite', 'judge again from scratch instead of keeping the results already in --out')
    .option('--json', 'print one JSON summary per test set on stdout');
}

export function integerFlag(flag: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < minimum) throw usageError(`${flag} ${text}: expected an integer of at least ${minimum}`);
  return value;
}

export function judgeSetupFromFlags(flags: JudgeFlags, env: Readonly<Record<string, string | undefined>>): JudgeSetup {
  const evaluator = loadEvaluator(flags.evaluator, flags.evaluators);
  const replay = flags.judge?.startsWith('replay:') === true;
  const timeoutSeconds = flags.timeout === undefined ? undefined : Number(flags.timeout);
  if (timeoutSeconds !== undefined && !(timeoutSeconds > 0)) throw usageError(`--timeout ${flags.timeout}: expected a positive number of seconds`);
  const cacheFile = flags.judgeCache === false || replay ? undefined : (flags.judgeCache ?? defaultJudgeCacheFile(env));
  return setUpJudge(evaluator, {
    ...(flags.judge !== undefined ? { judge: flags.judge } : {}),
    protocol: flags.protocol,
    ...(flags.shape !== undefined ? { shape: flags.shape } : {}),
    ...(flags.baseUrl !== undefined ? { baseUrl: flags.baseUrl } : {}),
    ...(flags.keyPool !== undefined ? { keyPool: flags.keyPool } : {}),
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    attempts: integerFlag('--retries', flags.retries, 0) + 1,
    ...(cacheFile !== undefined ? { cache: openJudgeCache(cacheFile) } : {}),
    env,
  });
}

/** A replay re-scores one test set: the one given, else the one the recorded file names. */
export function replayTestSet(given: readonly string[] | undefined, found: string | undefined, file: string): string {
  if (given !== undefined) {
    if (given.length !== 1) throw usageError(`--judge replay:${file} re-scores one test set; give one --test-set`);
    return given[0] as string;
  }
  if (found === undefined) throw usageError(`--judge replay:${file}: cannot tell the test set from the file; give --test-set`);
  return found;
}

/** `G1_instruction_<model>.json` → `G1_instruction`. */
export function testSetOfFile(name: string): string | undefined {
  return TEST_SETS.find((set) => name.startsWith(`${set}_`) || name === `${set}.json`) ?? /^(G\d_[a-z]+)_/.exec(name)?.[1];
}

/** The run options both commands pass for every test set. */
export function judgedSetRun(
  flags: JudgeFlags & { readonly out: string },
  setup: JudgeSetup,
  settings: { readonly protocol: Protocol; readonly seed: number; readonly shape: string; readonly workers: number },
  signal: AbortSignal,
  reporter: Reporter,
): Omit<JudgedSetRun, 'testSet' | 'testIds'> {
  return {
    protocol: settings.protocol,
    workers: settings.workers,
    seed: settings.seed,
    outDir: flags.out,
    ...(setup.kind !== 'replay-results' ? { judge: setup.judge } : {}),
    resume: !flags.overwrite && setup.kind === 'live',
    ...(setup.kind !== 'live' ? { replaySource: setup.file } : {}),
    shape: settings.shape,
    identity: setup.identity,
    signal,
    warn: (message) => reporter.warn(message),
  };
}

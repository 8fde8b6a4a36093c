/**
 * `eval pass-rate` for one test set: judge every answered test id `evaluateTimes` times, keep the
 * verdicts, and write upstream's JSON and CSV, the audit log and the summary.
 *
 * A job is one query with all its missing runs, judged in run order, so every file comes out in
 * the same order whatever the timing. The JSON is rewritten at most every 2 s while the run goes
 * on; the audit log is appended per job. After an interruption everything judged is on disk and
 * the same command resumes where it stopped (the judge cache makes repeated calls free too).
 */
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-write.js';
import { ToolbenchError } from '../util/errors.js';
import { seededUniform } from '../util/seeded-random.js';
import { getSteps, type ConvertedFile } from './converted.js';
import type { Judge } from './judge.js';
import { openJudgeLog, type JudgeLogHeader } from './judge-log.js';
import { judgeLogHeader, readEarlierDecisions, resultFiles, runJudgedRounds, type ResultFiles } from './judged-rounds.js';
import { judgeRun, type RunVerdict } from './pass-rate-job.js';
import { passRateCsv, passRateJson, passRateSummary, readPassRateJson, resultFileBase, writtenIds, type RecordedPassRate, type VerdictTable } from './pass-rate-results.js';
import type { JudgeIdentity, PassRateSummary, Protocol } from './summary.js';

export interface PassRateSetOptions {
  readonly protocol: Protocol;
  readonly testSet: string;
  readonly model: string;
  readonly testIds: readonly string[];
  readonly converted: ConvertedFile;
  readonly evaluateTimes: number;
  readonly workers: number;
  readonly seed: number;
  readonly outDir: string;
  /** Judges the runs; absent when every verdict comes from `recorded`. */
  readonly judge?: Judge;
  /** Verdicts read from an upstream result file (`--judge replay:FILE`). */
  readonly recorded?: RecordedPassRate;
  /** Keep what an earlier run of this command wrote to `outDir`. */
  readonly resume: boolean;
  readonly identity: JudgeIdentity;
  readonly signal: AbortSignal;
  readonly onQueryDone?: (done: number, total: number) => void;
  readonly warn: (message: string) => void;
}

export interface PassRateSetResult {
  readonly summary: PassRateSummary;
  readonly files: ResultFiles;
  readonly failures: readonly string[];
}

export async function runPassRateSet(options: PassRateSetOptions): Promise<PassRateSetResult> {
  const { protocol, testSet, model, converted, evaluateTimes, testIds } = options;
  const files = resultFiles(resultFileBase(options.outDir, protocol, testSet, model));
  const answers = converted.answers;
  const header = judgeLogHeader('pass-rate', protocol, testSet, model, options.identity);
  const verdicts: VerdictTable = new Map();
  let order: readonly string[] = [];
  const earlier = options.recorded ?? (options.resume ? readEarlierResults(files, header) : undefined);
  if (earlier !== undefined) {
    for (const [qid, runs] of earlier.verdicts) if (answers.has(qid)) verdicts.set(qid, new Map([...runs].filter(([run]) => run < evaluateTimes)));
    order = earlier.order;
  }
  const log = openJudgeLog(files.log, header, !options.resume || options.recorded !== undefined);
  if (options.recorded !== undefined) {
    for (const [qid, runs] of verdicts) for (const [run, verdict] of runs) log.append({ qid, run, verdict, calls: [] });
  }

  const pending = testIds.filter((qid) => answers.has(qid) && (verdicts.get(qid)?.size ?? 0) < evaluateTimes);
  if (pending.length > 0 && options.judge === undefined) {
    throw new ToolbenchError('replay.miss', 1, `${testSet}: the recorded results lack ${pending.length} answered quer${pending.length === 1 ? 'y' : 'ies'} or runs (first: ${pending[0]}); give --evaluate-times to match the file`);
  }
  const writeJson = (): Promise<void> => writeFileAtomic(files.json, passRateJson(protocol, writtenIds(verdicts, testIds, order), verdicts, answers));
  const outcome = await runJudgedRounds<RunVerdict>({
    pending,
    rounds: evaluateTimes,
    table: verdicts,
    decide: (qid, run, calls) => {
      const answer = answers.get(qid)!;
      const job = { label: `${testSet} query ${qid} run ${run}`, sample: run, calls, signal: options.signal };
      return judgeRun(options.judge!, job, { protocol, testSet, answer, steps: getSteps(answer.answer), run, seed: options.seed });
    },
    log,
    workers: options.workers,
    signal: options.signal,
    writeJson,
    warn: options.warn,
    ...(options.onQueryDone ? { onQueryDone: options.onQueryDone } : {}),
  });
  await writeJson();
  const summary = passRateSummary({
    protocol,
    testSet,
    model,
    judge: options.identity,
    evaluateTimes,
    testIds,
    answered: new Set(testIds.filter((qid) => answers.has(qid))),
    verdicts,
  });
  const tie = (qid: string): 'passed' | 'failed' => (seededUniform(options.seed, 'pass-rate-tie', testSet, qid) < 0.5 ? 'passed' : 'failed');
  await writeFileAtomic(files.csv, passRateCsv(protocol, model, writtenIds(verdicts, testIds, order), verdicts, answers, tie));
  await writeFileAtomic(files.summary, `${JSON.stringify(summary, null, 2)}\n`);
  await log.close();
  if (outcome.stopped !== undefined) throw outcome.stopped;
  if (options.signal.aborted) throw options.signal.reason;
  return { summary, files, failures: outcome.failures };
}

/**
 * What an earlier run left in the output folder: the audit log (every run's verdict) or, when
 * only upstream's JSON is there, the verdicts that file holds.
 */
function readEarlierResults(files: ResultFiles, header: JudgeLogHeader): RecordedPassRate | undefined {
  if (existsSync(files.log)) {
    // our own files are written in test-id order: no file order to keep
    return { protocol: header.protocol as Protocol, verdicts: readEarlierDecisions<RunVerdict>(files.log, header), order: [], texts: new Map(), runs: 0 };
  }
  if (existsSync(files.json)) return readPassRateJson(files.json);
  return undefined;
}

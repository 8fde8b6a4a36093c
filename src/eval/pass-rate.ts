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
import { ToolbenchError } from '../util/errors.js';
import { seededUniform } from '../util/seeded-random.js';
import { getSteps, type ConvertedFile } from './converted.js';
import { openJudgeLog, type JudgeLogHeader } from './judge-log.js';
import { judgeLogHeader, readEarlierDecisions, type JudgedSetRun, refuseOverwritingSource, resultFiles, runJudgedRounds, writeResultFile, type ResultFiles } from './judged-rounds.js';
import { judgeRun, type RunVerdict } from './pass-rate-job.js';
import { passRateCsv, passRateJson, passRateSummary, readPassRateJson, resultFileBase, writtenIds, type RecordedPassRate, type VerdictTable } from './pass-rate-results.js';
import type { PassRateSummary, Protocol } from './summary.js';

export interface PassRateSetOptions extends JudgedSetRun {
  readonly model: string;
  readonly converted: ConvertedFile;
  readonly evaluateTimes: number;
  /** Verdicts read from an upstream result file (`--judge replay:FILE`). */
  readonly recorded?: RecordedPassRate;
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
  refuseOverwritingSource(options.replaySource, files);
  const header = judgeLogHeader('pass-rate', protocol, testSet, model, options.identity, { seed: options.seed, shape: options.shape });
  const verdicts: VerdictTable = new Map();
  let order: readonly string[] = [];
  const earlier = options.recorded ?? (options.resume ? readEarlierResults(files, header) : undefined);
  if (earlier !== undefined) {
    for (const [qid, runs] of earlier.verdicts) {
      if (!answers.has(qid)) continue;
      if (runs.size > evaluateTimes) options.warn(`${testSet} query ${qid}: ${runs.size} runs recorded, only the first ${evaluateTimes} are kept (--evaluate-times)`);
      verdicts.set(qid, new Map([...runs].filter(([run]) => run < evaluateTimes)));
    }
    order = earlier.order;
  }
  const log = openJudgeLog(files.log, header, !options.resume || options.recorded !== undefined);
  // a new log starts with what was taken from elsewhere, so that the next resume finds it
  if (log.isNew) for (const [qid, runs] of verdicts) for (const [run, verdict] of runs) log.append({ qid, run, verdict, calls: [] });

  const pending = testIds.filter((qid) => answers.has(qid) && (verdicts.get(qid)?.size ?? 0) < evaluateTimes);
  if (pending.length > 0 && options.judge === undefined) {
    throw new ToolbenchError('replay.miss', 1, `${testSet}: the recorded results lack ${pending.length} answered quer${pending.length === 1 ? 'y' : 'ies'} or runs (first: ${pending[0]}); give --evaluate-times to match the file`);
  }
  const writeJson = (): Promise<void> => writeResultFile(files.json, passRateJson(protocol, writtenIds(verdicts, testIds, order), verdicts, answers));
  const outcome = await runJudgedRounds<RunVerdict>({
    pending,
    rounds: evaluateTimes,
    table: verdicts,
    decide: (qid, run, calls, signal) => {
      const answer = answers.get(qid)!;
      const job = { label: `${testSet} query ${qid} run ${run}`, sample: run, calls, signal };
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
    complete: outcome.stopped === undefined && !options.signal.aborted,
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
  await writeResultFile(files.csv, passRateCsv(protocol, model, writtenIds(verdicts, testIds, order), verdicts, answers, tie));
  await writeResultFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);
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
    return { protocol: header.protocol as Protocol, verdicts: readEarlierDecisions<RunVerdict>(files.log, header), order: [], runs: 0 };
  }
  if (existsSync(files.json)) return readPassRateJson(files.json);
  return undefined;
}

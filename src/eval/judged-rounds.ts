/**
 * The loop shared by `eval pass-rate` and `eval preference`: every pending query is one job that
 * decides its missing rounds in order (so files come out the same whatever the timing), appends
 * each decision with its judge replies to the audit log, and has the result file rewritten now
 * and then. A job whose judge gives no usable reply loses that round only; any other error stops
 * the pool, and the caller still writes what was decided.
 */
import { writeFileAtomic } from '../util/atomic-write.js';
import { linkSignal } from '../util/linked-signal.js';
import { setMaxListeners } from 'node:events';
import { resolve } from 'node:path';
import { ToolbenchError } from '../util/errors.js';
import { runPool } from '../util/worker-pool.js';
import { JudgeFailure, type Judge, type JudgeCallRecord } from './judge.js';
import { JUDGE_LOG_SUFFIX, readJudgeLog, type JudgeLogHeader, type JudgeLogWriter } from './judge-log.js';
import { createRewriteSchedule } from './rewrite-schedule.js';
import { SUMMARY_SUFFIX, type JudgeIdentity, type Protocol } from './summary.js';

/** What every judged test set needs besides its own inputs: the judge, where to write, how to run. */
export interface JudgedSetRun {
  readonly protocol: Protocol;
  readonly testSet: string;
  readonly testIds: readonly string[];
  readonly workers: number;
  readonly seed: number;
  readonly outDir: string;
  /** Judges the rounds; absent when every decision comes from a recorded upstream file. */
  readonly judge?: Judge;
  /** Keep what an earlier run of this command wrote to `outDir`. */
  readonly resume: boolean;
  /** The file a replay reads, which this run must not overwrite. */
  readonly replaySource?: string;
  /** How the judge function is forced (recorded in the audit log). */
  readonly shape: string;
  readonly identity: JudgeIdentity;
  readonly signal: AbortSignal;
  readonly onQueryDone?: (done: number, total: number) => void;
  readonly warn: (message: string) => void;
}

export interface ResultFiles {
  readonly json: string;
  readonly csv: string;
  readonly summary: string;
  readonly log: string;
}

export function resultFiles(base: string): ResultFiles {
  return { json: `${base}.json`, csv: `${base}.csv`, summary: `${base}${SUMMARY_SUFFIX}`, log: `${base}${JUDGE_LOG_SUFFIX}` };
}

export function judgeLogHeader(
  kind: JudgeLogHeader['kind'],
  protocol: Protocol,
  testSet: string,
  subject: string,
  identity: JudgeIdentity,
  draw: { readonly seed: number; readonly shape: string },
): JudgeLogHeader {
  return {
    format: 'toolbench-judge-log/1',
    kind,
    protocol,
    test_set: testSet,
    subject,
    evaluator: identity.evaluator,
    judge_model: identity.model,
    template_sha256: identity.template_sha256,
    config_sha256: identity.config_sha256,
    seed: draw.seed,
    shape: draw.shape,
  };
}

/** The header fields that must agree for two runs' decisions to be one result. */
const SAME_RESULT: readonly (keyof JudgeLogHeader)[] = ['kind', 'protocol', 'test_set', 'subject', 'judge_model', 'template_sha256', 'config_sha256', 'seed', 'shape'];

/**
 * The decisions an earlier run left in an audit log, per query and round. A log written by
 * another judge, evaluator, template, seed or request shape is refused rather than mixed with this run.
 */
export function readEarlierDecisions<V>(file: string, expected: JudgeLogHeader): Map<string, Map<number, V>> {
  const { header, entries } = readJudgeLog(file);
  const differing = SAME_RESULT.filter((key) => header[key] !== expected[key]);
  if (differing.length > 0) {
    const what = differing.map((key) => `${key} ${JSON.stringify(header[key])} (now ${JSON.stringify(expected[key])})`).join(', ');
    throw new ToolbenchError('usage.invalid', 2, `${file} holds decisions made with ${what}; this run would mix them: give --overwrite to start again, or another --out`);
  }
  const decisions = new Map<string, Map<number, V>>();
  for (const entry of entries) {
    if (entry.verdict === undefined) continue;
    if (!decisions.has(entry.qid)) decisions.set(entry.qid, new Map());
    decisions.get(entry.qid)!.set(entry.run, entry.verdict as V);
  }
  return decisions;
}

export interface JudgedRounds<V> {
  readonly pending: readonly string[];
  readonly rounds: number;
  /** Decisions so far, filled in as jobs finish. */
  readonly table: Map<string, Map<number, V>>;
  /** `signal` aborts on Ctrl-C and when another job hit an error that stops the run. */
  readonly decide: (qid: string, round: number, calls: JudgeCallRecord[], signal: AbortSignal) => Promise<V>;
  readonly log: JudgeLogWriter;
  readonly workers: number;
  readonly signal: AbortSignal;
  readonly writeJson: () => Promise<void>;
  readonly warn: (message: string) => void;
  readonly onQueryDone?: (done: number, total: number) => void;
}

export interface JudgedRoundsOutcome {
  readonly failures: readonly string[];
  /** The error that stopped the pool, to re-throw once the files are written. */
  readonly stopped?: unknown;
}

export async function runJudgedRounds<V>(loop: JudgedRounds<V>): Promise<JudgedRoundsOutcome> {
  const failures: string[] = [];
  const rewrites = createRewriteSchedule();
  let writing: Promise<void> = Promise.resolve();
  let writeError: unknown;
  // the first error that stops the run also stops the jobs in flight: no more paid calls
  const stop = linkSignal(loop.signal);
  setMaxListeners(loop.workers + 10, stop.signal); // one listener per request in flight
  let done = 0;
  const job = async (qid: string): Promise<void> => {
    const decided = loop.table.get(qid) ?? new Map<number, V>();
    loop.table.set(qid, decided);
    for (let round = 0; round < loop.rounds; round++) {
      if (decided.has(round)) continue;
      const calls: JudgeCallRecord[] = [];
      try {
        const verdict = await loop.decide(qid, round, calls, stop.signal);
        decided.set(round, verdict);
        loop.log.append({ qid, run: round, verdict, calls });
      } catch (error) {
        if (!(error instanceof JudgeFailure)) {
          if (!stop.signal.aborted) {
            stop.abort(error);
            // what the judge said before the stop is kept for the audit, as a round without verdict
            if (calls.length > 0) loop.log.append({ qid, run: round, error: String(error), calls });
          }
          throw error;
        }
        failures.push(error.message);
        loop.warn(error.message);
        loop.log.append({ qid, run: round, error: error.message, calls });
      }
    }
    loop.onQueryDone?.(++done, loop.pending.length);
    if (rewrites.due()) writing = writing.then(() => rewrites.timed(loop.writeJson)).catch((error: unknown) => void (writeError ??= error));
  };
  let stopped: unknown;
  try {
    await runPool(loop.pending, loop.workers, job, stop.signal);
  } catch (error) {
    stopped = error;
  } finally {
    stop.unlink();
  }
  await writing;
  stopped ??= writeError;
  return stopped === undefined ? { failures } : { failures, stopped };
}

/** Writes a result file whole (atomically); a failure names the file. */
export async function writeResultFile(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(file, text);
  } catch (error) {
    throw new ToolbenchError('output.unwritable', 1, `${file}: cannot write: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Refuses to write over the file a replay reads: a replay that stops half way would leave the
 * only record truncated.
 */
export function refuseOverwritingSource(source: string | undefined, files: ResultFiles): void {
  if (source === undefined) return;
  const target = Object.values(files).find((file) => resolve(file) === resolve(source));
  if (target !== undefined) throw new ToolbenchError('usage.invalid', 2, `--judge replay:${source} would be overwritten by this run's results: give another --out`);
}

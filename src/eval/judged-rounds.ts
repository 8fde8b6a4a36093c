/**
 * The loop shared by `eval pass-rate` and `eval preference`: every pending query is one job that
 * decides its missing rounds in order (so files come out the same whatever the timing), appends
 * each decision with its judge replies to the audit log, and has the result file rewritten now
 * and then. A job whose judge gives no usable reply loses that round only; any other error stops
 * the pool, and the caller still writes what was decided.
 */
import { ToolbenchError } from '../util/errors.js';
import { runPool } from '../util/worker-pool.js';
import { JudgeFailure, type JudgeCallRecord } from './judge.js';
import { JUDGE_LOG_SUFFIX, readJudgeLog, type JudgeLogHeader, type JudgeLogWriter } from './judge-log.js';
import { createRewriteSchedule } from './rewrite-schedule.js';
import { SUMMARY_SUFFIX, type JudgeIdentity, type Protocol } from './summary.js';

export interface ResultFiles {
  readonly json: string;
  readonly csv: string;
  readonly summary: string;
  readonly log: string;
}

export function resultFiles(base: string): ResultFiles {
  return { json: `${base}.json`, csv: `${base}.csv`, summary: `${base}${SUMMARY_SUFFIX}`, log: `${base}${JUDGE_LOG_SUFFIX}` };
}

export function judgeLogHeader(kind: JudgeLogHeader['kind'], protocol: Protocol, testSet: string, subject: string, identity: JudgeIdentity): JudgeLogHeader {
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
  };
}

/**
 * The decisions an earlier run left in an audit log, per query and round. A log written by
 * another judge, evaluator or template is refused rather than mixed with this run.
 */
export function readEarlierDecisions<V>(file: string, expected: JudgeLogHeader): Map<string, Map<number, V>> {
  const { header, entries } = readJudgeLog(file);
  if (header.judge_model !== expected.judge_model || header.template_sha256 !== expected.template_sha256 || header.config_sha256 !== expected.config_sha256) {
    throw new ToolbenchError(
      'usage.invalid',
      2,
      `${file} was judged by ${header.judge_model} with evaluator ${header.evaluator} (template ${header.template_sha256.slice(0, 12)}); ` +
        'this run would mix judges: give --overwrite to start again, or another --out',
    );
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
  readonly decide: (qid: string, round: number, calls: JudgeCallRecord[]) => Promise<V>;
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
  let done = 0;
  const job = async (qid: string): Promise<void> => {
    const decided = loop.table.get(qid) ?? new Map<number, V>();
    loop.table.set(qid, decided);
    for (let round = 0; round < loop.rounds; round++) {
      if (decided.has(round)) continue;
      const calls: JudgeCallRecord[] = [];
      try {
        const verdict = await loop.decide(qid, round, calls);
        decided.set(round, verdict);
        loop.log.append({ qid, run: round, verdict, calls });
      } catch (error) {
        if (!(error instanceof JudgeFailure)) {
          // what the judge said before the stop is kept for the audit, as a round without verdict
          if (calls.length > 0 && !loop.signal.aborted) loop.log.append({ qid, run: round, error: String(error), calls });
          throw error;
        }
        failures.push(error.message);
        loop.warn(error.message);
        loop.log.append({ qid, run: round, error: error.message, calls });
      }
    }
    loop.onQueryDone?.(++done, loop.pending.length);
    if (rewrites.due()) writing = writing.then(() => rewrites.timed(loop.writeJson));
  };
  let stopped: unknown;
  try {
    await runPool(loop.pending, loop.workers, job, loop.signal);
  } catch (error) {
    stopped = error;
  }
  await writing;
  return stopped === undefined ? { failures } : { failures, stopped };
}

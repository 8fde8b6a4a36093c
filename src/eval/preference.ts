/**
 * `eval preference` for one test set (tooleval.md §6): every test id, `rounds` times, a vote for
 * the reference or the candidate, then upstream's JSON and CSV, the audit log and the summary.
 *
 * A round is decided, in this order: by a missing answer (a vote for the other model; none when
 * both are missing), by the pass-rate verdicts when one model passed and the other failed (when
 * pass-rate results are given), else by the judge. Jobs are queries, rounds in order, so files come
 * out in test-id order whatever the timing; an interrupted run resumes from the audit log.
 */
import { existsSync } from 'node:fs';
import { ToolbenchError } from '../util/errors.js';
import { seededUniform } from '../util/seeded-random.js';
import type { ConvertedFile } from './converted.js';
import type { JudgeCallRecord } from './judge.js';
import { openJudgeLog } from './judge-log.js';
import { judgeLogHeader, readEarlierDecisions, type JudgedSetRun, refuseOverwritingSource, resultFiles, runJudgedRounds, writeResultFile, type ResultFiles } from './judged-rounds.js';
import { annotatePreference } from './preference-judge.js';
import { preferenceCsv, preferenceFileBase, preferenceJson, preferenceSummary, type RecordedPreference, type RoundVote, type VoteTable } from './preference-results.js';
import type { PreferenceSummary } from './summary.js';
import type { AnswerStatus, TaskStatus } from './tooleval-judge.js';

/** What pass-rate results say about one answer. */
export interface PassRateView {
  /** passed / failed by majority of runs; undefined on a tie. */
  readonly label?: 'passed' | 'failed';
  readonly answerStatus?: AnswerStatus;
  readonly taskStatus?: TaskStatus;
}

export interface PreferenceSetOptions extends JudgedSetRun {
  readonly reference: string;
  readonly candidate: string;
  readonly converted: { readonly reference: ConvertedFile; readonly candidate: ConvertedFile };
  /** Per model, per query id; absent without --pass-rate. */
  readonly passRates?: { readonly reference: ReadonlyMap<string, PassRateView>; readonly candidate: ReadonlyMap<string, PassRateView> };
  /** Give the judge the pass-rate statuses instead of judging each answer again. */
  readonly usePassRateStatuses: boolean;
  readonly rounds: number;
  readonly recorded?: RecordedPreference;
}

export interface PreferenceSetResult {
  readonly summary: PreferenceSummary;
  readonly files: ResultFiles;
  readonly failures: readonly string[];
}

export async function runPreferenceSet(options: PreferenceSetOptions): Promise<PreferenceSetResult> {
  const { testSet, reference, candidate, testIds, rounds } = options;
  const files = resultFiles(preferenceFileBase(options.outDir, testSet, reference, candidate));
  const refAnswers = options.converted.reference.answers;
  const outAnswers = options.converted.candidate.answers;
  refuseOverwritingSource(options.replaySource, files);
  const header = judgeLogHeader('preference', options.protocol, testSet, `${reference} vs ${candidate}`, options.identity, { seed: options.seed, shape: options.shape });
  const votes: VoteTable = new Map();
  const earlier = options.recorded?.votes ?? (options.resume && existsSync(files.log) ? readEarlierDecisions<RoundVote>(files.log, header) : undefined);
  for (const [qid, table] of earlier ?? []) {
    if (table.size > rounds) options.warn(`${testSet} query ${qid}: ${table.size} rounds recorded, only the first ${rounds} are kept (--evaluate-times)`);
    votes.set(qid, new Map([...table].filter(([round]) => round < rounds)));
  }
  const order = options.recorded?.order ?? [];
  const log = openJudgeLog(files.log, header, !options.resume || options.recorded !== undefined);
  if (log.isNew) for (const [qid, table] of votes) for (const [run, verdict] of table) log.append({ qid, run, verdict, calls: [] });

  const pending = testIds.filter((qid) => (votes.get(qid)?.size ?? 0) < rounds);
  if (pending.length > 0 && options.judge === undefined) {
    throw new ToolbenchError('replay.miss', 1, `${testSet}: the recorded preferences lack ${pending.length} test ids or rounds (first: ${pending[0]}); give --evaluate-times to match the file`);
  }
  const ids = (): string[] => [...new Set([...order, ...testIds])].filter((qid) => (votes.get(qid)?.size ?? 0) > 0);
  const writeJson = (): Promise<void> => writeResultFile(files.json, preferenceJson(ids(), votes, reference, candidate, rounds));

  const decide = async (qid: string, round: number, calls: JudgeCallRecord[], signal: AbortSignal): Promise<RoundVote> => {
    const ref = refAnswers.get(qid);
    const out = outAnswers.get(qid);
    if (ref === undefined || out === undefined) return { winner: ref === undefined ? (out === undefined ? null : 'candidate') : 'reference', via: 'missing' };
    const refView = options.passRates?.reference.get(qid);
    const outView = options.passRates?.candidate.get(qid);
    if (refView?.label === 'passed' && outView?.label === 'failed') return { winner: 'reference', via: 'pass-rate' };
    if (refView?.label === 'failed' && outView?.label === 'passed') return { winner: 'candidate', via: 'pass-rate' };
    // upstream falls back to judging everything when either model's row is missing
    const statuses = options.usePassRateStatuses && refView?.answerStatus && outView?.answerStatus ? ([refView.answerStatus, outView.answerStatus] as const) : undefined;
    const taskStatus = statuses !== undefined ? refView?.taskStatus : undefined;
    const job = { label: `${testSet} query ${qid} round ${round}`, sample: round, calls, signal };
    const coin = (purpose: string): number => seededUniform(options.seed, 'preference', testSet, qid, String(round), purpose);
    const chosen = await annotatePreference(
      options.judge!,
      job,
      {
        query: ref.query,
        availableTools: ref.availableTools,
        answers: [ref.answer, out.answer],
        ...(statuses !== undefined ? { answerStatuses: statuses } : {}),
        ...(taskStatus !== undefined ? { taskStatus } : {}),
      },
      coin,
    );
    return { winner: chosen === 0 ? 'reference' : 'candidate', via: 'judge' };
  };

  const outcome = await runJudgedRounds<RoundVote>({
    pending,
    rounds,
    table: votes,
    decide,
    log,
    workers: options.workers,
    signal: options.signal,
    writeJson,
    warn: options.warn,
    ...(options.onQueryDone ? { onQueryDone: options.onQueryDone } : {}),
  });
  await writeJson();
  const summary = preferenceSummary({
    complete: outcome.stopped === undefined && !options.signal.aborted,
    protocol: options.protocol,
    testSet,
    reference,
    candidate,
    judge: options.identity,
    rounds,
    testIds,
    votes,
    missing: { reference: testIds.filter((qid) => !refAnswers.has(qid)), candidate: testIds.filter((qid) => !outAnswers.has(qid)) },
    errors: outcome.failures.length,
  });
  await writeResultFile(files.csv, preferenceCsv(ids(), votes, { reference: refAnswers, candidate: outAnswers }, reference, candidate));
  await writeResultFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);
  if (outcome.stopped !== undefined) throw outcome.stopped;
  if (options.signal.aborted) throw options.signal.reason;
  return { summary, files, failures: outcome.failures };
}

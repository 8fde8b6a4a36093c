/**
 * Pass-rate results: upstream's JSON and CSV files (formats.md §5), the summary, and reading an
 * upstream JSON file back as verdicts (to resume, to replay with `--judge replay:FILE`, and for
 * `eval preference --use-pass-rate`).
 */
import { inputError, describeJsonType } from '../util/errors.js';
import { readJsonFile } from '../util/json-file.js';
import { pyCsvRow } from '../util/py-csv.js';
import { isPyObject, orderedKeys, orderedObject, type PyObject, type PyValue } from '../util/py-value.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { getSteps, toolNames, type ConvertedAnswer } from './converted.js';
import { runScore, type RunVerdict } from './pass-rate-job.js';
import { mean, populationStd, type JudgeIdentity, type PassRateSummary, type Protocol, type VerdictCounts } from './summary.js';
import { ANSWER_STATUSES, TASK_STATUSES, type AnswerStatus } from './tooleval-judge.js';

/** Verdicts per query id, each a map run → verdict in the order the runs were recorded. */
export type VerdictTable = Map<string, Map<number, RunVerdict>>;

export function resultFileBase(outDir: string, protocol: Protocol, testSet: string, model: string): string {
  // StableToolBench's README keeps each model's results in a folder of its own
  return protocol === 'stable' ? `${outDir}/${model}/${testSet}_${model}` : `${outDir}/${testSet}_${model}`;
}

/** The query ids written, in order: those of `order` first (a file read back), then test-id order. */
export function writtenIds(verdicts: VerdictTable, testIds: readonly string[], order: readonly string[]): string[] {
  const seen = new Set<string>();
  const ids: string[] = [];
  for (const qid of [...order, ...testIds]) {
    if (seen.has(qid) || (verdicts.get(qid)?.size ?? 0) === 0) continue;
    seen.add(qid);
    ids.push(qid);
  }
  return ids;
}

/** The upstream JSON (pyjson, ensure_ascii off, indent 4). */
export function passRateJson(protocol: Protocol, ids: readonly string[], verdicts: VerdictTable, answers: ReadonlyMap<string, ConvertedAnswer>): string {
  const entries = ids.flatMap((qid): [string, PyValue][] => {
    const answer = answers.get(qid);
    const runs = verdicts.get(qid);
    if (answer === undefined || runs === undefined) return [];
    return [[qid, passRateRecord(protocol, answer, runs)]];
  });
  return pyJsonDumps(orderedObject(entries), { indent: 4, ensureAscii: false });
}

function passRateRecord(protocol: Protocol, answer: ConvertedAnswer, runs: ReadonlyMap<number, RunVerdict>): PyObject {
  const steps = getSteps(answer.answer);
  const common = { tool_names: toolNames(answer.availableTools), answer_steps: steps.answerSteps, final_step: steps.finalStep };
  if (protocol === 'stable') {
    const solved = orderedObject([...runs].map(([run, verdict]): [string, PyValue] => [String(run), `AnswerStatus.${verdict.answerStatus}`]));
    return { query: answer.query, ...common, is_solved: solved };
  }
  const last = [...runs.values()].at(-1) as RunVerdict;
  const passed = [...runs.values()].filter((verdict) => verdict.label === 'passed').length;
  return {
    passed,
    failed: runs.size - passed,
    query: answer.query,
    task_solvable: `TaskStatus.${last.taskStatus ?? 'Solvable'}`,
    ...common,
    is_solved: `AnswerStatus.${last.answerStatus}`,
    reason: last.reason ?? '',
    not_hallucinate: last.notHallucinate ?? true,
  };
}

const TOOLBENCH_CSV_HEADER = ['query', 'solvable', 'available_tools', 'model_intermediate_steps', 'model_final_step', 'model', 'query_id', 'is_solved', 'pass_rate_label', 'reason', 'not_hallucinate'];
const STABLE_CSV_HEADER = ['query', 'available_tools', 'model_intermediate_steps', 'model_final_step', 'model', 'query_id', 'is_solved'];

/**
 * The upstream CSV. toolbench: `pass_rate_label` is the strict majority of runs, a tie settled by
 * `tie(qid)` (upstream: an unseeded coin). stable: `is_solved` is the repr of the run → status
 * dict with integer keys, as upstream writes it.
 */
export function passRateCsv(
  protocol: Protocol,
  model: string,
  ids: readonly string[],
  verdicts: VerdictTable,
  answers: ReadonlyMap<string, ConvertedAnswer>,
  tie: (qid: string) => 'passed' | 'failed',
): string {
  const lines = [pyCsvRow(protocol === 'stable' ? STABLE_CSV_HEADER : TOOLBENCH_CSV_HEADER)];
  for (const qid of ids) {
    const answer = answers.get(qid);
    const runs = verdicts.get(qid);
    if (answer === undefined || runs === undefined) continue;
    const steps = getSteps(answer.answer);
    const tools = toolNames(answer.availableTools);
    if (protocol === 'stable') {
      const cell = `{${[...runs].map(([run, verdict]) => `${run}: 'AnswerStatus.${verdict.answerStatus}'`).join(', ')}}`;
      lines.push(pyCsvRow([answer.query, tools, steps.answerSteps, steps.finalStep, model, qid, cell]));
      continue;
    }
    const last = [...runs.values()].at(-1) as RunVerdict;
    const passed = [...runs.values()].filter((verdict) => verdict.label === 'passed').length;
    const failed = runs.size - passed;
    const label = passed > failed ? 'passed' : passed < failed ? 'failed' : tie(qid);
    lines.push(pyCsvRow([answer.query, `TaskStatus.${last.taskStatus ?? 'Solvable'}`, tools, steps.answerSteps, steps.finalStep, model, qid, `AnswerStatus.${last.answerStatus}`, label, last.reason ?? '', last.notHallucinate ?? true]));
  }
  return lines.join('');
}

export interface SummaryInput {
  readonly complete: boolean;
  readonly protocol: Protocol;
  readonly testSet: string;
  readonly model: string;
  readonly judge: JudgeIdentity;
  readonly evaluateTimes: number;
  readonly testIds: readonly string[];
  readonly answered: ReadonlySet<string>;
  readonly verdicts: VerdictTable;
}

/** The numbers, over the whole test-id list (a missing answer or verdict scores 0). */
export function passRateSummary(input: SummaryInput): PassRateSummary {
  const { protocol, testIds, verdicts, answered } = input;
  const total = testIds.length;
  const missingIds = testIds.filter((qid) => !answered.has(qid));
  const runs = Array.from({ length: input.evaluateTimes }, (_, run) => {
    const counts = { solved: 0, unsure: 0, unsolved: 0, missing: 0, errors: 0 };
    let score = 0;
    for (const qid of testIds) {
      if (!answered.has(qid)) {
        counts.missing++;
        continue;
      }
      const verdict = verdicts.get(qid)?.get(run);
      if (verdict === undefined) counts.errors++;
      else counts[statusKey(verdict.answerStatus)]++;
      score += runScore(protocol, verdict);
    }
    return { run, rate: percent(score, total), counts };
  });
  const headline = (denominator: number): number => {
    if (protocol === 'stable') return mean(runs.map((run) => run.rate)) * (denominator === 0 ? 0 : total / denominator);
    // upstream's printed rule: a query passes when it failed no more often than it passed; a
    // run without a verdict (judge error, interruption) is a failure
    const passedQueries = testIds.filter((qid) => {
      const passed = [...(verdicts.get(qid)?.values() ?? [])].filter((verdict) => verdict.label === 'passed').length;
      return input.evaluateTimes - passed <= passed;
    }).length;
    return percent(passedQueries, denominator);
  };
  return {
    kind: 'pass-rate',
    complete: input.complete,
    protocol,
    test_set: input.testSet,
    model: input.model,
    judge: input.judge,
    evaluate_times: input.evaluateTimes,
    total,
    answered: total - missingIds.length,
    missing_ids: missingIds,
    rate: headline(total),
    std: populationStd(runs.map((run) => run.rate)),
    rate_answered_only: headline(total - missingIds.length),
    counts: sumCounts(runs.map((run) => run.counts)),
    runs,
  };
}

function statusKey(status: AnswerStatus): 'solved' | 'unsure' | 'unsolved' {
  return status === 'Solved' ? 'solved' : status === 'Unsure' ? 'unsure' : 'unsolved';
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : (100 * part) / whole;
}

function sumCounts(list: readonly VerdictCounts[]): VerdictCounts {
  const total = { solved: 0, unsure: 0, unsolved: 0, missing: 0, errors: 0 };
  for (const counts of list) for (const key of Object.keys(total) as (keyof VerdictCounts)[]) total[key] += counts[key];
  return total;
}

export interface RecordedPassRate {
  readonly protocol: Protocol;
  readonly verdicts: VerdictTable;
  /** Query order of the file. */
  readonly order: readonly string[];
  /** The largest number of runs a query has. */
  readonly runs: number;
}

/**
 * Reads an upstream pass-rate JSON as verdicts. StableToolBench files hold every run's status.
 * ToolBench files hold only pass/fail counts and the last run's statuses: runs are rebuilt as
 * `passed` passes then `failed` failures, each with the last run's statuses.
 */
export function readPassRateJson(file: string): RecordedPassRate {
  const data = readJsonFile(file);
  if (!isPyObject(data)) throw inputError(file, '$', 'a pass-rate result object keyed by query id', { got: describeJsonType(data) });
  const verdicts: VerdictTable = new Map();
  let protocol: Protocol | undefined;
  let runs = 0;
  for (const qid of orderedKeys(data)) {
    const record = data[qid];
    const at = `${JSON.stringify(qid)}`;
    if (!isPyObject(record)) throw inputError(file, at, 'an object', { got: describeJsonType(record) });
    const kind: Protocol = 'passed' in record ? 'toolbench' : 'stable';
    if (protocol !== undefined && kind !== protocol) throw inputError(file, at, `a ${protocol} record like the others`);
    protocol = kind;
    const table = kind === 'stable' ? stableRuns(record, file, at) : toolbenchRuns(record, file, at);
    verdicts.set(qid, table);
    runs = Math.max(runs, ...[...table.keys()].map((run) => run + 1));
  }
  return { protocol: protocol ?? 'stable', verdicts, order: [...orderedKeys(data)], runs };
}

function stableRuns(record: PyObject, file: string, at: string): Map<number, RunVerdict> {
  const solved = record['is_solved'];
  if (!isPyObject(solved)) throw inputError(file, `${at}.is_solved`, 'an object run → "AnswerStatus.X"', { got: describeJsonType(solved) });
  const table = new Map<number, RunVerdict>();
  for (const key of orderedKeys(solved)) {
    if (!/^\d+$/.test(key)) throw inputError(file, `${at}.is_solved`, 'run numbers as keys', { got: JSON.stringify(key) });
    table.set(Number(key), { answerStatus: statusOf(solved[key], ANSWER_STATUSES, 'AnswerStatus', file, `${at}.is_solved.${key}`) });
  }
  return table;
}

function toolbenchRuns(record: PyObject, file: string, at: string): Map<number, RunVerdict> {
  const passed = record['passed'];
  const failed = record['failed'];
  if (typeof passed !== 'number' || typeof failed !== 'number') throw inputError(file, `${at}.passed`, 'pass and fail counts');
  const answerStatus = statusOf(record['is_solved'], ANSWER_STATUSES, 'AnswerStatus', file, `${at}.is_solved`);
  const taskStatus = statusOf(record['task_solvable'], TASK_STATUSES, 'TaskStatus', file, `${at}.task_solvable`);
  const reason = typeof record['reason'] === 'string' ? record['reason'] : '';
  const notHallucinate = record['not_hallucinate'] !== false;
  const table = new Map<number, RunVerdict>();
  for (let run = 0; run < passed + failed; run++) {
    table.set(run, { answerStatus, taskStatus, label: run < passed ? 'passed' : 'failed', reason, notHallucinate });
  }
  return table;
}

function statusOf<S extends string>(value: PyValue | undefined, statuses: readonly S[], prefix: string, file: string, at: string): S {
  const name = typeof value === 'string' && value.startsWith(`${prefix}.`) ? value.slice(prefix.length + 1) : undefined;
  if (name !== undefined && (statuses as readonly string[]).includes(name)) return name as S;
  throw inputError(file, at, statuses.map((status) => `"${prefix}.${status}"`).join(', '), { got: JSON.stringify(value) });
}

/**
 * The table model of `eval report`, built from summary files: one table per kind and protocol,
 * laid out like the upstream README tables (a row per model or model pair, a column per test
 * set, then Average). Protocols get separate tables because a ToolEval pass rate (majority of
 * runs, Unsure as a coin flip) and a SoPR (Unsure as 0.5) are different numbers (spec
 * tooleval.md §5, §8). Pure: renderers (report-text.ts, report-html.ts) only format this.
 */
import { TEST_SETS } from './converted.js';
import { ToolbenchError } from '../util/errors.js';
import { mean, populationStd, type EvalSummary, type PassRateSummary, type PreferenceSummary, type Protocol } from './summary.js';

/** ToolBench's `test_sets` order (spec tooleval.md §1); other sets follow, sorted. */

const PROTOCOL_ORDER: readonly Protocol[] = ['toolbench', 'stable'];

export interface LocatedSummary<S extends EvalSummary = EvalSummary> {
  readonly file: string;
  readonly summary: S;
}

/** The Average column: mean of the row's set rates; `std` undefined where runs do not line up. */
export interface RowAverage {
  readonly rate: number;
  readonly std: number | undefined;
  /** How many test sets the mean covers (fewer than the table's columns when cells are missing). */
  readonly testSets: number;
}

export interface PreferenceAverage extends RowAverage {
  readonly tieRate: number;
}

export interface PassRateRow {
  readonly model: string;
  readonly cells: ReadonlyMap<string, LocatedSummary<PassRateSummary>>;
  readonly average: RowAverage;
}

export interface PreferenceRow {
  readonly candidate: string;
  readonly reference: string;
  readonly cells: ReadonlyMap<string, LocatedSummary<PreferenceSummary>>;
  readonly average: PreferenceAverage;
}

interface Table<Row> {
  readonly protocol: Protocol;
  /** `pass rate` / `SoPR`, `win rate` / `SoWR`: what the numbers are called upstream. */
  readonly metric: string;
  readonly title: string;
  readonly testSets: readonly string[];
  readonly rows: readonly Row[];
  /** Denominators, missing answers and judge identities, one plain-text line each. */
  readonly notes: readonly string[];
}

export type PassRateTable = Table<PassRateRow>;
export type PreferenceTable = Table<PreferenceRow>;

export interface Report {
  readonly passRate: readonly PassRateTable[];
  readonly preference: readonly PreferenceTable[];
}

export function buildReport(summaries: readonly LocatedSummary[]): Report {
  rejectDuplicates(summaries);
  const passRates = summaries.filter((item): item is LocatedSummary<PassRateSummary> => item.summary.kind === 'pass-rate');
  const preferences = summaries.filter((item): item is LocatedSummary<PreferenceSummary> => item.summary.kind === 'preference');
  return {
    passRate: byProtocol(passRates).map(([protocol, items]) => passRateTable(protocol, items)),
    preference: byProtocol(preferences).map(([protocol, items]) => preferenceTable(protocol, items)),
  };
}

/** `52.2±1.1`, or `52.2` without a spread: one decimal, as the upstream README prints. */
export function formatRate(rate: number, std: number | undefined): string {
  return std === undefined ? rate.toFixed(1) : `${rate.toFixed(1)}±${std.toFixed(1)}`;
}

export function orderTestSets(names: Iterable<string>): string[] {
  const unique = [...new Set(names)];
  const canonical = TEST_SETS.filter((name) => unique.includes(name));
  const others = unique.filter((name) => !(TEST_SETS as readonly string[]).includes(name)).sort();
  return [...canonical, ...others];
}

export function passRateMetric(protocol: Protocol): string {
  return protocol === 'stable' ? 'SoPR' : 'pass rate';
}

export function preferenceMetric(protocol: Protocol): string {
  return protocol === 'stable' ? 'SoWR' : 'win rate';
}

/**
 * Mean of the set rates, and the spread of that mean across evaluation runs: the average of each
 * run over the sets, then its population std. Sets whose run numbers differ have no common
 * per-run average, so the std is left out rather than guessed.
 */
export function rowAverage(cells: readonly { readonly rate: number; readonly runs: readonly { readonly index: number; readonly rate: number }[] }[]): RowAverage {
  const rate = mean(cells.map((cell) => cell.rate));
  const indices = cells[0]?.runs.map((run) => run.index).sort((a, b) => a - b) ?? [];
  const sameRuns = cells.every((cell) => sameNumbers(cell.runs.map((run) => run.index).sort((a, b) => a - b), indices));
  if (indices.length === 0 || !sameRuns) return { rate, std: undefined, testSets: cells.length };
  // every cell has every index (checked above); the ?? only satisfies the type checker
  const perRun = indices.map((index) => mean(cells.map((cell) => cell.runs.find((run) => run.index === index)?.rate ?? 0)));
  return { rate, std: populationStd(perRun), testSets: cells.length };
}

function sameNumbers(left: readonly number[], right: readonly number[]): boolean {
  return left.length === right.length && left.every((value, index) => value === right[index]);
}

function passRateTable(protocol: Protocol, items: readonly LocatedSummary<PassRateSummary>[]): PassRateTable {
  const metric = passRateMetric(protocol);
  const testSets = orderTestSets(items.map((item) => item.summary.test_set));
  const rows = groupRows(items, (summary) => summary.model).map(([model, cells]): PassRateRow => ({
    model,
    cells,
    average: rowAverage([...cells.values()].map(({ summary }) => ({ rate: summary.rate, runs: summary.runs.map((run) => ({ index: run.run, rate: run.rate })) }))),
  }));
  const notes = testSets.map((testSet) => passRateSetNote(testSet, rows));
  return {
    protocol,
    metric,
    title: `${protocol === 'stable' ? 'SoPR' : 'Pass rate'} (${protocol} protocol), % ± std over evaluation runs`,
    testSets,
    rows,
    notes: [
      ...notes,
      ...partialAverageNotes(rows.map((row) => [row.model, row.average]), testSets.length),
      ...incompleteNotes(items, (summary) => `${summary.test_set}/${summary.model}`),
      ...judgeNotes(items, (summary) => `${summary.test_set}/${summary.model}`),
    ],
  };
}

function preferenceTable(protocol: Protocol, items: readonly LocatedSummary<PreferenceSummary>[]): PreferenceTable {
  const metric = preferenceMetric(protocol);
  const testSets = orderTestSets(items.map((item) => item.summary.test_set));
  const rows = groupRows(items, (summary) => pairKey(summary)).map(([, cells]): PreferenceRow => {
    const summaries = [...cells.values()].map(({ summary }) => summary);
    const first = summaries[0] as PreferenceSummary; // groupRows never yields an empty row
    const average = rowAverage(summaries.map((summary) => ({ rate: summary.win_rate, runs: summary.rounds.map((round) => ({ index: round.round, rate: round.win_rate })) })));
    return { candidate: first.candidate, reference: first.reference, cells, average: { ...average, tieRate: mean(summaries.map((summary) => summary.tie_rate)) } };
  });
  const notes = testSets.map((testSet) => preferenceSetNote(testSet, rows));
  return {
    protocol,
    metric,
    title: `${protocol === 'stable' ? 'SoWR' : 'Win rate'} of candidate vs reference (${protocol} protocol), % ± std over evaluation rounds, with tie rate`,
    testSets,
    rows,
    notes: [
      ...notes,
      ...partialAverageNotes(rows.map((row) => [`${row.candidate} vs ${row.reference}`, row.average]), testSets.length),
      ...incompleteNotes(items, (summary) => `${summary.test_set}/${summary.candidate} vs ${summary.reference}`),
      ...judgeNotes(items, (summary) => `${summary.test_set}/${summary.candidate} vs ${summary.reference}`),
    ],
  };
}

/** A run that was interrupted or stopped scores what it never judged as failures: say so. */
function incompleteNotes<S extends EvalSummary>(items: readonly LocatedSummary<S>[], name: (summary: S) => string): string[] {
  return items
    .filter((item) => !item.summary.complete)
    .map((item) => `INCOMPLETE: ${name(item.summary)} (${item.file}) was interrupted or stopped; run the same command again to finish it`);
}

const pairKey = (summary: PreferenceSummary): string => JSON.stringify([summary.candidate, summary.reference]);

/** Rows in name order, each a map test set -> summary. */
function groupRows<S extends EvalSummary>(items: readonly LocatedSummary<S>[], rowKey: (summary: S) => string): [string, Map<string, LocatedSummary<S>>][] {
  const rows = new Map<string, Map<string, LocatedSummary<S>>>();
  for (const item of items) {
    const key = rowKey(item.summary);
    const cells = rows.get(key) ?? new Map<string, LocatedSummary<S>>();
    cells.set(item.summary.test_set, item);
    rows.set(key, cells);
  }
  return [...rows].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
}

function byProtocol<S extends EvalSummary>(items: readonly LocatedSummary<S>[]): [Protocol, LocatedSummary<S>[]][] {
  return PROTOCOL_ORDER.map((protocol): [Protocol, LocatedSummary<S>[]] => [protocol, items.filter((item) => item.summary.protocol === protocol)]).filter(
    ([, own]) => own.length > 0,
  );
}

/**
 * Two summaries of the same cell would make a table silently pick one. The key includes the
 * protocol: the same answers scored as pass rate and as SoPR land in different tables.
 */
function rejectDuplicates(summaries: readonly LocatedSummary[]): void {
  const seen = new Map<string, string>();
  for (const { file, summary } of summaries) {
    const who = summary.kind === 'pass-rate' ? `model ${JSON.stringify(summary.model)}` : `candidate ${JSON.stringify(summary.candidate)} vs reference ${JSON.stringify(summary.reference)}`;
    const cell = `${summary.kind} summaries of test set ${JSON.stringify(summary.test_set)}, ${who} (${summary.protocol} protocol)`;
    const earlier = seen.get(cell);
    if (earlier !== undefined) throw new ToolbenchError('input.duplicate', 2, `${earlier} and ${file}: two ${cell}; keep one`);
    seen.set(cell, file);
  }
}

/** `G1_instruction: 163 queries, 3 missing answers counted as failures` (per model when several). */
function passRateSetNote(testSet: string, rows: readonly PassRateRow[]): string {
  const cells = rows.flatMap((row) => {
    const cell = row.cells.get(testSet);
    return cell === undefined ? [] : [{ name: row.model, summary: cell.summary }];
  });
  const missing = cells.map(({ name, summary }) => ({ name, count: summary.missing_ids.length }));
  const errors = cells.map(({ name, summary }) => ({ name, count: summary.counts.errors }));
  return [
    `${testSet}: ${queryCounts(cells.map(({ name, summary }) => ({ name, total: summary.total })))}`,
    countList(missing, 'missing answers counted as failures', cells.length === 1) ?? 'no missing answers',
    countList(errors, 'judge errors counted as failures', cells.length === 1),
  ]
    .filter((part) => part !== undefined)
    .join(cells.length === 1 ? ', ' : '; ');
}

/** Upstream counts a missing answer as a vote for the other side (spec tooleval.md §6). */
function preferenceSetNote(testSet: string, rows: readonly PreferenceRow[]): string {
  const cells = rows.flatMap((row) => {
    const cell = row.cells.get(testSet);
    return cell === undefined ? [] : [{ name: `${row.candidate} vs ${row.reference}`, summary: cell.summary }];
  });
  const missing = cells.map(({ name, summary }) => ({
    name,
    text: `${summary.missing.candidate.length} of the candidate, ${summary.missing.reference.length} of the reference`,
    count: summary.missing.candidate.length + summary.missing.reference.length,
  }));
  const withMissing = missing.filter((item) => item.count > 0);
  const errors = countList(
    cells.map(({ name, summary }) => ({ name, count: summary.errors })),
    'judge errors',
    cells.length === 1,
  );
  const missingText =
    withMissing.length === 0
      ? 'no missing answers'
      : `missing answers (a vote for the other side): ${withMissing.map((item) => (cells.length === 1 ? item.text : `${item.name}: ${item.text}`)).join('; ')}`;
  return [`${testSet}: ${queryCounts(cells.map(({ name, summary }) => ({ name, total: summary.total })))}`, missingText, errors]
    .filter((part) => part !== undefined)
    .join('; ');
}

function queryCounts(totals: readonly { name: string; total: number }[]): string {
  const distinct = new Set(totals.map((item) => item.total));
  if (distinct.size === 1) return `${totals[0]?.total} queries`;
  return totals.map((item) => `${item.total} queries for ${item.name}`).join(', ');
}

/** `3 missing answers counted as failures`, or `... : a 3, b 1`; undefined when all are zero. */
function countList(items: readonly { name: string; count: number }[], what: string, single: boolean): string | undefined {
  const nonZero = items.filter((item) => item.count > 0);
  if (nonZero.length === 0) return undefined;
  if (single) return `${nonZero[0]?.count} ${what}`;
  return `${what}: ${nonZero.map((item) => `${item.name} ${item.count}`).join(', ')}`;
}

function partialAverageNotes(rows: readonly [string, RowAverage][], columns: number): string[] {
  return rows
    .filter(([, average]) => average.testSets < columns)
    .map(([name, average]) => `Average of ${name} covers only its ${average.testSets} of ${columns} test sets`);
}

/** One line per distinct judge; with several, each says which cells it judged. */
function judgeNotes<S extends EvalSummary>(items: readonly LocatedSummary<S>[], cellName: (summary: S) => string): string[] {
  const judges = new Map<string, string[]>();
  for (const { summary } of items) {
    const { evaluator, model, template_sha256: template } = summary.judge;
    const identity = `evaluator ${evaluator}, judge model ${model}, template sha256 ${template.slice(0, 12)}, ${summary.evaluate_times} evaluation runs`;
    judges.set(identity, [...(judges.get(identity) ?? []), cellName(summary)]);
  }
  if (judges.size === 1) return [...judges.keys()].map((identity) => `Judge: ${identity}`);
  return [...judges].map(([identity, cells]) => `Judge: ${identity} (for ${cells.join(', ')})`);
}

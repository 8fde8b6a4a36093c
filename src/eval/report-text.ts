/**
 * `eval report` as text: GitHub Markdown tables, one long-format CSV, and JSON. The shapes are
 * documented in the command's --help (src/cli/eval-report.ts); change both together.
 */
import { formatRate, orderTestSets, type LocatedSummary, type PassRateTable, type PreferenceTable, type Report } from './report.js';
import type { EvalSummary, JudgeIdentity, PassRateSummary, PreferenceSummary } from './summary.js';

// ---------------------------------------------------------------------------------------------
// Markdown

export function renderMarkdown(report: Report): string {
  const sections = [...report.passRate.map(passRateMarkdown), ...report.preference.map(preferenceMarkdown)];
  return sections.join('\n');
}

function passRateMarkdown(table: PassRateTable): string {
  const header = ['Model', ...table.testSets, 'Average'];
  const rows = table.rows.map((row) => [
    row.model,
    ...table.testSets.map((testSet) => {
      const cell = row.cells.get(testSet)?.summary;
      return cell === undefined ? '-' : formatRate(cell.rate, cell.std);
    }),
    formatRate(row.average.rate, row.average.std),
  ]);
  return markdownSection(table.title, header, rows, 1, table.notes);
}

function preferenceMarkdown(table: PreferenceTable): string {
  const header = ['Candidate', 'Reference', ...table.testSets, 'Average'];
  const rows = table.rows.map((row) => [
    row.candidate,
    row.reference,
    ...table.testSets.map((testSet) => {
      const cell = row.cells.get(testSet)?.summary;
      return cell === undefined ? '-' : winCell(cell.win_rate, cell.std, cell.tie_rate);
    }),
    winCell(row.average.rate, row.average.std, row.average.tieRate),
  ]);
  return markdownSection(table.title, header, rows, 2, table.notes);
}

/** `64.7±1.2 (tie 3.1)`; shared with the HTML tables. */
export function winCell(winRate: number, std: number | undefined, tieRate: number): string {
  return `${formatRate(winRate, std)} (tie ${tieRate.toFixed(1)})`;
}

function markdownSection(title: string, header: readonly string[], rows: readonly (readonly string[])[], labelColumns: number, notes: readonly string[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(escapeMarkdown).join(' | ')} |`;
  const alignment = header.map((_, index) => (index < labelColumns ? '---' : '---:'));
  return [
    `## ${escapeMarkdown(title)}`,
    '',
    line(header),
    `| ${alignment.join(' | ')} |`,
    ...rows.map(line),
    '',
    ...notes.map((note) => `- ${escapeMarkdown(note)}`),
    '',
  ].join('\n');
}

/**
 * Names come from files: backslash-escape what would become markup or break the table (CommonMark
 * allows a backslash before any ASCII punctuation). `_` only where it could start emphasis, so
 * `G1_instruction` stays readable in the source.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*[\]<>|&#!]/g, (character) => `\\${character}`)
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\_');
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180 quoting, LF line ends for shell tools)

export const CSV_COLUMNS = [
  'kind',
  'protocol',
  'test_set',
  'model',
  'reference',
  'rate',
  'std',
  'tie_rate',
  'total',
  'answered',
  'missing',
  'evaluate_times',
  'evaluator',
  'judge_model',
  'template_sha256',
] as const;

type CsvRecord = Partial<Record<(typeof CSV_COLUMNS)[number], string | number>>;

export function renderCsv(report: Report): string {
  const records: CsvRecord[] = [];
  for (const table of report.passRate) {
    for (const row of table.rows) {
      for (const testSet of table.testSets) {
        const summary = row.cells.get(testSet)?.summary;
        if (summary === undefined) continue;
        records.push({
          kind: 'pass-rate',
          protocol: summary.protocol,
          test_set: testSet,
          model: summary.model,
          rate: summary.rate,
          std: summary.std,
          total: summary.total,
          answered: summary.answered,
          missing: summary.missing_ids.length,
          ...judgeColumns(summary.judge, summary.evaluate_times),
        });
      }
      records.push({ kind: 'pass-rate', protocol: table.protocol, test_set: 'Average', model: row.model, rate: row.average.rate, std: row.average.std });
    }
  }
  for (const table of report.preference) {
    for (const row of table.rows) {
      for (const testSet of table.testSets) {
        const summary = row.cells.get(testSet)?.summary;
        if (summary === undefined) continue;
        records.push({
          kind: 'preference',
          protocol: summary.protocol,
          test_set: testSet,
          model: summary.candidate,
          reference: summary.reference,
          rate: summary.win_rate,
          std: summary.std,
          tie_rate: summary.tie_rate,
          total: summary.total,
          // the candidate's answers: the reference's missing ones are in the JSON output
          answered: summary.total - summary.missing.candidate.length,
          missing: summary.missing.candidate.length,
          ...judgeColumns(summary.judge, summary.evaluate_times),
        });
      }
      const { average } = row;
      records.push({ kind: 'preference', protocol: table.protocol, test_set: 'Average', model: row.candidate, reference: row.reference, rate: average.rate, std: average.std, tie_rate: average.tieRate });
    }
  }
  return [CSV_COLUMNS.join(','), ...records.map((record) => CSV_COLUMNS.map((column) => csvField(record[column])).join(','))].map((line) => `${line}\n`).join('');
}

function judgeColumns(judge: JudgeIdentity, evaluateTimes: number): CsvRecord {
  return { evaluate_times: evaluateTimes, evaluator: judge.evaluator, judge_model: judge.model, template_sha256: judge.template_sha256 };
}

/** RFC 4180: a field with a comma, quote or line break is quoted, and its quotes doubled. */
export function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

// ---------------------------------------------------------------------------------------------
// JSON

export function renderJson(report: Report): string {
  return `${JSON.stringify(reportJson(report), null, 2)}\n`;
}

/** Plain data with numbers as numbers; `null` for a missing cell or an average without a std. */
export function reportJson(report: Report) {
  const passRateSets = unionOfTestSets(report.passRate);
  const preferenceSets = unionOfTestSets(report.preference);
  return {
    pass_rate: {
      test_sets: passRateSets,
      rows: report.passRate.flatMap((table) =>
        table.rows.map((row) => ({
          protocol: table.protocol,
          metric: table.metric,
          model: row.model,
          cells: cellsJson(passRateSets, row.cells, passRateCellJson),
          average: { rate: row.average.rate, std: row.average.std ?? null, test_sets: row.average.testSets },
        })),
      ),
    },
    preference: {
      test_sets: preferenceSets,
      rows: report.preference.flatMap((table) =>
        table.rows.map((row) => ({
          protocol: table.protocol,
          metric: table.metric,
          candidate: row.candidate,
          reference: row.reference,
          cells: cellsJson(preferenceSets, row.cells, preferenceCellJson),
          average: { win_rate: row.average.rate, tie_rate: row.average.tieRate, std: row.average.std ?? null, test_sets: row.average.testSets },
        })),
      ),
    },
  };
}

function unionOfTestSets(tables: readonly { readonly testSets: readonly string[] }[]): string[] {
  return orderTestSets(tables.flatMap((table) => table.testSets));
}

function cellsJson<S extends EvalSummary, T>(testSets: readonly string[], cells: ReadonlyMap<string, LocatedSummary<S>>, toJson: (item: LocatedSummary<S>) => T): Record<string, T | null> {
  return Object.fromEntries(testSets.map((testSet) => {
    const cell = cells.get(testSet);
    return [testSet, cell === undefined ? null : toJson(cell)];
  }));
}

function passRateCellJson({ file, summary }: LocatedSummary<PassRateSummary>) {
  return {
    rate: summary.rate,
    std: summary.std,
    rate_answered_only: summary.rate_answered_only,
    runs: summary.runs.map((run) => ({ run: run.run, rate: run.rate })),
    total: summary.total,
    answered: summary.answered,
    missing: summary.missing_ids.length,
    errors: summary.counts.errors,
    evaluate_times: summary.evaluate_times,
    judge: summary.judge,
    file,
  };
}

function preferenceCellJson({ file, summary }: LocatedSummary<PreferenceSummary>) {
  return {
    win_rate: summary.win_rate,
    tie_rate: summary.tie_rate,
    std: summary.std,
    rounds: summary.rounds.map((round) => ({ round: round.round, win_rate: round.win_rate })),
    total: summary.total,
    wins: summary.wins,
    ties: summary.ties,
    losses: summary.losses,
    missing_candidate: summary.missing.candidate.length,
    missing_reference: summary.missing.reference.length,
    errors: summary.errors,
    evaluate_times: summary.evaluate_times,
    judge: summary.judge,
    file,
  };
}

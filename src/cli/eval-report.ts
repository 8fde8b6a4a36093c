/**
 * `toolbench eval report`: tables (and, in HTML, charts) of the summary files that `eval
 * pass-rate` and `eval preference` write, laid out like the upstream README tables.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildReport, type LocatedSummary, type Report } from '../eval/report.js';
import { renderHtml } from '../eval/report-html.js';
import { parseSummary } from '../eval/report-input.js';
import { renderCsv, renderJson, renderMarkdown } from '../eval/report-text.js';
import { SUMMARY_SUFFIX } from '../eval/summary.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { usageError } from '../util/errors.js';
import { fileError } from '../util/json-file.js';
import { createReporter, type CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';

export const REPORT_FORMATS = ['md', 'csv', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

const RENDERERS: Readonly<Record<ReportFormat, (report: Report) => string>> = {
  md: renderMarkdown,
  csv: renderCsv,
  json: renderJson,
  html: renderHtml,
};

export interface ReportFlags {
  passRate: string;
  preference?: string;
  format?: string;
  out?: string;
  json?: boolean;
}

export function registerEvalReport(evaluation: Command, io: CliIo, _outcome: CommandOutcome): void {
  evaluation
    .command('report')
    .description('tables of pass rates and win rates (Markdown, CSV, JSON or an HTML page with charts) from the summary files of eval pass-rate and eval preference')
    .requiredOption('--pass-rate <dir>', `folder searched (with subfolders) for *${SUMMARY_SUFFIX} files`)
    .option('--preference <dir>', 'a second folder searched the same way, e.g. the preference results')
    .option('--format <format>', `${REPORT_FORMATS.join(', ')} (default md)`)
    .option('--out <file>', 'write the report to this file (atomically) instead of standard output')
    .option('--json', 'the same as --format json; ignored when --format is given')
    .addHelpText(
      'after',
      `
Every *${SUMMARY_SUFFIX} file found is used; its "kind" (pass-rate or preference) says which
table it goes to, and its "protocol" which one: toolbench numbers are "pass rate" / "win rate",
stable (StableToolBench) numbers are "SoPR" / "SoWR", and the two never share a table. Columns
are the test sets (G1_instruction, G1_category, G1_tool, G2_instruction, G2_category,
G3_instruction, then others by name) and Average, the mean of the row's sets. A cell reads
52.2±1.1: the rate in percent ± the population std across evaluation runs; the Average's std is
that of the per-run averages, left out when the sets' runs differ. Under each table: the queries
per set, missing answers (counted as failures) and the judge (evaluator, model, template hash,
evaluation runs). Two summaries of the same test set and model (or pair) are an error.

--format csv: one row per summary plus an Average row per table row, columns
  kind,protocol,test_set,model,reference,rate,std,tie_rate,total,answered,missing,
  evaluate_times,evaluator,judge_model,template_sha256
  (preference: model is the candidate, rate the win rate, answered/missing the candidate's;
  Average rows leave the count and judge columns empty). Numbers are not rounded.
--format json:
  {"pass_rate": {"test_sets": [...], "rows": [{"protocol", "metric", "model",
     "cells": {"<set>": {"rate", "std", "rate_answered_only", "runs": [{"run", "rate"}], "total",
               "answered", "missing", "errors", "evaluate_times", "judge", "file"} | null},
     "average": {"rate", "std" (null when runs differ), "test_sets"}}]},
   "preference": {"test_sets": [...], "rows": [{"protocol", "metric", "candidate", "reference",
     "cells": {"<set>": {"win_rate", "tie_rate", "std", "rounds": [{"round", "win_rate"}], "total",
               "wins", "ties", "losses", "missing_candidate", "missing_reference", "errors",
               "evaluate_times", "judge", "file"} | null},
     "average": {"win_rate", "tie_rate", "std", "test_sets"}}]}}
  Rates are percentages (0-100), numbers as in the files, not rounded.
--format html: one offline page (no scripts, no external files), the tables plus bar charts
  with ±std error bars, for light and dark mode.

Examples:
  $ toolbench eval report --pass-rate results/pass_rate
  $ toolbench eval report --pass-rate results/pass_rate --preference results/preference --format html --out report.html
  $ toolbench eval report --pass-rate results --format csv > scores.csv
  $ toolbench eval report --pass-rate results/pass_rate --format json | jq '.pass_rate.rows[] | {model, average}'`,
    )
    .action(async (flags: ReportFlags, command: Command) => runReport(flags, io, { color: command.optsWithGlobals().color }));
}

/** The command without commander: find, check and render the summaries, then print or write. */
export async function runReport(flags: ReportFlags, io: CliIo, options: { color?: boolean } = {}): Promise<void> {
  const format = resolveFormat(flags);
  const files = [...findSummaryFiles('--pass-rate', flags.passRate), ...(flags.preference === undefined ? [] : findSummaryFiles('--preference', flags.preference))];
  const summaries = uniqueByPath(files).map((file): LocatedSummary => ({ file, summary: parseSummary(readText(file), file) }));
  const text = RENDERERS[format](buildReport(summaries));
  if (flags.out === undefined) {
    io.stdout.write(text);
    return;
  }
  await writeFileAtomic(flags.out, text);
  createReporter(io, options).info(`wrote the ${format} report of ${summaries.length} summary files to ${flags.out}`);
}

function resolveFormat(flags: ReportFlags): ReportFormat {
  const format = flags.format ?? (flags.json ? 'json' : 'md');
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw usageError(`--format ${format}: expected one of ${REPORT_FORMATS.join(', ')}`);
  return format as ReportFormat;
}

/** `*.summary.json` files under `dir`, any depth, in path order so output does not depend on the disk. */
function findSummaryFiles(flag: string, dir: string): string[] {
  let isFolder: boolean;
  try {
    isFolder = statSync(dir).isDirectory();
  } catch (error) {
    throw usageError(`${flag} ${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message}`, { cause: error });
  }
  if (!isFolder) throw usageError(`${flag} ${dir}: not a folder`);
  const files = walk(dir).sort();
  if (files.length === 0) throw usageError(`${flag} ${dir}: no *${SUMMARY_SUFFIX} files in this folder or below it`);
  return files;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    return entry.name.endsWith(SUMMARY_SUFFIX) && (entry.isFile() || entry.isSymbolicLink()) ? [path] : [];
  });
}

/** A --preference folder inside the --pass-rate folder is found twice; read each file once. */
function uniqueByPath(files: readonly string[]): string[] {
  const seen = new Set<string>();
  return files.filter((file) => {
    const key = resolve(file);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw fileError(file, error);
  }
}

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runReport, type ReportFlags } from '../../src/cli/eval-report.js';
import type { CliIo } from '../../src/cli/io.js';
import { buildReport, orderTestSets, rowAverage, type LocatedSummary } from '../../src/eval/report.js';
import { renderHtml } from '../../src/eval/report-html.js';
import { parseSummary } from '../../src/eval/report-input.js';
import { csvField, renderCsv, renderMarkdown, reportJson } from '../../src/eval/report-text.js';
import { populationStd, type PassRateSummary, type PreferenceSummary } from '../../src/eval/summary.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { fixture } from '../helpers/paths.js';

const PASS_RATE_DIR = fixture('eval', 'report', 'pass-rate');
const PREFERENCE_DIR = fixture('eval', 'report', 'preference');
const GPT = 'gpt-3.5-turbo-0613_cot';
const LLAMA = 'toolllama-v2_dfs';

function fakeIo() {
  const output = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: { write: (text: string) => (output.stdout += text) },
    stderr: { write: (text: string) => (output.stderr += text) },
    env: { NO_COLOR: '1' },
  };
  return { io, output };
}

async function report(flags: Partial<ReportFlags> = {}): Promise<string> {
  const { io, output } = fakeIo();
  await runReport({ passRate: PASS_RATE_DIR, preference: PREFERENCE_DIR, ...flags }, io);
  return output.stdout;
}

function passRateSummary(fields: Partial<PassRateSummary> & Pick<PassRateSummary, 'model' | 'test_set'>): PassRateSummary {
  const runs = [50, 52, 54].map((rate, run) => ({ run, rate, counts: { solved: rate, unsure: 0, unsolved: 100 - rate, missing: 0, errors: 0 } }));
  return {
    kind: 'pass-rate',
    complete: true,
    protocol: 'stable',
    judge: { evaluator: 'tooleval_gpt-3.5-turbo_default', model: 'gpt-4o', template_sha256: 'ab'.repeat(32), config_sha256: 'cd'.repeat(32) },
    evaluate_times: 3,
    total: 100,
    answered: 100,
    missing_ids: [],
    rate: 52,
    std: populationStd([50, 52, 54]),
    rate_answered_only: 52,
    counts: { solved: 156, unsure: 0, unsolved: 144, missing: 0, errors: 0 },
    runs,
    ...fields,
  };
}

function located<S extends PassRateSummary | PreferenceSummary>(summary: S, file = `${summary.test_set}.summary.json`): LocatedSummary<S> {
  return { file, summary };
}

function expectToolbenchError(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ToolbenchError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('buildReport: numbers', () => {
  test('averages a row over its sets and takes the std of the per-run averages', async () => {
    const json = JSON.parse(await report({ format: 'json' }));
    const gpt = json.pass_rate.rows.find((row: { model: string }) => row.model === GPT);
    // runs 0..2 of G1_instruction, G1_category, G1_tool: [50,52,54], [60,60,63], [40,43,43]
    const perRun = [(50 + 60 + 40) / 3, (52 + 60 + 43) / 3, (54 + 63 + 43) / 3];
    assert.ok(Math.abs(gpt.average.rate - (52 + 61 + 42) / 3) < 1e-12);
    assert.ok(Math.abs(gpt.average.std - populationStd(perRun)) < 1e-12);
    assert.equal(gpt.average.test_sets, 3);
  });

  test('leaves the average std out when the sets were judged in different runs', () => {
    const average = rowAverage([
      { rate: 50, runs: [{ index: 0, rate: 49 }, { index: 1, rate: 51 }] },
      { rate: 60, runs: [{ index: 0, rate: 60 }, { index: 2, rate: 60 }] },
    ]);
    assert.deepEqual(average, { rate: 55, std: undefined, testSets: 2 });
  });

  test('orders test sets as ToolBench does, other names after them by name', () => {
    assert.deepEqual(orderTestSets(['custom_b', 'G3_instruction', 'G1_tool', 'custom_a', 'G1_instruction']), [
      'G1_instruction',
      'G1_tool',
      'G3_instruction',
      'custom_a',
      'custom_b',
    ]);
  });

  test('puts each protocol in its own table, named pass rate or SoPR', () => {
    const built = buildReport([
      located(passRateSummary({ model: 'm', test_set: 'G1_tool', protocol: 'toolbench' })),
      located(passRateSummary({ model: 'm', test_set: 'G1_tool', protocol: 'stable' }), 'other.summary.json'),
    ]);
    assert.deepEqual(
      built.passRate.map((table) => [table.protocol, table.metric]),
      [
        ['toolbench', 'pass rate'],
        ['stable', 'SoPR'],
      ],
    );
    assert.match(built.passRate[1]!.title, /^SoPR/);
  });

  test('two summaries of the same test set and model are an error naming both files', () => {
    const summary = passRateSummary({ model: 'm', test_set: 'G1_tool' });
    assert.throws(
      () => buildReport([located(summary, 'runs/a/G1_tool.summary.json'), located(summary, 'runs/b/G1_tool.summary.json')]),
      expectToolbenchError('input.duplicate', /runs\/a\/G1_tool\.summary\.json and runs\/b\/G1_tool\.summary\.json/),
    );
  });
});

describe('eval report: markdown', () => {
  test('prints the README-style tables with notes on denominators, missing answers and the judge', async () => {
    const markdown = await report();
    const lines = markdown.split('\n');
    assert.equal(lines[0], '## SoPR (stable protocol), % ± std over evaluation runs');
    assert.deepEqual(lines.slice(2, 6), [
      '| Model | G1_instruction | G1_category | G1_tool | Average |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| ${GPT} | 52.0±1.6 | 61.0±1.4 | 42.0±1.4 | 51.7±1.4 |`,
      `| ${LLAMA} | 33.0±2.4 | 45.0±0.0 | 22.0±2.2 | 33.3±1.5 |`,
    ]);
    assert.ok(lines.includes(`- G1_instruction: 100 queries; missing answers counted as failures: ${LLAMA} 2`), markdown);
    assert.ok(lines.includes('- G1_category: 100 queries; no missing answers'), markdown);
    assert.ok(lines.includes('- Judge: evaluator tooleval_gpt-3.5-turbo_default, judge model gpt-4-turbo-2024-04-09, template sha256 3f2a9c41d07b, 3 evaluation runs'), markdown);
    assert.ok(lines.includes('## SoWR of candidate vs reference (stable protocol), % ± std over evaluation rounds, with tie rate'), markdown);
    assert.ok(lines.includes('| Candidate | Reference | G1_instruction | G1_tool | Average |'), markdown);
    assert.ok(lines.includes(`| ${LLAMA} | ${GPT} | 62.0±1.6 (tie 4.0) | 51.0±1.4 (tie 3.0) | 56.5±1.5 (tie 3.5) |`), markdown);
  });

  test('escapes table syntax and markup in names', () => {
    const markdown = renderMarkdown(buildReport([located(passRateSummary({ model: 'a|b<i>', test_set: 'G1_tool' }))]));
    assert.match(markdown, /\| a\\\|b\\<i\\> \| 52\.0±1\.6 \|/);
  });
});

describe('eval report: csv', () => {
  test('writes one long row per summary and an Average row per table row', async () => {
    const csv = await report({ format: 'csv' });
    const lines = csv.trimEnd().split('\n');
    assert.equal(lines[0], 'kind,protocol,test_set,model,reference,rate,std,tie_rate,total,answered,missing,evaluate_times,evaluator,judge_model,template_sha256');
    assert.equal(lines.length, 1 + 2 * 4 + 3);
    const perRun = [(50 + 60 + 40) / 3, (52 + 60 + 43) / 3, (54 + 63 + 43) / 3];
    assert.equal(lines[4], `pass-rate,stable,Average,${GPT},,${(52 + 61 + 42) / 3},${populationStd(perRun)},,,,,,,,`);
    const llamaInstruction = lines.find((line) => line.startsWith(`pass-rate,stable,G1_instruction,${LLAMA},`))!.split(',');
    assert.deepEqual(llamaInstruction.slice(8, 12), ['100', '98', '2', '3']);
    assert.ok(lines.includes(`preference,stable,G1_tool,${LLAMA},${GPT},51,${populationStd([50, 50, 53])},3,100,100,0,3,tooleval_gpt-3.5-turbo_default,gpt-4-turbo-2024-04-09,3f2a9c41d07be5a8c6e1f09b2d4c7a6e8b1f3d5c7e9a0b2c4d6e8f0a1b3c5d7e`), csv);
  });

  test('quotes fields with commas, quotes and line breaks as RFC 4180 says', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField(undefined), '');
    const csv = renderCsv(buildReport([located(passRateSummary({ model: 'm, "large"', test_set: 'G1_tool' }))]));
    assert.match(csv, /^pass-rate,stable,G1_tool,"m, ""large""",,52,/m);
  });
});

describe('eval report: json', () => {
  test('gives rows with numbers, a null for a missing cell and for an average without std', async () => {
    const json = JSON.parse(await report({ format: 'json' }));
    assert.deepEqual(Object.keys(json), ['pass_rate', 'preference']);
    assert.deepEqual(json.pass_rate.test_sets, ['G1_instruction', 'G1_category', 'G1_tool']);
    const llama = json.pass_rate.rows[1];
    assert.deepEqual(Object.keys(llama), ['protocol', 'metric', 'model', 'cells', 'average']);
    assert.equal(llama.metric, 'SoPR');
    assert.equal(llama.model, LLAMA);
    assert.deepEqual(llama.cells.G1_instruction.runs, [
      { run: 0, rate: 30 },
      { run: 1, rate: 33 },
      { run: 2, rate: 36 },
    ]);
    assert.equal(llama.cells.G1_instruction.missing, 2);
    assert.equal(llama.cells.G1_instruction.judge.model, 'gpt-4-turbo-2024-04-09');
    assert.match(llama.cells.G1_instruction.file, /G1_instruction\.summary\.json$/);
    const [pair] = json.preference.rows;
    assert.deepEqual([pair.candidate, pair.reference, pair.metric], [LLAMA, GPT, 'SoWR']);
    assert.equal(pair.cells.G1_instruction.missing_candidate, 2);
    assert.deepEqual(pair.average, { win_rate: 56.5, tie_rate: 3.5, std: pair.average.std, test_sets: 2 });
    assert.ok(Math.abs(pair.average.std - populationStd([55, 56, 58.5])) < 1e-12);

    const partial = reportJson(
      buildReport([
        located(passRateSummary({ model: 'a', test_set: 'G1_tool' })),
        located(passRateSummary({ model: 'b', test_set: 'G1_instruction', runs: [] })),
      ]),
    );
    assert.equal(partial.pass_rate.rows[0]!.cells.G1_instruction, null);
    assert.equal(partial.pass_rate.rows[1]!.average.std, null);
    assert.deepEqual(partial.preference, { test_sets: [], rows: [] });
  });

  test('--json alone selects JSON; an explicit --format wins over it', async () => {
    assert.equal((await report({ json: true })).startsWith('{'), true);
    assert.equal((await report({ json: true, format: 'md' })).startsWith('## '), true);
  });
});

describe('eval report: html', () => {
  test('is one self-contained page with tables, charts, error bars and bar titles', async () => {
    const html = await report({ format: 'html' });
    assert.match(html, /^<!DOCTYPE html>/);
    assert.doesNotMatch(html, /http/i);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<link/i);
    assert.doesNotMatch(html, /@import|url\(|@font-face/i);
    assert.match(html, /prefers-color-scheme: dark/);
    assert.equal((html.match(/<svg /g) ?? []).length, 2);
    assert.equal((html.match(/<table>/g) ?? []).length, 2);
    assert.match(html, new RegExp(`<title>${LLAMA}, G1_instruction: SoPR 33\\.0±2\\.4 \\(100 queries, 2 missing answers\\)</title>`));
    assert.match(html, /<path class="error" d="M/);
    assert.match(html, /class="guide"/);
    assert.match(html, /<td class="num">51\.7±1\.4<\/td>/);
  });

  test('escapes names taken from the files', () => {
    const html = renderHtml(buildReport([located(passRateSummary({ model: 'a<b&"c"', test_set: 'G1_<tool>' }))]));
    assert.doesNotMatch(html, /a<b|&"c"|<tool>/);
    assert.match(html, /<th scope="row">a&lt;b&amp;&quot;c&quot;<\/th>/);
    assert.match(html, /<title>a&lt;b&amp;&quot;c&quot;, G1_&lt;tool&gt;: SoPR 52\.0±1\.6/);
    assert.match(html, /G1_&lt;tool&gt;<\/text>/);
  });
});

describe('eval report: input errors', () => {
  test('a bad field names the file, the JSON path and what was expected', () => {
    const file = join(PASS_RATE_DIR, LLAMA, 'G1_tool.summary.json');
    const data = JSON.parse(readFileSync(file, 'utf8'));
    data.runs[1].rate = '21';
    assert.throws(() => parseSummary(JSON.stringify(data), 'bad.summary.json'), expectToolbenchError('input.invalid', /^bad\.summary\.json: \$\.runs\[1\]\.rate: expected a number from 0 to 100, got a string$/));
    delete data.judge.model;
    assert.throws(() => parseSummary(JSON.stringify(data), 'bad.summary.json'), expectToolbenchError('input.invalid', /\$\.judge\.model: expected a non-empty string, got nothing/));
    assert.throws(() => parseSummary('{"kind": "leaderboard"}', 'x.summary.json'), expectToolbenchError('input.invalid', /\$\.kind: expected "pass-rate" or "preference", got "leaderboard"/));
    assert.throws(() => parseSummary('{"kind": ', 'x.summary.json'), expectToolbenchError('input.invalid', /^x\.summary\.json: \$: expected a JSON document/));
  });

  test('the command reports a bad summary file by its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-bad-'));
    const data = JSON.parse(readFileSync(join(PREFERENCE_DIR, LLAMA, 'G1_tool.summary.json'), 'utf8'));
    data.rounds[0].round = 2;
    data.rounds[2].round = 2;
    mkdirSync(join(dir, 'nested'));
    writeFileSync(join(dir, 'nested', 'G1_tool.summary.json'), JSON.stringify(data));
    const { io } = fakeIo();
    await assert.rejects(runReport({ passRate: dir }, io), expectToolbenchError('input.invalid', /nested\/G1_tool\.summary\.json: \$\.rounds\[2\]\.round: expected a round number not used by an earlier item, got 2/));
  });

  test('a folder without summary files is a usage error naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-empty-'));
    writeFileSync(join(dir, 'G1_tool.json'), '{}');
    const { io } = fakeIo();
    await assert.rejects(runReport({ passRate: PASS_RATE_DIR, preference: dir }, io), expectToolbenchError('usage.invalid', new RegExp(`--preference ${dir}: no \\*\\.summary\\.json files`)));
    await assert.rejects(runReport({ passRate: join(dir, 'absent') }, io), expectToolbenchError('usage.invalid', /no such folder/));
    await assert.rejects(runReport({ passRate: PASS_RATE_DIR, format: 'xlsx' }, io), expectToolbenchError('usage.invalid', /--format xlsx/));
  });
});

describe('eval report: --out', () => {
  test('writes the file and nothing to stdout', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'report-out-')), 'sub', 'report.md');
    const { io, output } = fakeIo();
    await runReport({ passRate: PASS_RATE_DIR, preference: PREFERENCE_DIR, out }, io);
    assert.equal(output.stdout, '');
    assert.equal(readFileSync(out, 'utf8'), await report());
    assert.match(output.stderr, /wrote the md report of 8 summary files/);
  });

  test('reads a preference folder inside the pass-rate folder once', async () => {
    const json = JSON.parse(await report({ passRate: fixture('eval', 'report'), format: 'json' }));
    assert.equal(json.preference.rows.length, 1);
    assert.equal(json.pass_rate.rows.length, 2);
  });
});

/**
 * `toolbench eval convert`: raw answer files (`<qid>_<method>.json`) to ToolEval's converted
 * answers (spec tooleval.md §2, formats.md §4), one object keyed by query id.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { convertAnswer, methodFamily, type ConvertedEntry } from '../eval/convert.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { listAnswerFiles } from '../util/answer-files.js';
import { ToolbenchError, usageError } from '../util/errors.js';
import { readJsonFile } from '../util/json-file.js';
import { orderedObject } from '../util/py-value.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { createReporter, type CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';

/** Upstream seeds Python's RNG with 42 at import (tooleval.md §2). */
const DEFAULT_SEED = 42;

interface ConvertFlags {
  answers: string;
  method: string;
  out: string;
  seed: string;
  indent?: string;
  json?: boolean;
}

export function registerEvalConvert(evaluation: Command, io: CliIo, outcome: CommandOutcome): void {
  evaluation
    .command('convert')
    .description('convert raw answer files to the answer format ToolEval scores (convert_to_answer_format.py)')
    .requiredOption('--answers <dir>', 'folder of raw answer files <query_id>_<method>.json')
    .requiredOption('--method <method>', 'the run\'s method name (e.g. CoT@1, DFS_woFilter_w2): selects the files, names the family (CoT or DFS) and is written into each entry')
    .requiredOption('--out <file>', 'the converted answers file to write')
    .option('--seed <n>', 'seed of the random choices for invalid data (which CoT try, which DFS path)', String(DEFAULT_SEED))
    .option('--indent <n>', 'indent the output (2 for StableToolBench\'s layout; default one line, as ToolBench)')
    .option('--json', 'print the counts as JSON')
    .addHelpText(
      'after',
      `
Files are read in name order. Valid answers are converted from their last train_messages
conversation (function and tool message shapes). For invalid ones upstream picks a random CoT try
or a random path of the DFS tree; here the choice is a seeded draw, recorded in the entry under
"toolbench": {"seed", "choices"}. Files that cannot be read or lack a needed field are reported
and skipped (exit 3).

Examples:
  $ toolbench eval convert --answers answer/virtual_chatgpt_dfs/G1_instruction --method DFS_woFilter_w2 --out converted/chatgpt_dfs/G1_instruction.json
  $ toolbench eval convert --answers answer/chatgpt_cot/G1_tool --method CoT@1 --out G1_tool.json --indent 2 --seed 7 --json`,
    )
    .action(async (flags: ConvertFlags, command: Command) => convert(flags, io, outcome, command.optsWithGlobals().color));
}

async function convert(flags: ConvertFlags, io: CliIo, outcome: CommandOutcome, color?: boolean): Promise<void> {
  const reporter = createReporter(io, { color });
  const family = methodFamily(flags.method);
  if (family === undefined) throw usageError(`--method ${flags.method}: the name must contain CoT/cot or DFS/dfs to tell the answer format`);
  const seed = integerFlag('--seed', flags.seed, 0);
  const indent = flags.indent === undefined ? undefined : integerFlag('--indent', flags.indent, 0);
  const names = listAnswerFiles(flags.answers, flags.method);
  const entries: [string, ConvertedEntry][] = [];
  const counts = { files: names.length, converted: 0, valid: 0, invalid: 0, skipped: 0 };
  for (const name of names) {
    const file = join(flags.answers, name);
    const qid = name.split('_')[0] ?? name;
    let data;
    try {
      data = readJsonFile(file);
    } catch (error) {
      if (!(error instanceof ToolbenchError)) throw error;
      reporter.warn(`skipped: ${error.message}`);
      counts.skipped++;
      continue;
    }
    const result = convertAnswer(data, { qid, method: flags.method, family, seed });
    if (!result.ok) {
      const got = result.got === undefined ? '' : `, got ${result.got}`;
      reporter.warn(`skipped: ${file}: ${result.jsonPath}: expected ${result.expected}${got}`);
      counts.skipped++;
      continue;
    }
    entries.push([qid, result.entry]);
    counts.converted++;
    counts[result.valid ? 'valid' : 'invalid']++;
  }
  await writeFileAtomic(flags.out, pyJsonDumps(orderedObject(entries), indent === undefined ? {} : { indent }));
  if (counts.skipped > 0) outcome.partial = true;
  if (flags.json) io.stdout.write(`${JSON.stringify(counts)}\n`);
  else reporter.info(`converted ${counts.converted} of ${counts.files} files into ${flags.out} (${counts.valid} valid, ${counts.invalid} invalid, ${counts.skipped} skipped)`);
}

function integerFlag(flag: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < minimum) {
    throw usageError(`${flag} ${text}: expected an integer of at least ${minimum}`);
  }
  return value;
}

/** `toolbench tools list`: the tools of a tool environment. */
import type { Command } from 'commander';
import { ToolEnvironment, detectLayout } from '../registry/tool-environment.js';
import { usageError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { createReporter, formatColumns, type CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { TOOLS_DIR_HELP } from './flag-help.js';

interface ListFlags {
  tools: string;
  category?: string;
  strict?: boolean;
  json?: boolean;
  color?: boolean;
}

export function registerToolsList(tools: Command, io: CliIo, outcome: CommandOutcome): void {
  tools
    .command('list')
    .description('list the tools of a tool environment directory')
    .requiredOption('--tools <dir>', TOOLS_DIR_HELP)
    .option('--category <name>', 'only this category')
    .option('--strict', 'fail (exit 2) on the first malformed tool file instead of reporting it')
    .option('--json', 'print {root, layout, tools, problems} as JSON')
    .addHelpText(
      'after',
      `
Malformed tool files are reported on stderr and the others are listed (exit 3); --strict stops at the first one.

Examples:
  $ toolbench tools list --tools data/toolenv/tools
  $ toolbench tools list --tools toolenv2404_filtered --category Finance --json | jq '.tools[].tool_name'`,
    )
    .action((_flags: ListFlags, command: Command) => listTools(command.optsWithGlobals(), io, outcome));
}

function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

function listTools(flags: ListFlags, io: CliIo, outcome: CommandOutcome): void {
  const reporter = createReporter(io, flags);
  const environment = ToolEnvironment.open(flags.tools);
  if (flags.category !== undefined && !environment.categories().includes(flags.category)) {
    throw usageError(`--category ${flags.category}: no such category in ${environment.root}`);
  }
  const { tools, problems } = environment.loadAll({ strict: flags.strict ?? false, category: flags.category });
  const layout = detectLayout(tools);
  if (flags.json) {
    const listing = tools.map((tool) => ({
      category: tool.category,
      standard_name: tool.standardName,
      tool_name: tool.toolName,
      apis: tool.apis.length,
      file: tool.file,
    }));
    io.stdout.write(`${pyJsonDumps({ root: environment.root, layout, tools: listing, problems }, { indent: 2, ensureAscii: false })}\n`);
  } else {
    const rows = tools.map((tool) => [tool.category, tool.standardName, String(tool.apis.length), tool.toolName]);
    io.stdout.write(formatColumns([['CATEGORY', 'TOOL', 'APIS', 'NAME'], ...rows]));
  }
  for (const problem of problems) reporter.warn(problem.message);
  if (tools.length === 0 && problems.length === 0) {
    reporter.warn(`no tool files under ${environment.root} (expected <Category>/<tool>.json inside it)`);
  }
  const apiCount = tools.reduce((sum, tool) => sum + tool.apis.length, 0);
  const categoryCount = new Set(tools.map((tool) => tool.category)).size;
  const skipped = problems.length > 0 ? `; skipped ${count(problems.length, 'unreadable or malformed file or folder', 'unreadable or malformed files or folders')} (--strict to fail instead)` : '';
  reporter.info(`${count(tools.length, 'tool')}, ${count(apiCount, 'API')} in ${count(categoryCount, 'category', 'categories')} (${layout} layout)${skipped}`);
  if (problems.length > 0) outcome.partial = true;
}

/** `toolbench tools functions`: the function list inference gives the model for one query. */
import { Option, type Command } from 'commander';
import { FINISH_VERSIONS, toToolsShape, type FinishVersion } from '../registry/function-schema.js';
import { findQueryInFile } from '../registry/query-file.js';
import { functionsFromEnvironment, functionsFromQuery } from '../registry/query-functions.js';
import { ToolEnvironment } from '../registry/tool-environment.js';
import { ToolbenchError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { createReporter, type CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { renderFunctions } from './render-functions.js';
import { DIGIT_PREFIX_HELP } from './flag-help.js';

interface FunctionsFlags {
  queries: string;
  id: string;
  tools?: string;
  digitPrefix: boolean;
  finish: FinishVersion;
  shape: 'functions' | 'tools';
  json?: boolean;
  color?: boolean;
}

export function registerToolsFunctions(tools: Command, io: CliIo, outcome: CommandOutcome): void {
  tools
    .command('functions')
    .description('print the exact function list (with Finish) that inference gives the model for one query')
    .requiredOption('--queries <file>', 'query file: a JSON array of queries')
    .requiredOption('--id <query_id>', 'the query_id to use (or the position in the file for queries without one)')
    .option('--tools <dir>', "tool environment: take the APIs from the tool files (upstream behaviour) instead of the query's api_list")
    .option('--no-digit-prefix', DIGIT_PREFIX_HELP)
    .addOption(
      new Option('--finish <wording>', "the wording of Finish's description: current, or the 2023 release's (ToolBench training trees)")
        .choices(FINISH_VERSIONS)
        .default('current'),
    )
    .addOption(
      new Option(
        '--shape <shape>',
        'with --json: functions, the legacy list (as answer files record it); tools, each wrapped as {type: "function", function} (without the "" that StableToolBench puts first in required and optional)',
      )
        .choices(['functions', 'tools'])
        .default('functions'),
    )
    .option('--json', 'print the list as JSON (Python json.dumps, indent 2)')
    .addHelpText(
      'after',
      `
Without --tools the descriptions carried in the query's api_list are used. With --tools an API the
tool files lack is reported on stderr and left out (exit 3).

Examples:
  $ toolbench tools functions --queries solvable_queries/test_instruction/G1_instruction.json --id 588 --json
  $ toolbench tools functions --queries G1_instruction.json --id 588 --tools toolenv2404_filtered`,
    )
    .action((_flags: FunctionsFlags, command: Command) => printFunctions(command.optsWithGlobals(), io, outcome));
}

function printFunctions(flags: FunctionsFlags, io: CliIo, outcome: CommandOutcome): void {
  const reporter = createReporter(io, flags);
  const { query, scanned } = findQueryInFile(flags.queries, flags.id);
  if (query === undefined) {
    throw new ToolbenchError('input.unknown-query', 2, `${flags.queries}: no query with query_id ${flags.id} (${scanned} queries in the file)`);
  }
  const options = { digitPrefix: flags.digitPrefix, finish: flags.finish };
  const result =
    flags.tools === undefined
      ? functionsFromQuery(query, options)
      : functionsFromEnvironment(query, ToolEnvironment.open(flags.tools), options);
  if (flags.json) {
    const list = flags.shape === 'tools' ? toToolsShape(result.functions) : result.functions;
    io.stdout.write(`${pyJsonDumps(list, { indent: 2 })}\n`);
  } else {
    io.stdout.write(renderFunctions(result.functions));
  }
  for (const missing of result.unresolved) reporter.warn(`${missing.ref.file}: ${missing.ref.path}: ${missing.message}`);
  for (const name of result.duplicateNames) {
    reporter.warn(`function name ${name} occurs more than once: a call to it is ambiguous (upstream keeps both)`);
  }
  if (result.unresolved.length > 0) {
    reporter.info(`${result.unresolved.length} of ${query.apiList?.length ?? 0} APIs left out`);
    outcome.partial = true;
  }
}

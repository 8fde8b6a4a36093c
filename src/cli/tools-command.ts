/** `toolbench tools list | show | functions`: inspect the tool registry. */
import { Command, Option } from 'commander';
import { FINISH_VERSIONS, apiToFunction, toToolsShape, type FinishVersion, type OpenAIFunction } from '../registry/function-schema.js';
import { pureApiName, functionName, standardize, type NameOptions } from '../registry/names.js';
import { findQuery, readQueryFile } from '../registry/query-file.js';
import { functionsFromEnvironment, functionsFromQuery } from '../registry/query-functions.js';
import { toolDescriptionText } from '../registry/task-description.js';
import type { ToolDocument } from '../registry/tool-document.js';
import { ToolEnvironment, detectLayout } from '../registry/tool-environment.js';
import { ToolbenchError, usageError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { orderedKeys } from '../util/py-value.js';
import { createReporter, formatColumns, type CliIo } from './io.js';

/** Set by a command whose results are written but incomplete (exit code 3). */
export interface CommandOutcome {
  partial: boolean;
}

interface ToolsFlags {
  tools: string;
  json?: boolean;
  strict?: boolean;
  category?: string;
  digitPrefix: boolean;
  /** The global --no-color flag. */
  color?: boolean;
}

interface FunctionsFlags extends Omit<ToolsFlags, 'tools'> {
  tools?: string;
  queries: string;
  id: string;
  shape: 'functions' | 'tools';
  finish: FinishVersion;
}

const DIGIT_PREFIX_HELP =
  'standardize API and parameter names without the get_ prefix for a leading digit, as the 2023 code behind ToolEval\'s reference predictions did';

export function registerToolsCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  const tools = program
    .command('tools')
    .description('inspect the tool registry: tools, their APIs and the function lists given to models')
    .addHelpText('after', '\nRun "toolbench tools <command> --help" for the options of each command.');

  tools
    .command('list')
    .description('list the tools of a tool environment directory')
    .requiredOption('--tools <dir>', 'tool environment: tools/<Category>/<tool>.json (or the toolenv/ folder holding tools/)')
    .option('--category <name>', 'only this category')
    .option('--strict', 'fail (exit 2) on the first malformed tool file instead of reporting it')
    .option('--json', 'print {layout, tools, problems} as JSON')
    .addHelpText(
      'after',
      `
Malformed tool files are reported on stderr and the others are listed (exit 3); --strict stops at the first one.

Examples:
  $ toolbench tools list --tools data/toolenv/tools
  $ toolbench tools list --tools toolenv2404_filtered --category Finance --json | jq '.tools[].tool_name'`,
    )
    .action((flags: ToolsFlags, command: Command) => listTools(command.optsWithGlobals(), io, outcome));

  tools
    .command('show')
    .description('show one tool: its description, APIs and their function schemas')
    .argument('<name>', 'Category/standard_name, a standard name (olato_quotes) or an original tool name ("Olato Quotes")')
    .requiredOption('--tools <dir>', 'tool environment directory')
    .option('--no-digit-prefix', DIGIT_PREFIX_HELP)
    .option('--json', 'print the tool as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ toolbench tools show "Olato Quotes" --tools data/toolenv/tools
  $ toolbench tools show Finance/currency_converter_v2 --tools toolenv2404_filtered --json`,
    )
    .action((name: string, flags: ToolsFlags) => showTool(name, flags, io));

  tools
    .command('functions')
    .description("print the exact function list (with Finish) that inference gives the model for one query")
    .requiredOption('--queries <file>', 'query file: a JSON array of queries')
    .requiredOption('--id <query_id>', 'the query_id to use (or the position in the file for queries without one)')
    .option('--tools <dir>', "tool environment: take the APIs from the tool files (upstream behaviour) instead of the query's api_list")
    .option('--no-digit-prefix', DIGIT_PREFIX_HELP)
    .addOption(
      new Option('--finish <wording>', "which wording of Finish's description: current, or the 2023 release's (ToolBench training trees)")
        .choices(FINISH_VERSIONS)
        .default('current'),
    )
    .addOption(
      new Option('--shape <shape>', 'functions: the legacy functions list (as answer files record it); tools: wrapped as {type: "function", function}')
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
    .action((flags: FunctionsFlags, command: Command) => printFunctions(command.optsWithGlobals(), io, outcome));
}

function nameOptions(flags: { digitPrefix: boolean }): NameOptions {
  return { digitPrefix: flags.digitPrefix };
}

function listTools(flags: ToolsFlags, io: CliIo, outcome: CommandOutcome): void {
  const reporter = createReporter(io, flags);
  const environment = ToolEnvironment.open(flags.tools);
  if (flags.category !== undefined && !environment.categories().includes(flags.category)) {
    throw usageError(`--category ${flags.category}: no such category in ${environment.root}`);
  }
  const { tools, problems } = environment.loadAll({ strict: flags.strict ?? false, category: flags.category });
  const apiCount = tools.reduce((sum, tool) => sum + tool.apis.length, 0);
  if (flags.json) {
    const summary = tools.map((tool) => ({
      category: tool.category,
      standard_name: tool.standardName,
      tool_name: tool.toolName,
      apis: tool.apis.length,
      file: tool.file,
    }));
    io.stdout.write(`${pyJsonDumps({ root: environment.root, layout: detectLayout(tools), tools: summary, problems }, { indent: 2, ensureAscii: false })}\n`);
  } else {
    const rows = tools.map((tool) => [tool.category, tool.standardName, String(tool.apis.length), tool.toolName]);
    io.stdout.write(formatColumns([['CATEGORY', 'TOOL', 'APIS', 'NAME'], ...rows]));
  }
  for (const problem of problems) reporter.warn(problem.message);
  const categories = new Set(tools.map((tool) => tool.category)).size;
  reporter.info(
    `${tools.length} tools, ${apiCount} APIs in ${categories} categories (${detectLayout(tools)} layout)` +
      (problems.length > 0 ? `; ${problems.length} malformed files skipped (--strict to fail on them)` : ''),
  );
  if (problems.length > 0) outcome.partial = true;
}

function showTool(name: string, flags: ToolsFlags, io: CliIo): void {
  const environment = ToolEnvironment.open(flags.tools);
  const tool = findToolByName(environment, name);
  const names = nameOptions(flags);
  const functions = tool.apis.map((api) =>
    apiToFunction(
      { apiName: api.name, apiDescription: api.description, requiredParameters: api.requiredParameters, optionalParameters: api.optionalParameters },
      tool.standardName,
      names,
    ),
  );
  if (flags.json) {
    const document = {
      category: tool.category,
      standard_name: tool.standardName,
      tool_name: tool.toolName,
      file: tool.file,
      standardized_name: tool.standardizedName,
      description: tool.description,
      task_description: `${tool.standardName}: ${toolDescriptionText(tool.description)}`,
      apis: tool.apis.map((api, index) => ({
        name: api.name,
        function_name: functions[index]?.name,
        method: api.method,
        url: api.url,
        description: api.description,
      })),
      functions,
    };
    io.stdout.write(`${pyJsonDumps(document, { indent: 2, ensureAscii: false })}\n`);
    return;
  }
  const out: string[] = [
    `${tool.toolName}  (${tool.category}/${tool.standardName})`,
    `file: ${tool.file}`,
    `in the system prompt: ${tool.standardName}: ${toolDescriptionText(tool.description)}`,
    '',
    `${tool.apis.length} APIs:`,
  ];
  tool.apis.forEach((api, index) => {
    out.push(`  ${functionName(pureApiName(api.name, names), tool.standardName)}  [${api.method || '?'}] "${api.name}"`);
    if (api.description.trim() !== '') out.push(`      ${oneLine(api.description)}`);
    const fn = functions[index];
    if (fn !== undefined) out.push(...describeParameters(fn).map((line) => `      ${line}`));
  });
  io.stdout.write(`${out.join('\n')}\n`);
}

function printFunctions(flags: FunctionsFlags, io: CliIo, outcome: CommandOutcome): void {
  const reporter = createReporter(io, flags);
  const queries = readQueryFile(flags.queries);
  const query = findQuery(queries, flags.id);
  if (query === undefined) {
    throw new ToolbenchError('input.unknown-query', 2, `${flags.queries}: no query with query_id ${flags.id} (${queries.length} queries in the file)`);
  }
  const options = { digitPrefix: flags.digitPrefix, finish: flags.finish };
  const result =
    flags.tools === undefined
      ? functionsFromQuery(query, options)
      : functionsFromEnvironment(query, ToolEnvironment.open(flags.tools), options);
  const list = flags.shape === 'tools' ? toToolsShape(result.functions) : result.functions;
  if (flags.json) io.stdout.write(`${pyJsonDumps(list, { indent: 2 })}\n`);
  else io.stdout.write(renderFunctions(result.functions));
  for (const missing of result.unresolved) reporter.warn(`${missing.ref.file}: ${missing.ref.path}: ${missing.message}`);
  for (const name of result.duplicateNames) {
    reporter.warn(`function name ${name} occurs more than once: a call to it is ambiguous (upstream keeps both)`);
  }
  if (result.unresolved.length > 0) {
    reporter.info(`${result.unresolved.length} of ${query.apiList?.length ?? 0} APIs left out`);
    outcome.partial = true;
  }
}

/** Resolves `Category/name`, a standard name or an original tool name to exactly one tool. */
function findToolByName(environment: ToolEnvironment, name: string): ToolDocument {
  const slash = name.indexOf('/');
  if (slash > 0) {
    const category = name.slice(0, slash);
    const tool = environment.find(category, name.slice(slash + 1)) ?? environment.find(category, standardize(name.slice(slash + 1)));
    if (tool !== undefined) return tool;
    throw usageError(`no tool ${name} in ${environment.root}`);
  }
  const candidates = [...new Map([...environment.locate(name), ...environment.locate(standardize(name))].map((l) => [l.file, l])).values()];
  if (candidates.length === 1) return environment.load(candidates[0] as (typeof candidates)[number]);
  if (candidates.length > 1) {
    const choices = candidates.map((location) => `${location.category}/${location.standardName}`).join(', ');
    throw usageError(`tool name ${name} is ambiguous in ${environment.root}: ${choices}; write CATEGORY/NAME`);
  }
  const wanted = standardize(name);
  const similar = environment
    .allToolFiles()
    .filter((location) => wanted !== '' && (location.standardName.includes(wanted) || wanted.includes(location.standardName)) && location.standardName !== '')
    .slice(0, 5)
    .map((location) => `${location.category}/${location.standardName}`);
  throw usageError(`no tool named ${name} in ${environment.root}${similar.length > 0 ? ` (similar: ${similar.join(', ')})` : ''}`);
}

function renderFunctions(functions: readonly OpenAIFunction[]): string {
  const lines: string[] = [];
  for (const fn of functions) {
    const detail = fn.description.match(/The description of this function is: "([\s\S]*)"$/)?.[1];
    lines.push(fn.name);
    lines.push(`    ${oneLine(detail ?? fn.description)}`);
    lines.push(...describeParameters(fn).map((line) => `    ${line}`));
  }
  return `${lines.join('\n')}\n`;
}

function describeParameters(fn: OpenAIFunction): string[] {
  const parameters = fn.parameters as {
    properties: Record<string, { type: string; example_value?: unknown; enum?: readonly string[] }>;
    required: readonly string[];
  };
  return orderedKeys(parameters.properties).map((name) => {
    const property = parameters.properties[name] as { type: string; example_value?: unknown; enum?: readonly string[] };
    const required = parameters.required.includes(name) ? 'required' : 'optional';
    const example = property.example_value === undefined ? '' : `, e.g. ${pyJsonDumps(property.example_value, { ensureAscii: false })}`;
    const choices = property.enum === undefined ? '' : ` (${property.enum.join(' | ')})`;
    return `- ${name}: ${property.type}${choices}, ${required}${example}`;
  });
}

function oneLine(text: string, width = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

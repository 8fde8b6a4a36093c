/** `toolbench tools show`: one tool, its APIs and their function schemas. */
import type { Command } from 'commander';
import { apiToFunction, describeToolApi } from '../registry/function-schema.js';
import { toolDescriptionText } from '../registry/task-description.js';
import { lookupTool } from '../registry/tool-lookup.js';
import { ToolEnvironment } from '../registry/tool-environment.js';
import type { ToolDocument } from '../registry/tool-document.js';
import { usageError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import type { CliIo } from './io.js';
import { describeParameters, oneLine } from './render-functions.js';
import { DIGIT_PREFIX_HELP, TOOLS_DIR_HELP } from './flag-help.js';

interface ShowFlags {
  tools: string;
  digitPrefix: boolean;
  json?: boolean;
}

export function registerToolsShow(tools: Command, io: CliIo): void {
  tools
    .command('show')
    .description('show one tool: its description, APIs and their function schemas')
    .argument('<name>', 'Category/standard_name, a standard name (olato_quotes) or an original tool name ("Olato Quotes")')
    .requiredOption('--tools <dir>', TOOLS_DIR_HELP)
    .option('--no-digit-prefix', DIGIT_PREFIX_HELP)
    .option('--json', 'print the tool as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ toolbench tools show "Olato Quotes" --tools data/toolenv/tools
  $ toolbench tools show Data/theclique --tools toolenv2404_filtered --json`,
    )
    .action((name: string, flags: ShowFlags) => showTool(name, flags, io));
}

function showTool(name: string, flags: ShowFlags, io: CliIo): void {
  const environment = ToolEnvironment.open(flags.tools);
  const tool = resolveTool(environment, name);
  const functions = tool.apis.map((api) => apiToFunction(describeToolApi(api), tool.standardName, { digitPrefix: flags.digitPrefix }));
  const promptLine = `${tool.standardName}: ${toolDescriptionText(tool.description)}`;
  if (flags.json) {
    const shown = {
      category: tool.category,
      standard_name: tool.standardName,
      tool_name: tool.toolName,
      file: tool.file,
      standardized_name: tool.standardizedName,
      description: tool.description,
      task_description: promptLine,
      apis: tool.apis.map((api, index) => ({
        name: api.name,
        function_name: functions[index]?.name,
        method: api.method,
        url: api.url,
        description: api.description,
      })),
      functions,
    };
    io.stdout.write(`${pyJsonDumps(shown, { indent: 2, ensureAscii: false })}\n`);
    return;
  }
  const lines = [
    `${tool.toolName}  (${tool.category}/${tool.standardName})`,
    `file: ${tool.file}`,
    `in the system prompt: ${promptLine}`,
    '',
    `${tool.apis.length} APIs:`,
  ];
  tool.apis.forEach((api, index) => {
    const fn = functions[index];
    if (fn === undefined) return;
    lines.push(`  ${fn.name}  [${api.method || '?'}] "${api.name}"`);
    if (api.description.trim() !== '') lines.push(`      ${oneLine(api.description)}`);
    lines.push(...describeParameters(fn).map((line) => `      ${line}`));
  });
  io.stdout.write(`${lines.join('\n')}\n`);
}

function resolveTool(environment: ToolEnvironment, name: string): ToolDocument {
  const lookup = lookupTool(environment, name);
  switch (lookup.kind) {
    case 'found':
      return lookup.tool;
    case 'ambiguous': {
      const choices = lookup.candidates.map((location) => `${location.category}/${location.standardName}`).join(', ');
      throw usageError(`tool name ${name} is ambiguous in ${environment.root}: ${choices}; write CATEGORY/NAME`);
    }
    case 'missing': {
      const similar = lookup.similar.map((location) => `${location.category}/${location.standardName}`).join(', ');
      throw usageError(`no tool named ${name} in ${environment.root}${similar === '' ? '' : ` (similar: ${similar})`}`);
    }
  }
}

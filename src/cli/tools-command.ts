/** `toolbench tools ...`: inspect the tool registry. Each subcommand lives in its own file. */
import type { Command } from 'commander';
import type { CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { registerToolsCall } from './tools-call.js';
import { registerToolsFunctions } from './tools-functions.js';
import { registerToolsList } from './tools-list.js';
import { registerToolsShow } from './tools-show.js';

export function registerToolsCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  const tools = program
    .command('tools')
    .description('the tool registry: tools, their APIs, the function lists given to models, and single calls')
    .addHelpText('after', '\nRun "toolbench tools <command> --help" for the options and examples of each command.');
  registerToolsList(tools, io, outcome);
  registerToolsShow(tools, io);
  registerToolsFunctions(tools, io, outcome);
  registerToolsCall(tools, io);
}


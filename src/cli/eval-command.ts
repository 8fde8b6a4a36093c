/** `toolbench eval ...`: ToolEval scoring (spec tooleval.md). One file per subcommand. */
import type { Command } from 'commander';
import { registerEvalConvert } from './eval-convert.js';
import type { CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';

export function registerEvalCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  const evaluation = program
    .command('eval')
    .description('ToolEval: convert answers for scoring')
    .addHelpText('after', '\nRun "toolbench eval <command> --help" for the options and examples of each command.');
  registerEvalConvert(evaluation, io, outcome);
}

/** `toolbench eval ...`: ToolEval scoring (spec tooleval.md). One file per subcommand. */
import type { Command } from 'commander';
import { registerEvalConvert } from './eval-convert.js';
import { registerEvalPassRate } from './eval-pass-rate.js';
import { registerEvalPreference } from './eval-preference.js';
import { registerEvalReport } from './eval-report.js';
import type { CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';

export function registerEvalCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  const evaluation = program
    .command('eval')
    .description('ToolEval: convert answers, judge pass rate and preference, report')
    .addHelpText('after', '\nRun "toolbench eval <command> --help" for the options and examples of each command.');
  registerEvalConvert(evaluation, io, outcome);
  registerEvalPassRate(evaluation, io, outcome);
  registerEvalPreference(evaluation, io, outcome);
  registerEvalReport(evaluation, io, outcome);
}

/** `toolbench serve ...`: HTTP servers. One file per subcommand. */
import type { Command } from 'commander';
import type { CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { registerServeAgent } from './serve-agent.js';
import { PROCESS_STOP_SIGNALS, registerServeTools, type StopSignals } from './serve-tools.js';

/** `signals` is where SIGINT/SIGTERM come from: the process, or a test's double. */
export function registerServeCommand(program: Command, io: CliIo, _outcome: CommandOutcome, signals: StopSignals = PROCESS_STOP_SIGNALS): void {
  const serve = program
    .command('serve')
    .description('run HTTP servers: the agent (/stream, the default) and the StableToolBench virtual tool API')
    .addHelpText('after', '\nRun "toolbench serve <command> --help" for the options and examples of each command.');
  registerServeAgent(serve, io, signals);
  registerServeTools(serve, io, signals);
}

/**
 * Runs the program on an argument list and returns the exit code. The only place that turns
 * errors into output: the message, and the stack only with --debug.
 */
import { CommanderError } from 'commander';
import { ToolbenchError } from '../util/errors.js';
import { createReporter, type CliIo } from './io.js';
import { createProgram } from './program.js';

const EXIT_ZERO_CODES: ReadonlySet<string> = new Set(['commander.helpDisplayed', 'commander.version']);

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const outcome = { partial: false };
  const program = createProgram(io, outcome);
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return outcome.partial ? 3 : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its message and usage; bad usage is exit 2 (commander says 1)
      return EXIT_ZERO_CODES.has(error.code) ? 0 : 2;
    }
    const reporter = createReporter(io, { color: !argv.includes('--no-color') });
    if (error instanceof ToolbenchError) {
      reporter.error(error.message);
      if (debug) io.stderr.write(`${error.stack ?? ''}\n`);
      return error.exitCode;
    }
    reporter.error(`unexpected failure: ${(error as Error)?.message ?? String(error)}`);
    io.stderr.write(debug ? `${(error as Error)?.stack ?? ''}\n` : 'run again with --debug for the stack trace\n');
    return 1;
  }
}

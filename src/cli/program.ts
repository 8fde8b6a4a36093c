/** The commander program: the command tree, global flags and help. No logic of its own. */
import { Command } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import type { CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { registerCacheCommand } from './cache-command.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerEvalCommand } from './eval-command.js';
import { registerInferCommand } from './infer-command.js';
import { registerModelCommand } from './model-command.js';
import { registerPreprocessCommand } from './preprocess-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerSetupCommand } from './setup-command.js';
import { registerToolsCommand } from './tools-command.js';

const VERSION: string = packageJson.version;

export function createProgram(io: CliIo, outcome: CommandOutcome): Command {
  const program = new Command('toolbench')
    .description(
      'Tool-use LLM benchmarks (ToolBench/ToolLLM, StableToolBench): tool registry, DFSDT search, ToolEval, models.\n' +
        'Offline-first; reads and writes the upstream file formats.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .option('--debug', 'print stack traces of errors')
    .option('--no-color', 'no colours in messages (also NO_COLOR=1)')
    .showHelpAfterError('(run with --help for usage and examples)')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride()
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failure, 2 bad usage or bad input, 3 partial (results written, some items failed), 130 interrupted.

Examples:
  $ toolbench tools list --tools data/toolenv/tools
  $ toolbench tools show "Olato Quotes" --tools data/toolenv/tools
  $ toolbench tools functions --queries G1_instruction.json --id 588 --json
  $ toolbench tools call Social/olato_quotes/love_quote --cache tool_response_cache
  $ toolbench serve tools --tools toolenv/tools --cache tool_response_cache --port 8080
  $ toolbench infer --queries G1_instruction.json --tools toolenv/tools --cache tool_response_cache --model gpt-4o-mini --out answers`,
    );
  registerToolsCommand(program, io, outcome);
  registerCacheCommand(program, io, outcome);
  registerServeCommand(program, io, outcome);
  registerPreprocessCommand(program, io, outcome);
  registerInferCommand(program, io, outcome);
  registerEvalCommand(program, io, outcome);
  registerModelCommand(program, io, outcome);
  registerSetupCommand(program, io);
  registerDoctorCommand(program, io);
  return program;
}

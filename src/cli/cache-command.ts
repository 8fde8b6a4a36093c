/** `toolbench cache ...`: StableToolBench-format response caches. One file per subcommand. */
import type { Command } from 'commander';
import { registerCacheImport } from './cache-import.js';
import { registerCacheStats } from './cache-stats.js';
import { registerCacheVerify } from './cache-verify.js';
import type { CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';

export function registerCacheCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  const cache = program
    .command('cache')
    .description('response caches in the StableToolBench layout: <Category>/<tool>_for_<Category>/<api>.json')
    .addHelpText('after', '\nRun "toolbench cache <command> --help" for the options and examples of each command.');
  registerCacheImport(cache, io, outcome);
  registerCacheStats(cache, io);
  registerCacheVerify(cache, io);
}

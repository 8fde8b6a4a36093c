/**
 * `toolbench cache import SRC --cache DIR`: merges a StableToolBench cache folder (for example
 * the published `server_cache.zip`, unpacked) into ours. Entries already there are kept; the
 * writes go through the same locked, atomic path as the virtual API's.
 */
import type { Command } from 'commander';
import { listCacheFiles } from '../env/cache-files.js';
import { ResponseCache } from '../env/response-cache.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { readCacheFile } from './cache-verify.js';
import { createReporter, type CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';

interface ImportFlags {
  cache: string;
  json?: boolean;
}

export function registerCacheImport(cache: Command, io: CliIo, outcome: CommandOutcome): void {
  cache
    .command('import')
    .description('merge a StableToolBench cache folder into a cache (existing entries win)')
    .argument('<source>', 'the cache folder to import (e.g. the unpacked server_cache.zip)')
    .requiredOption('--cache <dir>', 'the cache to import into (created when missing)')
    .option('--json', 'print the counts as JSON')
    .addHelpText(
      'after',
      `
Unreadable source files are reported and skipped (exit 3). Entries whose key already exists keep
the stored reply; those whose reply differs are counted as conflicts.

Examples:
  $ toolbench cache import ~/Downloads/tool_response_cache --cache cache
  $ toolbench cache import old_cache --cache cache --json`,
    )
    .action(async (source: string, flags: ImportFlags, command: Command) => {
      const reporter = createReporter(io, { color: command.optsWithGlobals().color });
      const target = new ResponseCache(flags.cache, { warn: reporter.warn });
      const { files } = listCacheFiles(source);
      const counts = { files: 0, added: 0, existing: 0, conflicts: 0, skipped_files: 0 };
      for (const file of files) {
        const read = readCacheFile(file.file);
        if (!read.ok) {
          reporter.warn(`${file.file}: skipped: ${read.problem}`);
          counts.skipped_files++;
          continue;
        }
        counts.files++;
        const results = await Promise.all(
          [...read.entries].map(async ([key, reply]) => {
            if (await target.store(file, key, reply)) return 'added';
            const stored = await target.lookup(file, key);
            return stored !== undefined && pyJsonDumps(stored) === pyJsonDumps(reply) ? 'existing' : 'conflicts';
          }),
        );
        for (const result of results) counts[result]++;
      }
      await target.settled();
      if (counts.skipped_files > 0) outcome.partial = true;
      if (flags.json) io.stdout.write(`${JSON.stringify(counts)}\n`);
      else reporter.info(`imported ${counts.added} entries from ${counts.files} files into ${flags.cache} (${counts.existing} already there, ${counts.conflicts} conflicts kept as stored, ${counts.skipped_files} files skipped)`);
    });
}

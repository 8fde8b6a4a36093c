/** `toolbench cache stats DIR`: how much a response cache holds. */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { listCacheFiles } from '../env/cache-files.js';
import { readCacheFile } from './cache-verify.js';
import { formatColumns, type CliIo } from './io.js';

interface StatsFlags {
  json?: boolean;
}

export function registerCacheStats(cache: Command, io: CliIo): void {
  cache
    .command('stats')
    .description('count the categories, tools, APIs and entries of a response cache')
    .argument('<dir>', 'the cache folder (tool_response_cache)')
    .option('--json', 'print the counts as JSON')
    .addHelpText('after', '\nExamples:\n  $ toolbench cache stats tool_response_cache\n  $ toolbench cache stats tool_response_cache --json')
    .action((dir: string, flags: StatsFlags) => {
      const { files, strays } = listCacheFiles(dir);
      const categories = new Set(files.map((file) => file.category));
      const tools = new Set(files.map((file) => `${file.category}/${file.toolDir}`));
      let entries = 0;
      let bytes = 0;
      let unreadable = 0;
      for (const file of files) {
        bytes += statSync(file.file).size;
        const read = readCacheFile(file.file);
        if (read.ok) entries += read.entries.size;
        else unreadable++;
      }
      const stats = { categories: categories.size, tools: tools.size, apis: files.length, entries, bytes, unreadable_files: unreadable, stray_files: strays.length };
      if (flags.json) {
        io.stdout.write(`${JSON.stringify(stats)}\n`);
        return;
      }
      io.stdout.write(formatColumns(Object.entries(stats).map(([name, value]) => [name.replaceAll('_', ' '), String(value)])));
    });
}

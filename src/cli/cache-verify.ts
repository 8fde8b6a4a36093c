/** `toolbench cache verify DIR`: every cache file parses and holds an object of replies. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { listCacheFiles } from '../env/cache-files.js';
import { parseCacheFile } from '../env/response-cache.js';
import { ToolbenchError } from '../util/errors.js';
import type { PyValue } from '../util/py-value.js';
import { createReporter, type CliIo } from './io.js';

interface VerifyFlags {
  json?: boolean;
}

export type CacheFileRead = { ok: true; entries: Map<string, PyValue> } | { ok: false; problem: string };

export function readCacheFile(file: string): CacheFileRead {
  try {
    return { ok: true, entries: parseCacheFile(readFileSync(file, 'utf8')) };
  } catch (error) {
    return { ok: false, problem: error instanceof Error ? error.message : String(error) };
  }
}

export function registerCacheVerify(cache: Command, io: CliIo): void {
  cache
    .command('verify')
    .description('check that every cache file parses as an object of replies; list leftover lock and temporary files')
    .argument('<dir>', 'the cache folder')
    .option('--json', 'print the problems as JSON')
    .addHelpText('after', '\nExit code 2 when a file is unreadable or malformed.\n\nExamples:\n  $ toolbench cache verify tool_response_cache')
    .action((dir: string, flags: VerifyFlags, command: Command) => {
      const reporter = createReporter(io, { color: command.optsWithGlobals().color });
      const { files, strays } = listCacheFiles(dir);
      const problems: { file: string; problem: string }[] = [];
      let entries = 0;
      for (const file of files) {
        const read = readCacheFile(file.file);
        if (!read.ok) {
          problems.push({ file: file.file, problem: read.problem });
          continue;
        }
        entries += read.entries.size;
        for (const [key, reply] of read.entries) {
          if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
            problems.push({ file: file.file, problem: `entry ${JSON.stringify(key)}: expected a reply object` });
          }
        }
      }
      if (flags.json) io.stdout.write(`${JSON.stringify({ files: files.length, entries, problems, stray_files: strays })}\n`);
      else {
        for (const { file, problem } of problems) io.stdout.write(`${file}: ${problem}\n`);
        for (const stray of strays) reporter.warn(`not a cache file: ${stray}`);
        reporter.info(`${files.length} files, ${entries} entries, ${problems.length} problems`);
      }
      if (problems.length > 0) throw new ToolbenchError('cache.invalid', 2, `${problems.length} problems in ${dir}`);
    });
}

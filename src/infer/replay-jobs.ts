/**
 * `--backbone replay`: the jobs of recorded answer files. Every `*.json` file under the given
 * folders (recursive, sorted) whose name ends in `_<method>.json` is one job; the query id is the
 * part of the name before the first `_` (ToolBench's released `10_ChatGPT_DFS_woFilter_w2.json` is
 * query 10). Each job opens its own backbone and environment from the file.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { usageError } from '../util/errors.js';
import type { InferJob, OpenedJob } from './infer-job.js';

export function replayJobs(
  roots: readonly string[],
  method: string,
  open: (file: string) => OpenedJob | Promise<OpenedJob>,
  warn: (message: string) => void,
): InferJob[] {
  const suffix = `_${method}.json`;
  const files = roots.flatMap((root) => jsonFiles(root));
  const matching = files.filter((file) => basename(file).endsWith(suffix) && basename(file).indexOf('_') > 0);
  if (matching.length === 0) {
    throw usageError(`--replay-from ${roots.join(', ')}: no answer files whose names end in ${suffix} (found ${files.length} .json files; is --method right?)`);
  }
  if (matching.length < files.length) warn(`--replay-from: ${files.length - matching.length} .json files do not end in ${suffix}; ignored`);
  return matching.map((file, position) => {
    const name = basename(file);
    return { queryId: name.slice(0, name.indexOf('_')), position, origin: file, open: async () => open(file) };
  });
}

function jsonFiles(path: string): string[] {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw usageError(`--replay-from ${path}: no such file or folder`);
  }
  if (!stats.isDirectory()) return path.endsWith('.json') ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      const child = join(path, name);
      return statSync(child).isDirectory() ? jsonFiles(child) : name.endsWith('.json') ? [child] : [];
    });
}

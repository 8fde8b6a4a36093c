/**
 * Walking a StableToolBench response cache: every `<Category>/<tool>_for_<Category>/<api>.json`,
 * and what else lies there (locks and temporary files of a writer that died, files moved aside
 * as corrupt), for `toolbench cache stats|verify|import`.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileError } from '../util/json-file.js';
import type { CacheLocation } from './response-cache.js';

export interface CacheFile extends CacheLocation {
  readonly file: string;
}

export interface CacheListing {
  readonly files: readonly CacheFile[];
  /** Paths that are not cache files: `.lock`, `.tmp-*`, `.corrupt-*` and anything unexpected. */
  readonly strays: readonly string[];
}

export function listCacheFiles(root: string): CacheListing {
  const files: CacheFile[] = [];
  const strays: string[] = [];
  for (const category of directories(root, strays)) {
    for (const toolDir of directories(join(root, category), strays)) {
      for (const entry of entries(join(root, category, toolDir))) {
        const file = join(root, category, toolDir, entry.name);
        if (entry.isFile() && entry.name.endsWith('.json')) files.push({ category, toolDir, api: entry.name.slice(0, -'.json'.length), file });
        else strays.push(file);
      }
    }
  }
  return { files, strays };
}

function directories(path: string, strays: string[]): string[] {
  const names: string[] = [];
  for (const entry of entries(path)) {
    if (entry.isDirectory()) names.push(entry.name);
    else strays.push(join(path, entry.name));
  }
  return names.sort();
}

function entries(path: string) {
  try {
    return readdirSync(path, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (error) {
    throw fileError(path, error);
  }
}

/** The answer files of a run folder, as upstream's scripts pick them. */
import { readdirSync } from 'node:fs';
import { usageError } from './errors.js';

/**
 * `*.json` names containing the method, in name order (upstream: `os.listdir` order, which
 * differs between machines). `flag` names the option in the error for a missing folder.
 */
export function listAnswerFiles(dir: string, method: string, flag = '--answers'): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw usageError(`${flag} ${dir}: ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (error as Error).message}`, { cause: error });
  }
  return names.filter((name) => name.endsWith('.json') && name.includes(method)).sort();
}

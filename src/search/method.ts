/**
 * Method names as upstream dispatches them (algorithms.md §1.3): `CoT@N`, `DFS_woFilter_wN`
 * (DFSDT), `DFS_wFilter_wN` (DFS with LLM pairwise ranking). The name itself is kept: it names
 * the answer files (`<query_id>_<method>.json`).
 */
import { usageError } from '../util/errors.js';
import type { SearchMethod } from './types.js';

export const METHOD_EXAMPLES = 'CoT@N, DFS_woFilter_wN (DFSDT) or DFS_wFilter_wN (with LLM ranking)';

export function parseMethod(name: string): SearchMethod {
  if (name.startsWith('CoT')) {
    const passAt = positiveInteger(name.slice(name.lastIndexOf('@') + 1));
    if (name.includes('@') && passAt !== undefined) return { family: 'CoT', name, passAt };
  } else if (name.startsWith('DFS')) {
    const match = /^.+_w(\d+)$/.exec(name);
    const width = match === null ? undefined : positiveInteger(match[1] as string);
    if (width !== undefined) return { family: 'DFS', name, width, withFilter: !name.includes('woFilter') };
  }
  throw usageError(`--method ${name}: expected ${METHOD_EXAMPLES}, e.g. CoT@1 or DFS_woFilter_w2`);
}

function positiveInteger(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && Number.isSafeInteger(value) ? value : undefined;
}

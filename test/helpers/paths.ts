/** Where tests find the project's fixtures and the shared upstream data. */
import { existsSync } from 'node:fs';
import { readJsonFile } from '../../src/util/json-file.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function fixture(...parts: string[]): string {
  return join(PROJECT_ROOT, 'fixtures', ...parts);
}

/** The real upstream data (TOOLBENCH_DATA, default ../shared/data/toolbench). */
export const TOOLBENCH_DATA = resolve(PROJECT_ROOT, process.env.TOOLBENCH_DATA ?? '../shared/data/toolbench');

/** `false` when the data is there; otherwise the reason to pass as a test's `skip`. */
export const SKIP_WITHOUT_DATA: string | false = existsSync(join(TOOLBENCH_DATA, 'stabletoolbench'))
  ? false
  : `upstream data not found at ${TOOLBENCH_DATA} (set TOOLBENCH_DATA)`;

export function dataPath(...parts: string[]): string {
  return join(TOOLBENCH_DATA, ...parts);
}

/** The six ToolBench test sets, as StableToolBench's solvable_queries names them. */
export const TEST_SETS = ['G1_instruction', 'G1_category', 'G1_tool', 'G2_instruction', 'G2_category', 'G3_instruction'] as const;

/** ToolEnv2404 subset shipped with the shared data. */
export const TOOLENV2404 = dataPath('external/trishamaturi__DynamicToolBench/tools/toolenv2404_filtered');

/** A JSON file read as Python would (pyJsonParse), typed by the caller. */
export function readJson<T>(file: string): T {
  return readJsonFile(file) as unknown as T;
}

/** The real upstream answer files (DFS `tree` and CoT `trys`) in the shared data. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isPyObject, type PyObject, type PyValue } from '../../src/util/py-value.js';
import { dataPath, readJson } from './paths.js';

/** The folders of the shared data that hold answer files (data README §3). */
const ANSWER_ROOTS = ['toolbench/data_example/answer', 'stabletoolbench/data_example/answer', 'toolbench/history-b2384c2/data/toolllama'];

function jsonFiles(directory: string): string[] {
  return readdirSync(directory)
    .sort()
    .flatMap((name) => {
      const path = join(directory, name);
      return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith('.json') ? [path] : [];
    });
}

/** Every answer file; processed SFT files (JSON lists) are not answers. */
export function answerFiles(): { file: string; answer: PyObject }[] {
  return ANSWER_ROOTS.flatMap((root) => jsonFiles(dataPath(root)))
    .map((file) => ({ file, answer: readJson<PyValue>(file) }))
    .filter((entry): entry is { file: string; answer: PyObject } => isPyObject(entry.answer) && ('tree' in entry.answer || 'trys' in entry.answer));
}

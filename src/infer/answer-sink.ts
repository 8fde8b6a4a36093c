/**
 * Where answers go: a folder of upstream answer files (`<out>/<query_id>_<method>.json`, written
 * atomically, with failures appended to `<out>/infer-failures.jsonl`), or standard output, one
 * answer a line (`--out -`).
 */
import { access, appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolbenchError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { isSafeSegment } from '../util/path-segment.js';
import { pyJsonDumps } from '../util/pyjson.js';
import type { PyObject } from '../util/py-value.js';

export const FAILURES_FILE = 'infer-failures.jsonl';

export interface QueryFailure {
  readonly queryId: string;
  readonly error: string;
  /** ISO 8601. */
  readonly time: string;
}

export interface AnswerSink {
  /** Where the answer of this query goes (a file path, or `-`); throws for an id that cannot name a file. */
  locate(queryId: string): string;
  /** Whether the query was answered by an earlier run (resume). */
  has(queryId: string): Promise<boolean>;
  /** Writes the answer whole or not at all; returns where it went. */
  write(queryId: string, answer: PyObject): Promise<string>;
  recordFailure(failure: QueryFailure): Promise<void>;
}

/** Upstream's layout: `<dir>/<query_id>_<method>.json`, pyjson-indent-2. */
export function createDirectorySink(dir: string, method: string): AnswerSink {
  const locate = (queryId: string): string => {
    const name = `${queryId}_${method}.json`;
    if (!isSafeSegment(name)) throw new ToolbenchError('infer.query-id', 1, `query id ${JSON.stringify(queryId)} cannot name a file in ${dir}`);
    return join(dir, name);
  };
  return {
    locate,
    has: (queryId) => access(locate(queryId)).then(
      () => true,
      () => false,
    ),
    async write(queryId, answer) {
      const file = locate(queryId);
      await writeFileAtomic(file, pyJsonDumps(answer, { indent: 2 }));
      return file;
    },
    async recordFailure(failure) {
      await mkdir(dir, { recursive: true });
      const line = { query_id: failure.queryId, method, error: failure.error, time: failure.time };
      await appendFile(join(dir, FAILURES_FILE), `${JSON.stringify(line)}\n`);
    },
  };
}

/** `--out -`: each answer as one JSON line (pyjson without indent); nothing is ever answered already. */
export function createLinesSink(output: { write(text: string): unknown }): AnswerSink {
  return {
    locate: () => '-',
    has: async () => false,
    async write(_queryId, answer) {
      output.write(`${pyJsonDumps(answer)}\n`);
      return '-';
    },
    recordFailure: async () => {},
  };
}

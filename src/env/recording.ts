/**
 * `--record DIR`: every tool call of a run, with the reply, the observation the model saw, its
 * status and its source, appended as one JSON line to `DIR/calls-<pid>-<time>.jsonl`. Each
 * process writes its own file with one `write` per line, so workers and shards never interleave;
 * a crash loses at most the line being written. `replay` reads the lines back (replay-env.ts).
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pyJsonDumps } from '../util/pyjson.js';
import type { PyValue } from '../util/py-value.js';
import type { ApiRef, BackendAnswer, ToolCallResult } from './tool-call.js';

export const RECORDING_FORMAT_VERSION = 1;

export interface RecordedCall {
  readonly api: ApiRef;
  readonly args: string;
  readonly answer: BackendAnswer;
  readonly result: ToolCallResult;
}

export interface CallRecorder {
  record(call: RecordedCall): void;
  close(): Promise<void>;
}

/** One line of a recording file. `reply` is there when a server reply produced the observation. */
export interface RecordingLine {
  readonly v: typeof RECORDING_FORMAT_VERSION;
  readonly category: string;
  readonly tool: string;
  readonly api: string;
  readonly args: string;
  readonly source: string;
  readonly status: number;
  readonly observation: string;
  readonly reply?: PyValue;
}

export function createRecorder(directory: string, now: () => number = Date.now): CallRecorder {
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `calls-${process.pid}-${now()}.jsonl`);
  let descriptor: number | undefined = openSync(file, 'a');
  return {
    record({ api, args, answer, result }) {
      if (descriptor === undefined) throw new Error(`recording ${file} is closed`);
      const line: RecordingLine = {
        v: RECORDING_FORMAT_VERSION,
        category: api.category,
        tool: api.tool,
        api: api.api,
        args,
        source: result.source,
        status: result.status,
        observation: result.observation,
        ...(answer.kind === 'reply' ? { reply: answer.reply } : {}),
      };
      writeSync(descriptor, `${pyJsonDumps(line)}\n`);
    },
    async close() {
      if (descriptor !== undefined) closeSync(descriptor);
      descriptor = undefined;
    },
  };
}

/**
 * The audit record of an evaluation (`<result>.judge.jsonl`): a header naming the judge, then one
 * line per finished job (query, run) with its verdict and every judge reply, used or not. It is
 * appended (one write per finished job, not buffered) so a crash loses no finished job, and it is what `--judge replay:FILE`
 * re-scores from without a model: the same requests get the same replies, attempt by attempt.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ToolbenchError, inputError } from '../util/errors.js';
import type { JudgeCallRecord } from './judge.js';
import { JudgeCallError, judgeRequestKey, type JudgeReply, type JudgeTransport } from './judge-transport.js';

export const JUDGE_LOG_SUFFIX = '.judge.jsonl';
const FORMAT = 'toolbench-judge-log/1';

export interface JudgeLogHeader {
  readonly format: typeof FORMAT;
  readonly kind: 'pass-rate' | 'preference';
  readonly protocol: string;
  readonly test_set: string;
  /** pass-rate: the model judged; preference: `<reference> vs <candidate>`. */
  readonly subject: string;
  readonly evaluator: string;
  readonly judge_model: string;
  readonly template_sha256: string;
  readonly config_sha256: string;
  /** The seed of the draws (Unsure coin, answer order): a replay draws the same. */
  readonly seed: number;
  /** How the judge function was forced: the recorded requests have this shape. */
  readonly shape: string;
}

export interface JudgeLogEntry {
  readonly qid: string;
  readonly run: number;
  readonly verdict?: unknown;
  readonly error?: string;
  readonly calls: readonly JudgeCallRecord[];
}

export interface JudgeLogWriter {
  append(entry: JudgeLogEntry): void;
  /** True when the file was started by this writer (nothing earlier is in it). */
  readonly isNew: boolean;
}

/** Opens for appending; the header is written when the file is new (or `fresh`). */
export function openJudgeLog(file: string, header: JudgeLogHeader, fresh: boolean): JudgeLogWriter {
  const isNew = fresh || !existsSync(file);
  const write = (text: string, flag: 'w' | 'a'): void => {
    try {
      if (flag === 'w') {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      } else appendFileSync(file, text);
    } catch (error) {
      throw new ToolbenchError('output.unwritable', 1, `${file}: cannot write the audit log: ${(error as Error).message}`, { cause: error });
    }
  };
  if (isNew) write(`${JSON.stringify(header)}\n`, 'w');
  // after a torn last line (a crash mid-write), the next entry starts on a line of its own
  let separator = !isNew && !endsWithNewline(file) ? '\n' : '';
  return {
    isNew,
    append(entry) {
      write(`${separator}${JSON.stringify(entry)}\n`, 'a');
      separator = '';
    },
  };
}

function endsWithNewline(file: string): boolean {
  const text = readFileSync(file);
  return text.length === 0 || text[text.length - 1] === 0x0a;
}

export function isJudgeLog(file: string): boolean {
  const prefix = '{"format":"toolbench-judge-log/';
  try {
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(prefix.length);
      const read = readSync(fd, buffer, 0, buffer.length, 0);
      return buffer.subarray(0, read).toString('utf8') === prefix;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

export function readJudgeLog(file: string): { header: JudgeLogHeader; entries: JudgeLogEntry[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ToolbenchError('input.unreadable', 2, `${file}: ${(error as Error).message}`, { cause: error });
  }
  const lines = text.split('\n');
  let header: JudgeLogHeader | undefined;
  const entries: JudgeLogEntry[] = [];
  lines.forEach((line, index) => {
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // a line torn by a crash mid-write (later entries start on a line of its own): that job is
      // simply not in the log, and is judged again
      if (header !== undefined) return;
      throw inputError(file, `line ${index + 1}`, 'a JSON line');
    }
    if (header === undefined) {
      if ((value as JudgeLogHeader).format !== FORMAT) throw inputError(file, 'line 1', `a ${FORMAT} header`);
      header = value as JudgeLogHeader;
    } else entries.push(value as JudgeLogEntry);
  });
  if (header === undefined) throw inputError(file, 'line 1', `a ${FORMAT} header`, { got: 'an empty file' });
  return { header, entries };
}

/**
 * A transport answering from recorded replies: request key and attempt number pick the reply.
 * A request never recorded is an error that names it: the answers or the evaluator changed.
 */
export function createReplayTransport(file: string, entries: readonly JudgeLogEntry[]): JudgeTransport {
  const replies = new Map<string, { reply: JudgeReply | null; rejected?: string }>();
  for (const entry of entries) {
    for (const call of entry.calls) replies.set(`${call.key}#${call.attempt}`, { reply: call.reply, ...(call.rejected ? { rejected: call.rejected } : {}) });
  }
  return {
    async send(request, attempt) {
      const recorded = replies.get(`${judgeRequestKey(request)}#${attempt}`);
      if (recorded === undefined) {
        throw new ToolbenchError(
          'replay.miss',
          1,
          `--judge replay:${file}: no recorded reply to a ${request.function.name} request (run ${request.sample}, attempt ${attempt + 1}); ` +
            'the converted answers, the evaluator or the judge model differ from the recorded evaluation',
        );
      }
      if (recorded.reply === null) throw new JudgeCallError(recorded.rejected ?? 'the recorded call failed');
      return recorded.reply;
    },
  };
}

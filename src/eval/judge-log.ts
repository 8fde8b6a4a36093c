/**
 * The audit record of an evaluation (`<result>.judge.jsonl`): a header naming the judge, then one
 * line per finished job (query, run) with its verdict and every judge reply, used or not. It is
 * appended as jobs finish, so nothing is lost on a crash, and it is what `--judge replay:FILE`
 * re-scores from without a model: the same requests get the same replies, attempt by attempt.
 */
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { mkdirSync } from 'node:fs';
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
  close(): Promise<void>;
}

/** Opens for appending; the header is written when the file is new (or `fresh`). */
export function openJudgeLog(file: string, header: JudgeLogHeader, fresh: boolean): JudgeLogWriter {
  mkdirSync(dirname(file), { recursive: true });
  const isNew = fresh || !existsSync(file);
  const stream: WriteStream = createWriteStream(file, { flags: isNew ? 'w' : 'a' });
  if (isNew) stream.write(`${JSON.stringify(header)}\n`);
  return {
    append: (entry) => void stream.write(`${JSON.stringify(entry)}\n`),
    close: () => new Promise((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve()))),
  };
}

export function isJudgeLog(file: string): boolean {
  try {
    const start = readFileSync(file, 'utf8').slice(0, 200);
    return start.startsWith('{"format":"toolbench-judge-log/');
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
      if (index === lines.length - 1 || (index === lines.length - 2 && lines.at(-1) === '')) return; // a torn last line
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

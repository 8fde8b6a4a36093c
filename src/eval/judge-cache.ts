/**
 * Judge replies on disk, keyed by the hash of the request (judgeRequestKey: body + sample index),
 * so re-running an evaluation, or judging the same answer again in `eval preference`, costs
 * nothing. One JSON line per accepted reply, appended with a single write; a torn last line
 * (a crash mid-write) is skipped when read. What was on disk at start is held in memory; replies
 * added during a run are only written (a run never asks the same key twice), so memory does not
 * grow while the run goes on. Keys hold no secret and no endpoint: two endpoints serving the same
 * model name share replies.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { JudgeReply } from './judge-transport.js';

export interface JudgeCache {
  get(key: string): JudgeReply | undefined;
  put(key: string, reply: JudgeReply): void;
  readonly file: string;
}

/** `$TOOLBENCH_JUDGE_CACHE`, else `$XDG_CACHE_HOME/toolbench/judge.jsonl`, else `~/.cache/...`. */
export function defaultJudgeCacheFile(env: Readonly<Record<string, string | undefined>>): string {
  if (env['TOOLBENCH_JUDGE_CACHE']) return env['TOOLBENCH_JUDGE_CACHE'];
  const base = env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache');
  return join(base, 'toolbench', 'judge.jsonl');
}

export function openJudgeCache(file: string): JudgeCache {
  const known = new Map<string, JudgeReply>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const record = JSON.parse(line) as { key?: unknown; reply?: JudgeReply };
      if (typeof record.key === 'string' && typeof record.reply === 'object' && record.reply !== null) known.set(record.key, record.reply);
    } catch {
      // a torn line from an interrupted write: that reply is asked again
    }
  }
  let folderMade = false;
  // after a torn last line, the next record starts on a line of its own
  let separator = text !== '' && !text.endsWith('\n') ? '\n' : '';
  return {
    file,
    get: (key) => known.get(key),
    put(key, reply) {
      if (!folderMade) {
        mkdirSync(dirname(file), { recursive: true });
        folderMade = true;
      }
      appendFileSync(file, `${separator}${JSON.stringify({ key, reply })}\n`);
      separator = '';
    },
  };
}

/**
 * A lock between processes on one file: `<file>.lock`, created exclusively (O_EXCL), holding the
 * owner's pid. Waiters poll with a short jittered delay. A lock older than `staleMs` is taken to
 * belong to a process that died holding it and is broken, so a crash never blocks a cache forever.
 */
import { open, rm, stat } from 'node:fs/promises';
import { ToolbenchError } from './errors.js';
import { sleep } from './sleep.js';

export interface FileLockOptions {
  /** Give up waiting after this long (default 60 s). */
  readonly timeoutMs?: number;
  /** Break a lock whose file is older than this (default 30 s; holders keep it for milliseconds). */
  readonly staleMs?: number;
}

export async function withFileLock<T>(file: string, work: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const lock = `${file}.lock`;
  await acquire(lock, options.timeoutMs ?? 60_000, options.staleMs ?? 30_000);
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

async function acquire(lock: string, timeoutMs: number, staleMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await isStale(lock, staleMs)) {
      await rm(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ToolbenchError('lock.timeout', 1, `${lock}: still locked after ${timeoutMs} ms (delete the file if no toolbench process is running)`);
    }
    await sleep(Math.min(50, 2 + attempt) * (0.5 + Math.random()));
  }
}

async function isStale(lock: string, staleMs: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(lock)).mtimeMs > staleMs;
  } catch {
    return false; // gone already: the next attempt will take it
  }
}

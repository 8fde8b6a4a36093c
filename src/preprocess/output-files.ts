/**
 * Output files written while their input streams: text goes to a temporary file next to the
 * target, which is renamed over it only when everything was written (`commit`), so an interrupted
 * run never leaves a truncated output that looks complete.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ToolbenchError } from '../util/errors.js';

export interface OutputFile {
  readonly file: string;
  write(text: string): void;
}

export interface OutputSet {
  open(file: string): OutputFile;
  /** Closes and renames every file into place. */
  commit(): void;
  /** Closes and removes the temporary files (after an error or an interruption). */
  discard(): void;
}

interface Entry {
  readonly file: string;
  readonly temporary: string;
  descriptor: number;
  buffer: string[];
  size: number;
}

export function createOutputSet(): OutputSet {
  const open: Entry[] = [];
  const flush = (entry: Entry): void => {
    if (entry.buffer.length === 0) return;
    const bytes = Buffer.from(entry.buffer.join(''));
    entry.buffer = [];
    entry.size = 0;
    // writeSync may write less than asked (a nearly full disk): write until all is out
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(entry.descriptor, bytes, offset);
  };
  const close = (entry: Entry): void => {
    if (entry.descriptor < 0) return;
    const descriptor = entry.descriptor;
    entry.descriptor = -1;
    closeSync(descriptor);
  };
  const failing = (file: string, error: unknown): ToolbenchError =>
    new ToolbenchError('output.unwritable', 1, `${file}: cannot write: ${(error as Error).message}`, { cause: error });
  return {
    open(file) {
      if (open.some((entry) => resolve(entry.file) === resolve(file))) throw new ToolbenchError('usage.invalid', 2, `${file} is given twice as an output`);
      const temporary = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      let descriptor: number;
      try {
        mkdirSync(dirname(file), { recursive: true });
        descriptor = openSync(temporary, 'w');
      } catch (error) {
        throw failing(file, error);
      }
      const entry: Entry = { file, temporary, descriptor, buffer: [], size: 0 };
      open.push(entry);
      return {
        file,
        write(text) {
          entry.buffer.push(text);
          entry.size += text.length;
          if (entry.size < 1 << 20) return;
          try {
            flush(entry);
          } catch (error) {
            throw failing(file, error);
          }
        },
      };
    },
    commit() {
      // every file complete before the first one replaces its target (no fsync, as writeFileAtomic:
      // it would cost a sixth of the throughput, and guards against power loss only)
      for (const entry of open) {
        try {
          flush(entry);
          close(entry);
        } catch (error) {
          throw failing(entry.file, error);
        }
      }
      // a target that cannot be replaced is found before any other one is
      for (const entry of open) {
        if (existsSync(entry.file) && statSync(entry.file).isDirectory()) throw failing(entry.file, new Error('a folder is in the way'));
      }
      while (open.length > 0) {
        const entry = open[0] as Entry;
        try {
          renameSync(entry.temporary, entry.file);
        } catch (error) {
          throw failing(entry.file, error);
        }
        open.shift();
      }
    },
    discard() {
      for (const entry of open) {
        try {
          close(entry);
        } catch {
          // nothing more to do with it
        }
        rmSync(entry.temporary, { force: true });
      }
      open.length = 0;
    },
  };
}

/** Yields to the event loop, so that a long synchronous pass still sees signals and timers. */
export function breathe(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Output files written while their input streams: text goes to a temporary file next to the
 * target, which is renamed over it only when everything was written (`commit`), so an interrupted
 * run never leaves a truncated output that looks complete.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
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

export function createOutputSet(): OutputSet {
  const open: { file: string; temporary: string; descriptor: number; buffer: string[]; size: number }[] = [];
  const flush = (entry: (typeof open)[number]): void => {
    if (entry.buffer.length === 0) return;
    writeSync(entry.descriptor, entry.buffer.join(''));
    entry.buffer = [];
    entry.size = 0;
  };
  const failing = (file: string, error: unknown): ToolbenchError =>
    new ToolbenchError('output.unwritable', 1, `${file}: cannot write: ${(error as Error).message}`, { cause: error });
  return {
    open(file) {
      const temporary = `${file}.tmp-${process.pid}`;
      let descriptor: number;
      try {
        mkdirSync(dirname(file), { recursive: true });
        descriptor = openSync(temporary, 'w');
      } catch (error) {
        throw failing(file, error);
      }
      const entry = { file, temporary, descriptor, buffer: [] as string[], size: 0 };
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
      for (const entry of open) {
        try {
          flush(entry);
          closeSync(entry.descriptor);
          renameSync(entry.temporary, entry.file);
        } catch (error) {
          throw failing(entry.file, error);
        }
      }
      open.length = 0;
    },
    discard() {
      for (const entry of open) {
        try {
          closeSync(entry.descriptor);
        } catch {
          // already closed
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

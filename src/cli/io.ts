/**
 * What a command may touch of the outside world, passed in so that tests run commands in-process:
 * stdout carries data only, stderr carries messages; colour only on a TTY without NO_COLOR.
 */
import { Chalk, type ChalkInstance } from 'chalk';

export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Messages for people, on stderr. */
export interface Reporter {
  warn(message: string): void;
  info(message: string): void;
  error(message: string): void;
  readonly style: ChalkInstance;
}

export function createReporter(io: CliIo, options: { color?: boolean } = {}): Reporter {
  const style = new Chalk({ level: useColor(io, io.stderr, options.color) ? 1 : 0 });
  return {
    style,
    warn: (message) => io.stderr.write(`${style.yellow('warning:')} ${message}\n`),
    info: (message) => io.stderr.write(`${message}\n`),
    error: (message) => io.stderr.write(`${style.red('error:')} ${message}\n`),
  };
}

/** Colour for this stream: never with --no-color, NO_COLOR or TERM=dumb; FORCE_COLOR forces it. */
function useColor(io: CliIo, stream: OutputStream, flag?: boolean): boolean {
  if (flag === false) return false;
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (io.env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  '))
    .map((line) => `${line}\n`)
    .join('');
}

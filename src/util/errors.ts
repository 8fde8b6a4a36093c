/**
 * Typed errors: a stable code for programs, an exit code for the shell, a message for people.
 *
 * Exit codes (architecture.md): 1 failure, 2 bad usage or bad input, 3 partial, 130 interrupted.
 * Only the CLI entry turns these into output; core code throws them and never prints.
 */
import { PyFloat } from './py-value.js';

export type ExitCode = 1 | 2 | 3 | 130;

export class ToolbenchError extends Error {
  constructor(
    readonly code: string,
    readonly exitCode: ExitCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input data: names the file, the JSON path inside it, and what was expected there. */
export function inputError(
  file: string,
  jsonPath: string,
  expected: string,
  details: { got?: string; cause?: unknown } = {},
): ToolbenchError {
  const got = details.got === undefined ? '' : `, got ${details.got}`;
  return new ToolbenchError('input.invalid', 2, `${file}: ${jsonPath}: expected ${expected}${got}`, {
    cause: details.cause,
  });
}

/** Bad usage that commander cannot see: a flag value that is not usable, a missing directory. */
export function usageError(message: string, options?: ErrorOptions): ToolbenchError {
  return new ToolbenchError('usage.invalid', 2, message, options);
}

/** A short description of a JSON value's type, for "expected X, got Y" messages. */
export function describeJsonType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof PyFloat) return 'a float';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'bigint') return 'an integer';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a float';
  return `a ${typeof value}`;
}

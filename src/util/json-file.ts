/** Reading JSON files with errors that name the file, the position and the JSON path. */
import { readFileSync } from 'node:fs';
import { ToolbenchError, inputError } from './errors.js';
import { JsonSyntaxError, pyJsonParse } from './pyjson-parse.js';
import type { PyValue } from './py-value.js';

function readTextFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw fileError(file, error);
  }
}

/** Parses a JSON file as Python would (see pyjson-parse.ts). A leading BOM is ignored. */
export function readJsonFile(file: string): PyValue {
  return parseJsonText(readTextFile(file), file);
}

function parseJsonText(text: string, file: string): PyValue {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return pyJsonParse(body);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    if (body.trim() === '') throw inputError(file, '$', 'a JSON document', { got: 'an empty file' });
    throw inputError(file, `${error.jsonPath} (line ${error.line}, column ${error.column})`, error.expected, {
      cause: error,
    });
  }
}

/** Turns an fs error into a message a user can act on. */
export function fileError(file: string, error: unknown): ToolbenchError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EISDIR'
        ? 'is a directory, expected a file'
        : code === 'EACCES'
          ? 'permission denied'
          : (error as Error).message;
  return new ToolbenchError('input.unreadable', 2, `${file}: ${reason}`, { cause: error });
}

/**
 * Reads a file holding one JSON array item by item, so that a query file of several GB (beyond
 * V8's 512 MB string limit) can be read, or searched, without holding it whole.
 *
 * The file is scanned as bytes: every byte of a multi-byte UTF-8 sequence is >= 0x80, so the
 * structural characters (brackets, braces, commas, quotes, backslashes) can be found without
 * decoding UTF-8. Each item's bytes are decoded and parsed on their own with pyJsonParse. Lines
 * and columns are worked out only for an error message, by reading the file again up to it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { inputError } from './errors.js';
import { fileError } from './json-file.js';
import { childPath } from './json-path.js';
import { JsonSyntaxError, pyJsonParse } from './pyjson-parse.js';
import type { PyValue } from './py-value.js';

export interface ArrayItem {
  readonly index: number;
  readonly value: PyValue;
}

/**
 * Yields the items of the JSON array in `file`, in order. Throws an input error (exit 2) naming
 * the file, the JSON path and the line when the file is not one JSON array.
 */
export function* readJsonArrayItems(
  file: string,
  options: { chunkSize?: number; expected?: string } = {},
): Generator<ArrayItem> {
  const descriptor = openFile(file);
  try {
    yield* scanArray(file, descriptor, options.chunkSize ?? 1 << 20, options.expected ?? 'an array');
  } finally {
    closeSync(descriptor);
  }
}

type ScanState = 'start' | 'first-item' | 'next-item' | 'item' | 'end';

// Chunks are read as latin1 text (one character per byte) so that regular expressions can jump
// from one interesting byte to the next at native speed.
const INTERESTING_IN_ITEM = /[[\]{},"\\]/g;
const NOT_WHITESPACE = /[^ \t\n\r]/g;

function* scanArray(file: string, descriptor: number, chunkSize: number, expected: string): Generator<ArrayItem> {
  const buffer = Buffer.allocUnsafe(chunkSize);
  let state: ScanState = 'start';
  let depth = 0; // brackets and braces open inside the current item
  let inString = false;
  let escapeAt = -1; // absolute offset of a character escaped by a backslash
  let index = 0;
  let pieces: Buffer[] = [];
  let itemOffset = 0; // absolute offset where the current item starts
  let offset = 0; // absolute offset of the current chunk

  const fail = (at: number, message: string, got?: string): never => {
    throw inputError(file, `$ (${describeOffset(file, at)})`, message, got === undefined ? {} : { got });
  };
  const parseItem = (): ArrayItem => {
    const text = Buffer.concat(pieces).toString('utf8');
    pieces = [];
    try {
      const value = pyJsonParse(text);
      return { index: index++, value };
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      const start = lineAndColumn(file, itemOffset);
      const line = start.line + error.line - 1;
      const column = error.line === 1 ? start.column + error.column - 1 : error.column;
      const path = childPath('$', index) + error.jsonPath.slice(1);
      throw inputError(file, `${path} (line ${line}, column ${column})`, error.expected, { cause: error });
    }
  };

  for (let chunk = 0; ; chunk++) {
    const length = readChunk(file, descriptor, buffer);
    if (length === 0) break;
    const text = buffer.toString('latin1', 0, length);
    const hasBom = chunk === 0 && text.startsWith('\u00ef\u00bb\u00bf');
    let position = hasBom ? 3 : 0;
    let pieceStart = position;
    while (position < length) {
      if (state !== 'item') {
        NOT_WHITESPACE.lastIndex = position;
        const match = NOT_WHITESPACE.exec(text);
        if (match === null) break;
        position = match.index;
        const character = text[position];
        if (state === 'start') {
          if (character !== '[') fail(offset + position, expected, `"${character}" where "[" should start it`);
          state = 'first-item';
        } else if (state === 'end') {
          fail(offset + position, 'nothing after the closing "]"');
        } else if (character === ']') {
          if (state === 'next-item') fail(offset + position, 'an array item after ","');
          state = 'end';
        } else {
          state = 'item';
          depth = character === '[' || character === '{' ? 1 : 0;
          inString = character === '"';
          pieceStart = position;
          itemOffset = offset + position;
        }
        position++;
        continue;
      }
      INTERESTING_IN_ITEM.lastIndex = position;
      const match = INTERESTING_IN_ITEM.exec(text);
      if (match === null) break;
      position = match.index;
      const character = match[0];
      if (offset + position === escapeAt) {
        // the character after a backslash: not structural
      } else if (inString) {
        if (character === '\\') escapeAt = offset + position + 1;
        else if (character === '"') inString = false;
      } else if (character === '"') {
        inString = true;
      } else if (character === '[' || character === '{') {
        depth++;
      } else if ((character === ']' || character === '}') && depth > 0) {
        depth--;
      } else if (depth === 0 && (character === ',' || character === ']')) {
        pieces.push(Buffer.from(buffer.subarray(pieceStart, position)));
        yield parseItem();
        state = character === ',' ? 'next-item' : 'end';
      }
      position++;
    }
    if (state === 'item') pieces.push(Buffer.from(buffer.subarray(pieceStart, length)));
    offset += length;
  }
  const ending = state as ScanState; // (assigned inside the loop; TypeScript keeps the initial narrowing)
  if (ending === 'start') fail(offset, expected, 'an empty file');
  if (ending === 'item') parseItem(); // reports where the unfinished item goes wrong, if it does
  if (ending !== 'end') fail(offset, '"]" (the array is not closed)');
}

/** `line L, column C` of a byte offset (columns count bytes); read again only for a message. */
function describeOffset(file: string, offset: number): string {
  const { line, column } = lineAndColumn(file, offset);
  return `line ${line}, column ${column}`;
}

function lineAndColumn(file: string, offset: number): { line: number; column: number } {
  const descriptor = openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 16);
    let line = 1;
    let lineStart = 0;
    for (let base = 0; base < offset; ) {
      const length = readSync(descriptor, buffer, 0, Math.min(buffer.length, offset - base), base);
      if (length === 0) break;
      for (let newline = buffer.indexOf(0x0a, 0); newline !== -1 && newline < length; newline = buffer.indexOf(0x0a, newline + 1)) {
        line++;
        lineStart = base + newline + 1;
      }
      base += length;
    }
    return { line, column: offset - lineStart + 1 };
  } finally {
    closeSync(descriptor);
  }
}

function readChunk(file: string, descriptor: number, buffer: Buffer): number {
  try {
    return readSync(descriptor, buffer, 0, buffer.length, null);
  } catch (error) {
    throw fileError(file, error); // e.g. EISDIR: a directory opens, but does not read
  }
}

function openFile(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (error) {
    throw fileError(file, error);
  }
}

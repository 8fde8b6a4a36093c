/**
 * Records of a tab-separated file as pandas' `read_csv(sep='\t')` reads what pandas' `to_csv`
 * (or Python's `csv` module) wrote: a field that starts with `"` is quoted, `""` inside it is one
 * quote, and it may hold tabs and line breaks; `\n` or `\r\n` ends a record; blank lines are
 * skipped (pandas' `skip_blank_lines`); a leading BOM is dropped.
 *
 * The file is read in chunks, synchronously, so a corpus of any size is never one string.
 * Stricter than pandas in one way: a quote inside an unquoted field, or text after a closing
 * quote, is an error (no writer of these files produces either).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { inputError } from '../util/errors.js';
import { fileError } from '../util/json-file.js';

export interface TsvRecord {
  /** The line the record starts on, from 1. */
  readonly line: number;
  readonly fields: readonly string[];
}

const CHUNK_BYTES = 1 << 20;
const QUOTE = 0x22;

export function* readTsvRecords(file: string): Generator<TsvRecord> {
  let descriptor: number;
  try {
    descriptor = openSync(file, 'r');
  } catch (error) {
    throw fileError(file, error);
  }
  try {
    const decoder = new StringDecoder('utf8');
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let pending = '';
    let line = 1;
    let first = true;
    for (;;) {
      let read: number;
      try {
        read = readSync(descriptor, chunk, 0, CHUNK_BYTES, null);
      } catch (error) {
        throw fileError(file, error);
      }
      pending += read === 0 ? decoder.end() : decoder.write(chunk.subarray(0, read));
      if (first && pending.length > 0) {
        if (pending.charCodeAt(0) === 0xfeff) pending = pending.slice(1);
        first = false;
      }
      let start = 0;
      for (let end = recordEnd(pending, start); end >= 0; end = recordEnd(pending, start)) {
        const text = pending.slice(start, end);
        if (text !== '' && text !== '\r') yield { line, fields: splitRecord(text, file, line) };
        line += countNewlines(text) + 1;
        start = end + 1;
      }
      pending = pending.slice(start);
      if (read === 0) break;
    }
    if (pending !== '') {
      if (quoteCount(pending, 0, pending.length) % 2 === 1) throw inputError(file, `line ${line}`, 'a closing quote before the end of the file');
      yield { line, fields: splitRecord(pending, file, line) };
    }
  } finally {
    closeSync(descriptor);
  }
}

/** The index of the `\n` that ends the record starting at `start` (one outside quotes), or -1. */
function recordEnd(text: string, start: number): number {
  let quotes = 0;
  let from = start;
  for (;;) {
    const newline = text.indexOf('\n', from);
    if (newline < 0) return -1;
    quotes += quoteCount(text, from, newline);
    if (quotes % 2 === 0) return newline;
    from = newline + 1;
  }
}

function quoteCount(text: string, from: number, to: number): number {
  let count = 0;
  for (let index = text.indexOf('"', from); index >= 0 && index < to; index = text.indexOf('"', index + 1)) count++;
  return count;
}

function countNewlines(text: string): number {
  let count = 0;
  for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', index + 1)) count++;
  return count;
}

/** The fields of one record (its line end removed; a final `\r` is part of the line end). */
function splitRecord(record: string, file: string, line: number): string[] {
  const text = record.endsWith('\r') ? record.slice(0, -1) : record;
  const fields: string[] = [];
  let position = 0;
  for (;;) {
    if (text.charCodeAt(position) === QUOTE) {
      let value = '';
      let from = position + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0) throw inputError(file, `line ${line}, field ${fields.length + 1}`, 'a closing quote');
        value += text.slice(from, quote);
        if (text.charCodeAt(quote + 1) !== QUOTE) {
          position = quote + 1;
          break;
        }
        value += '"';
        from = quote + 2;
      }
      fields.push(value);
      if (position === text.length) return fields;
      if (text[position] !== '\t') throw inputError(file, `line ${line}, field ${fields.length}`, 'a tab or the line end after the closing quote');
      position++;
    } else {
      const tab = text.indexOf('\t', position);
      const value = text.slice(position, tab < 0 ? text.length : tab);
      if (value.includes('"')) throw inputError(file, `line ${line}, field ${fields.length + 1}`, 'a quote only at the start of a field (a quoted field)');
      fields.push(value);
      if (tab < 0) return fields;
      position = tab + 1;
    }
  }
}

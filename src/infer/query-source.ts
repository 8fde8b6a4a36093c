/**
 * Where `infer` reads its queries: query files (a JSON array, read item by item, or JSON lines,
 * read line by line) and standard input (`-`: JSON lines are read as they arrive, a JSON array is
 * read whole). Each item is validated as a query-file item, and every item gets its position in
 * the combined input.
 *
 * An item that is not a valid query (a line that does not parse, an object without `query`) is
 * yielded as an invalid item: that query fails alone and the run goes on. A source that cannot be
 * read, or a JSON array that is not well formed, throws: nothing after it can be trusted.
 */
import { createReadStream, closeSync, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { parseQuery, type Query } from '../registry/query-file.js';
import { inputError, ToolbenchError, usageError } from '../util/errors.js';
import { readJsonArrayItems } from '../util/json-array-stream.js';
import { fileError } from '../util/json-file.js';
import { isPyObject, type PyValue } from '../util/py-value.js';
import { JsonSyntaxError, pyJsonParse } from '../util/pyjson-parse.js';
import type { InferJob, OpenedJob } from './infer-job.js';

/** `--queries -`. */
export const STDIN = '-';
const STDIN_NAME = '<stdin>';

export interface PositionedQuery {
  readonly query: Query;
  readonly position: number;
}

/** An item that is not a valid query: it is reported as a failed query. */
export interface InvalidItem {
  readonly invalid: ToolbenchError;
  /** Its `query_id` when it has a usable one, else its index (the default id of a query). */
  readonly queryId: string;
  /** `file: $[3]` or `file: line 4`. */
  readonly origin: string;
  readonly position: number;
}

export type SourceItem = PositionedQuery | InvalidItem;

type Item = { readonly query: Query } | Omit<InvalidItem, 'position'>;

/** Standard input as `infer` reads it. */
export type ByteStream = AsyncIterable<Buffer | string>;

/** The items of all sources in order; `stdin` is asked at most once. */
export async function* readQuerySources(sources: readonly string[], stdin: () => ByteStream): AsyncGenerator<SourceItem> {
  if (sources.filter((source) => source === STDIN).length > 1) throw usageError('--queries -: standard input can be read only once');
  let position = 0;
  for (const source of sources) {
    const items = source === STDIN ? readStreamItems(stdin(), STDIN_NAME) : readQueryFileItems(source);
    for await (const item of items) yield { ...item, position: position++ };
  }
}

/** A file holding a JSON array of queries, or one query per line (JSON lines). */
function readQueryFileItems(file: string): AsyncIterable<Item> | Iterable<Item> {
  if (firstCharacter(file) !== '{') {
    return (function* () {
      for (const item of readJsonArrayItems(file, { expected: 'an array of queries (or one query object per line)' })) {
        yield arrayItem(item.value, file, item.index);
      }
    })();
  }
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  return parseQueryLines(lines, file);
}

/**
 * A stream holding a JSON array of queries (read whole, then parsed) or JSON lines (parsed line
 * by line as they arrive, so that the first queries start before the stream ends).
 */
export async function* readStreamItems(stream: ByteStream, file: string): AsyncGenerator<Item> {
  const texts = decodeUtf8(stream)[Symbol.asyncIterator]();
  let head = '';
  while (withoutBom(head).trimStart() === '') {
    const next = await texts.next();
    if (next.done === true) break;
    head += next.value;
  }
  const start = withoutBom(head).trimStart();
  if (start === '') throw inputError(file, '$', 'a JSON array of queries or one query object per line', { got: 'nothing' });
  const rest: AsyncIterable<string> = { [Symbol.asyncIterator]: () => texts };
  if (!start.startsWith('[')) {
    yield* parseQueryLines(splitLines(head, rest), file);
    return;
  }
  let text = head;
  for await (const piece of rest) text += piece;
  yield* parseQueryArray(withoutBom(text), file);
}

function parseQueryArray(text: string, file: string): Item[] {
  let value;
  try {
    value = pyJsonParse(text);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    throw inputError(file, `${error.jsonPath} (line ${error.line}, column ${error.column})`, error.expected, { cause: error });
  }
  if (!Array.isArray(value)) throw inputError(file, '$', 'a JSON array of queries');
  return value.map((item, index) => arrayItem(item, file, index));
}

/** JSON lines: blank lines are ignored; the item index (for the default `query_id`) counts items, not lines. */
async function* parseQueryLines(lines: AsyncIterable<string> | Iterable<string>, file: string): AsyncGenerator<Item> {
  let lineNumber = 0;
  let index = 0;
  for await (const line of lines) {
    lineNumber++;
    const text = lineNumber === 1 ? withoutBom(line) : line;
    if (text.trim() === '') continue;
    let value;
    try {
      value = pyJsonParse(text);
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      const invalid = inputError(file, `line ${lineNumber}, column ${error.column}`, `${error.expected} (one query object per line)`, { cause: error });
      yield { invalid, queryId: String(index++), origin: `${file}: line ${lineNumber}` };
      continue;
    }
    yield validate(value, file, index++, `line ${lineNumber}`);
  }
}

function arrayItem(value: PyValue, file: string, index: number): Item {
  return validate(value, file, index, `$[${index}]`);
}

/** The query of one item, or the item as invalid when it is not one. */
function validate(value: PyValue, file: string, index: number, where: string): Item {
  try {
    return { query: parseQuery(value, file, index) };
  } catch (error) {
    if (!(error instanceof ToolbenchError) || error.code !== 'input.invalid') throw error;
    return { invalid: error, queryId: idOfInvalid(value, index), origin: `${file}: ${where}` };
  }
}

/** The id an invalid item is reported under: its `query_id` if that is usable, else its index (as parseQuery defaults). */
function idOfInvalid(value: PyValue, index: number): string {
  const id = isPyObject(value) ? value.query_id : undefined;
  if (typeof id === 'string' || typeof id === 'bigint' || (typeof id === 'number' && Number.isInteger(id))) return String(id);
  return String(index);
}

async function* decodeUtf8(stream: ByteStream): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  for await (const chunk of stream) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (text !== '') yield text;
  }
  const last = decoder.end();
  if (last !== '') yield last;
}

/** The lines of `head` followed by `rest`, without their `\n` or `\r\n`. */
async function* splitLines(head: string, rest: AsyncIterable<string>): AsyncGenerator<string> {
  let pending = head;
  const drain = function* (): Generator<string> {
    let start = 0;
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n', start)) {
      yield pending.slice(start, newline).replace(/\r$/, '');
      start = newline + 1;
    }
    pending = pending.slice(start);
  };
  yield* drain();
  for await (const text of rest) {
    pending += text;
    yield* drain();
  }
  if (pending !== '') yield pending.replace(/\r$/, '');
}

function withoutBom(text: string): string {
  return text.startsWith('\ufeff') ? text.slice(1) : text;
}

/** The first character after whitespace and a byte-order mark, or '' for an empty file. */
function firstCharacter(file: string): string {
  let descriptor: number;
  try {
    descriptor = openSync(file, 'r');
  } catch (error) {
    throw fileError(file, error);
  }
  try {
    const buffer = Buffer.alloc(4096);
    for (let chunk = 0; ; chunk++) {
      let length: number;
      try {
        length = readSync(descriptor, buffer, 0, buffer.length, null);
      } catch (error) {
        throw fileError(file, error); // a directory opens, but does not read
      }
      if (length === 0) return '';
      const text = buffer.toString('latin1', 0, length);
      const match = /\S/.exec(chunk === 0 && text.startsWith('\u00ef\u00bb\u00bf') ? text.slice(3) : text);
      if (match !== null) return match[0];
    }
  } finally {
    closeSync(descriptor);
  }
}

/** Each item as a job that builds its task with `open`; an invalid item as a job that fails without being opened. */
export async function* jobsOfQueries(
  items: AsyncIterable<SourceItem>,
  open: (query: Query) => OpenedJob | Promise<OpenedJob>,
): AsyncGenerator<InferJob> {
  for await (const item of items) {
    if ('invalid' in item) {
      const { invalid, queryId, origin, position } = item;
      yield { queryId, position, origin, invalid, open: () => Promise.reject(invalid) };
      continue;
    }
    const { query, position } = item;
    yield { queryId: String(query.queryId), position, origin: `${query.file}: ${query.path}`, open: async () => open(query) };
  }
}

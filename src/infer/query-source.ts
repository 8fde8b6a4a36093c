/**
 * Where `infer` reads its queries: query files (a JSON array, read item by item, or JSON lines,
 * read line by line) and standard input (`-`, a JSON array or JSON lines, read whole). Each item is
 * validated as a query-file item, and every query gets its position in the combined input.
 */
import { createReadStream, closeSync, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseQuery, type Query } from '../registry/query-file.js';
import { inputError, usageError } from '../util/errors.js';
import { readJsonArrayItems } from '../util/json-array-stream.js';
import { fileError } from '../util/json-file.js';
import { JsonSyntaxError, pyJsonParse } from '../util/pyjson-parse.js';
import type { InferJob, OpenedJob } from './infer-job.js';

/** `--queries -`. */
export const STDIN = '-';
const STDIN_NAME = '<stdin>';

export interface PositionedQuery {
  readonly query: Query;
  readonly position: number;
}

/** The queries of all sources in order; `readStdin` is asked at most once. */
export async function* readQuerySources(sources: readonly string[], readStdin: () => Promise<string>): AsyncGenerator<PositionedQuery> {
  if (sources.filter((source) => source === STDIN).length > 1) throw usageError('--queries -: standard input can be read only once');
  let position = 0;
  for (const source of sources) {
    const queries = source === STDIN ? parseQueryText(await readStdin(), STDIN_NAME) : readQueryFileItems(source);
    for await (const query of queries) yield { query, position: position++ };
  }
}

/** A file holding a JSON array of queries, or one query per line (JSON lines). */
function readQueryFileItems(file: string): AsyncIterable<Query> | Iterable<Query> {
  if (firstCharacter(file) !== '{') {
    return (function* () {
      for (const item of readJsonArrayItems(file, { expected: 'an array of queries (or one query object per line)' })) {
        yield parseQuery(item.value, file, item.index);
      }
    })();
  }
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  return parseQueryLines(lines, file);
}

/** Text holding a JSON array of queries, or JSON lines. */
export function parseQueryText(text: string, file: string): Iterable<Query> | AsyncIterable<Query> {
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  const start = body.trimStart();
  if (start === '') throw inputError(file, '$', 'a JSON array of queries or one query object per line', { got: 'nothing' });
  if (!start.startsWith('[')) return parseQueryLines(body.split('\n'), file);
  let value;
  try {
    value = pyJsonParse(body);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    throw inputError(file, `${error.jsonPath} (line ${error.line}, column ${error.column})`, error.expected, { cause: error });
  }
  if (!Array.isArray(value)) throw inputError(file, '$', 'a JSON array of queries');
  return value.map((item, index) => parseQuery(item, file, index));
}

/** JSON lines: blank lines are ignored; the item index (for the default `query_id`) counts queries, not lines. */
async function* parseQueryLines(lines: AsyncIterable<string> | Iterable<string>, file: string): AsyncGenerator<Query> {
  let lineNumber = 0;
  let index = 0;
  for await (const line of lines) {
    lineNumber++;
    const text = lineNumber === 1 && line.startsWith('\ufeff') ? line.slice(1) : line;
    if (text.trim() === '') continue;
    let value;
    try {
      value = pyJsonParse(text);
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      throw inputError(file, `line ${lineNumber}, column ${error.column}`, `${error.expected} (one query object per line)`, { cause: error });
    }
    yield parseQuery(value, file, index++);
  }
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

/** Reads a whole stream as UTF-8 text (standard input). */
export async function readStreamText(stream: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Each query as a job that builds its task with `open`. */
export async function* jobsOfQueries(
  queries: AsyncIterable<PositionedQuery>,
  open: (query: Query) => OpenedJob | Promise<OpenedJob>,
): AsyncGenerator<InferJob> {
  for await (const { query, position } of queries) {
    yield { queryId: String(query.queryId), position, origin: `${query.file}: ${query.path}`, open: async () => open(query) };
  }
}

/**
 * Response-example schemas, `<root>/<Category>/<tool>.json` (spec formats.md §1.3), read only by
 * the `filter` / `random` observation compressors (§12.3 step 5).
 *
 * Upstream crashes on an empty or invalid file (`json.load`) and on entries without `api_list`,
 * `name` or `schema`; the released data has such files, so here they simply mean "no schema".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pureApiName } from '../registry/names.js';
import { fileError } from '../util/json-file.js';
import { isPyObject, type PyValue } from '../util/py-value.js';
import { JsonSyntaxError, pyJsonParse } from '../util/pyjson-parse.js';
import { isSafeSegment } from '../util/path-segment.js';
import type { ApiRef } from './tool-call.js';
import { isNonEmptySchema } from './tool-result.js';

interface ExampleEntry {
  /** change_name(standardize(original API name)). */
  readonly api: string;
  readonly schema: PyValue;
}

export class ResponseExamples {
  private readonly files = new Map<string, readonly ExampleEntry[]>();

  /** `root` is the `response_examples` folder; undefined when there is none (no API has a schema). */
  constructor(private readonly root: string | undefined) {}

  /**
   * The schema of the first entry for this API with a non-empty schema, as upstream's loop
   * (which skips empty ones and stops at the first usable one); undefined when there is none.
   * Throws an input error only when the file exists but cannot be read.
   */
  schemaFor(api: ApiRef): PyValue | undefined {
    if (this.root === undefined || !isSafeSegment(api.category) || !isSafeSegment(api.tool)) return undefined;
    const file = join(this.root, api.category, `${api.tool}.json`);
    let entries = this.files.get(file);
    if (entries === undefined) {
      entries = readEntries(file);
      this.files.set(file, entries);
    }
    return entries.find((entry) => entry.api === api.api && isNonEmptySchema(entry.schema))?.schema;
  }
}

function readEntries(file: string): readonly ExampleEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return [];
    throw fileError(file, error);
  }
  let document: PyValue;
  try {
    document = pyJsonParse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    if (error instanceof JsonSyntaxError || error instanceof RangeError) return []; // empty or invalid file
    throw error;
  }
  const apiList = isPyObject(document) ? document.api_list : undefined;
  if (!Array.isArray(apiList)) return [];
  return (apiList as readonly PyValue[]).flatMap((entry) =>
    isPyObject(entry) && typeof entry.name === 'string' && entry.schema !== undefined
      ? [{ api: pureApiName(entry.name), schema: entry.schema }]
      : [],
  );
}

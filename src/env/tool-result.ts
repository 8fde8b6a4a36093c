/**
 * The steps the upstream local tool runner (`toolbench/inference/server.py`, spec formats.md
 * §12.3) applies around a tool function, shared by the direct RapidAPI backend and local tool
 * modules: parse `tool_input` (step 2), classify the result (step 4), compress it against the
 * response-example schema (step 5) and reply `{"error", "response"}` (step 6).
 */
import { TOOL_ERROR_TEXT } from '../protocol/prompts.js';
import { pyHead } from '../util/py-string.js';
import { isPyObject, orderedKeys, orderedObject, type PyValue } from '../util/py-value.js';
import { pyStr } from '../util/pyrepr.js';
import type { ApiRef, ObservationCompress } from './tool-call.js';

/** `--observ_compress_method` (spec algorithms.md §5.4). */

/** What the runner replies; `response` is the pyrepr of the result, cut to 2048 code points. */
export type ServerReply = {
  readonly error: string;
  readonly response: string;
};

export interface ServerReplyOptions {
  readonly compress: ObservationCompress;
  /** This API's response-example schema (response-examples.ts); undefined when there is none. */
  readonly schema: PyValue | undefined;
  /** A uniform draw in [0, 1), taken once per call when `compress` is `random`. */
  readonly draw: () => number;
}

/** Upstream replies with `str(result)[:2048]` (formats.md §12.3 step 6). */
export const RESPONSE_MAX_LENGTH = 2048;

/**
 * The `process_error` chain (formats.md §12.3 step 4): substring tests on the pyrepr text, first
 * match wins. Upstream's leading "timed out" test is overwritten by this chain, so it is left out.
 */
export function classifyResult(text: string): string {
  if (text.includes('Your Client (working) ---> Gateway (working) ---> API (not working)')) return 'API not working error...';
  if (text.includes('Unauthorized') || text.includes('unauthorized')) return 'Unauthorized error...';
  if (text.includes('You are not subscribed to this API.')) return 'Unsubscribed error...';
  if (text.includes('Too many requests')) return 'Too many requests error...';
  if (
    text.includes('You have exceeded') ||
    text.includes('you are being rate limited') ||
    text.includes('Access restricted. Check credits balance or enter the correct API key.')
  ) {
    return 'Rate limit error...';
  }
  if (text.includes('Oops, an error in the gateway has occurred.')) return 'Gateway error...';
  if (text.includes('Blocked User. Please contact your API provider.')) return 'Blocked error...';
  if (text.includes('error')) return 'Message error...';
  return '';
}

/**
 * Upstream `dict_shorten` (formats.md §12.3 step 5): keeps only the keys the schema names,
 * recursively; a list whose first item is a dict is filtered item by item with the schema's
 * first list element. Returns a new value; the input is not changed.
 *
 * Where value and schema disagree in shape, the value is kept as it is. Upstream instead runs
 * `key in schema[key]` against whatever the schema holds (a substring test when it is a type
 * name such as `"str"`, list membership for a list) or crashes (`None`, a non-dict list item).
 */
export function filterBySchema(value: PyValue, schema: PyValue): PyValue {
  if (!isPyObject(value) || !isPyObject(schema)) return value;
  const kept: [string, PyValue][] = [];
  for (const key of orderedKeys(value)) {
    if (!Object.prototype.hasOwnProperty.call(schema, key)) continue;
    kept.push([key, filterChild(value[key] as PyValue, schema[key] as PyValue)]);
  }
  return orderedObject(kept);
}

function filterChild(value: PyValue, schema: PyValue): PyValue {
  if (isPyObject(value)) return filterBySchema(value, schema);
  if (Array.isArray(value) && value.length > 0 && isPyObject(value[0])) {
    const itemSchema = Array.isArray(schema) ? (schema as readonly PyValue[])[0] : undefined;
    if (itemSchema === undefined) return value;
    return (value as readonly PyValue[]).map((item) => filterBySchema(item, itemSchema));
  }
  return value;
}

/** Upstream uses a schema only when `len(schema) > 0`; a number or null would crash it. */
export function isNonEmptySchema(schema: PyValue | undefined): boolean {
  if (typeof schema === 'string' || Array.isArray(schema)) return schema.length > 0;
  return isPyObject(schema) && Object.keys(schema).length > 0;
}

/**
 * Steps 4–6 of formats.md §12.3, in upstream's order: classify the uncompressed result, then
 * compress, then stringify and cut. As upstream, the random draw is taken for every call with
 * `random`, before the result's type or the schema is looked at.
 * Throws a TypeError when the result holds something pyrepr cannot print (a function, a symbol).
 */
export function toServerReply(result: unknown, options: ServerReplyOptions): ServerReply {
  const text = pyStr(result);
  const error = classifyResult(text);
  const wantsFilter = options.compress === 'filter' || (options.compress === 'random' && options.draw() > 0.5);
  let response = text;
  if (wantsFilter && isPyObject(result) && options.schema !== undefined && isNonEmptySchema(options.schema)) {
    response = pyStr(filterBySchema(result, options.schema));
  }
  return { error, response: pyHead(response, RESPONSE_MAX_LENGTH) };
}

/**
 * The import statement upstream names in its error replies. The public service's text reads
 * `from toolenv.tools.<Category>.<tool>.api import <api>` (prompts.md §3.1's example); the local
 * twin would say `data.toolenv.tools`: we follow the service.
 */
export function importStatement(api: ApiRef): string {
  return `from toolenv.tools.${api.category}.${api.tool}.api import ${api.api}`;
}

/** `{"error": "Function executing <import> error...\n<exception>", "response": ""}` (§12.3 step 3). */
export function functionErrorReply(statement: string, error: unknown): ServerReply {
  return { error: `${TOOL_ERROR_TEXT.functionExecuting}${statement} error...\n${errorText(error)}`, response: '' };
}

/** The reply for a `tool_input` that is not JSON (§12.3 step 2). */
export function toolInputErrorReply(): ServerReply {
  return { error: TOOL_ERROR_TEXT.toolInputParse, response: '' };
}

/** Python's `str(exception)`: the message only. */
function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}


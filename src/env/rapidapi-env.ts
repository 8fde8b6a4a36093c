/**
 * RapidAPI called directly with the user's key (`--use_rapidapi_key`, spec algorithms.md §5.2):
 * the local tool runner of formats.md §12.3, with the generated `api.py` (§1.4) rebuilt from the
 * tool JSON. An `api.py` function takes its parameters by their exposed names, fills `{name}`
 * placeholders of the API's `url`, sends every required parameter and every truthy optional one
 * (defaulting to the JSON `default`) as the query string, and returns the JSON body, or the text
 * when the body is not JSON, whatever the HTTP status: a RapidAPI 5xx page is a result to classify.
 *
 * Redirects are followed, as `requests` does (at most 30; the RapidAPI headers go along, as there).
 * Differences from upstream, on purpose: a request has a deadline (a timeout is a transport
 * failure, status 5), path values are URL-encoded, and argument values are passed as values
 * (upstream pastes strings into Python source, formats.md §15 item 11).
 */
import { getGlobalDispatcher, interceptors, request, type Dispatcher } from 'undici';
import { DEFAULT_NAME_OPTIONS, parameterName, pureApiName, type NameOptions } from '../registry/names.js';
import type { ToolApi, ToolDocument, ToolParameter } from '../registry/tool-document.js';
import type { ToolEnvironment } from '../registry/tool-environment.js';
import { PyFloat, isPyObject, orderedKeys, type PyObject, type PyValue } from '../util/py-value.js';
import { pyJsonParse } from '../util/pyjson-parse.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { pyStr } from '../util/pyrepr.js';
import { redact } from '../util/redact.js'; // error texts go to the model: the key never does
import type { ResponseExamples } from './response-examples.js';
import type { ApiRef, BackendAnswer, CallOptions, ObservationCompress, ToolBackend } from './tool-call.js';
import {
  functionErrorReply,
  importStatement,
  toServerReply,
  toolInputErrorReply,
  type ServerReply,
} from './tool-result.js';
import { parseToolArguments } from './tool-input.js';

export interface RapidApiBackendOptions {
  readonly tools: ToolEnvironment;
  /** The user's RapidAPI key (RAPIDAPI_KEY): sent as `X-RapidAPI-Key`, never logged or echoed. */
  readonly key: string;
  /** Deadline of one request, headers and body included. */
  readonly timeoutMs: number;
  readonly compress: ObservationCompress;
  readonly examples: ResponseExamples;
  /** Uniform draw in [0, 1) for `random` compression. */
  readonly draw: (api: ApiRef, args: string) => number;
  /** How API and parameter names were derived for the functions the model sees. */
  readonly nameOptions?: NameOptions;
  /** Tests: replaces the scheme and host of every API url with this origin. */
  readonly baseUrlOverride?: string;
  readonly dispatcher?: Dispatcher;
}

/** The argument the generated functions take the key by; the model cannot pass it. */
const KEY_PARAMETER = 'toolbench_rapidapi_key';
const METHODS_WITH_QUERY: ReadonlySet<string> = new Set(['GET', 'DELETE', 'HEAD']);
/** `requests.Session.max_redirects`. */
const MAX_REDIRECTS = 30;

export function createRapidApiBackend(options: RapidApiBackendOptions): ToolBackend {
  const nameOptions = options.nameOptions ?? DEFAULT_NAME_OPTIONS;
  const dispatcher = (options.dispatcher ?? getGlobalDispatcher()).compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }));
  const reply = (value: ServerReply): BackendAnswer => ({ kind: 'reply', reply: { ...value }, source: 'rapidapi' });
  return {
    async answer(ref: ApiRef, args: string, callOptions?: CallOptions): Promise<BackendAnswer> {
      const statement = importStatement(ref);
      const input = parseToolArguments(args); // step 2 comes before the import (formats.md §12.3)
      if (input === undefined) return reply(toolInputErrorReply());
      // A missing tool or API is the ImportError upstream's `exec(import)` would raise (there it
      // escapes the try and crashes the runner); here it is a reply the model can read.
      const tool = options.tools.find(ref.category, ref.tool);
      if (tool === undefined) return reply(functionErrorReply(statement, `No module named 'toolenv.tools.${ref.category}.${ref.tool}'`));
      const api = tool.apis.find((candidate) => pureApiName(candidate.name, nameOptions) === ref.api);
      if (api === undefined) {
        return reply(functionErrorReply(statement, `cannot import name '${ref.api}' from 'toolenv.tools.${ref.category}.${ref.tool}.api'`));
      }
      const bound = bindArguments(api, ref.api, input, nameOptions);
      if (typeof bound === 'string') return reply(functionErrorReply(statement, bound));
      const built = buildRequest(api, tool, bound, options);
      if (typeof built === 'string') return reply(functionErrorReply(statement, built));
      const outcome = await send(built, options.timeoutMs, dispatcher, callOptions?.signal);
      if (outcome.kind === 'timeout') return { kind: 'failure', failure: { kind: 'timeout' }, source: 'rapidapi' };
      if (outcome.kind === 'error') return reply(functionErrorReply(statement, redact(outcome.message, [options.key])));
      const schema = options.compress === 'truncate' ? undefined : options.examples.schemaFor(ref);
      return reply(toServerReply(outcome.result, { compress: options.compress, schema, draw: () => options.draw(ref, args) }));
    },
  };
}

interface BoundArgument {
  readonly parameter: ToolParameter;
  readonly required: boolean;
  /** What the Python function's local variable holds: the argument, the default, or None. */
  readonly value: PyValue;
}

/**
 * Python's binding of `<api>(**arguments)` to `def <api>(required..., optional=default...,
 * toolbench_rapidapi_key=...)`: an unknown name or a missing required parameter is a TypeError,
 * reported with CPython's message. Returns the bound arguments or that message.
 */
function bindArguments(api: ToolApi, pureName: string, input: PyObject, nameOptions: NameOptions): BoundArgument[] | string {
  const byName = new Map<string, { parameter: ToolParameter; required: boolean }>();
  for (const [list, required] of [[api.requiredParameters, true], [api.optionalParameters, false]] as const) {
    for (const parameter of list) {
      const exposed = parameterName(parameter.name, nameOptions);
      if (!byName.has(exposed)) byName.set(exposed, { parameter, required });
    }
  }
  for (const key of orderedKeys(input)) {
    // The call string already names the key: Python rejects it while compiling the call.
    if (key === KEY_PARAMETER) return `keyword argument repeated: ${KEY_PARAMETER} (<string>, line 1)`;
    if (!byName.has(key)) return `${pureName}() got an unexpected keyword argument '${key}'`;
  }
  const missing = [...byName].filter(([name, entry]) => entry.required && !Object.hasOwn(input, name)).map(([name]) => `'${name}'`);
  if (missing.length > 0) {
    const noun = missing.length === 1 ? 'argument' : 'arguments';
    return `${pureName}() missing ${missing.length} required positional ${noun}: ${joinNames(missing)}`;
  }
  return [...byName].map(([name, { parameter, required }]) => ({
    parameter,
    required,
    value: Object.hasOwn(input, name) ? (input[name] as PyValue) : emptyToNone(parameter.default),
  }));
}

/** CPython lists missing names as `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`. */
function joinNames(names: readonly string[]): string {
  if (names.length <= 2) return names.join(' and ');
  return `${names.slice(0, -1).join(', ')}, and ${names[names.length - 1]}`;
}

/** The generated signatures default optional parameters to the JSON default, or None when it is empty. */
function emptyToNone(value: PyValue | undefined): PyValue {
  return value === undefined || value === '' ? null : value;
}

interface BuiltRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** The request `api.py` sends, or the message of the exception `requests` would raise. */
function buildRequest(api: ToolApi, tool: ToolDocument, bound: readonly BoundArgument[], options: RapidApiBackendOptions): BuiltRequest | string {
  const byPlaceholder = new Map(bound.map((argument) => [parameterName(argument.parameter.name, options.nameOptions), argument]));
  const inPath = new Set<BoundArgument>();
  const filled = api.url.replace(/\{([^{}]*)\}/g, (placeholder, name: string) => {
    const argument = byPlaceholder.get(parameterName(name, options.nameOptions));
    if (argument === undefined) return placeholder;
    inPath.add(argument);
    return encodeURIComponent(wellFormed(pyStr(argument.value))); // an f-string: None prints as `None`
  });
  let url: URL;
  try {
    url = new URL(filled);
    if (options.baseUrlOverride !== undefined) url = new URL(`${url.pathname}${url.search}`, options.baseUrlOverride);
  } catch {
    return `Invalid URL '${api.url}': No scheme supplied. Perhaps you meant https://${api.url}?`;
  }
  // requests' params: required ones always, optional ones only when truthy (`if name:`).
  const sent = bound.filter((argument) => !inPath.has(argument) && (argument.required || isTruthy(argument.value)));
  const method = api.method === '' ? 'GET' : api.method.toUpperCase();
  const headers: Record<string, string> = { 'X-RapidAPI-Key': options.key, 'X-RapidAPI-Host': rapidApiHost(tool, api) };
  if (METHODS_WITH_QUERY.has(method)) {
    const query = sent.flatMap((argument) => queryValues(argument.value).map((value) => `${quotePlus(argument.parameter.name)}=${quotePlus(value)}`));
    if (query.length > 0) url.search = url.search.length > 1 ? `${url.search}&${query.join('&')}` : `?${query.join('&')}`;
    return { url: url.href, method, headers };
  }
  const body = Object.fromEntries(sent.map((argument) => [argument.parameter.name, argument.value]));
  return { url: url.href, method, headers: { ...headers, 'Content-Type': 'application/json' }, body: pyJsonDumps(body) };
}

/** The tool JSON's `host` (what the generated code sends), else the host of the API's url. */
function rapidApiHost(tool: ToolDocument, api: ToolApi): string {
  if (typeof tool.raw.host === 'string' && tool.raw.host !== '') return tool.raw.host;
  try {
    return new URL(api.url).host;
  } catch {
    return '';
  }
}

function isTruthy(value: PyValue): boolean {
  if (value === null || value === false || value === '' || value === 0 || value === 0n) return false;
  if (value instanceof PyFloat) return value.value !== 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isPyObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** requests' `_encode_params`: a list gives one pair per item, a dict its keys, None nothing. */
function queryValues(value: PyValue): string[] {
  if (value === null) return [];
  if (Array.isArray(value)) return (value as readonly PyValue[]).filter((item) => item !== null).map((item) => pyStr(item));
  if (isPyObject(value)) return [...orderedKeys(value)];
  return [pyStr(value)];
}

/** Python's `urllib.parse.quote_plus`: only letters, digits and `_.-~` stay as they are. */
function quotePlus(text: string): string {
  return encodeURIComponent(wellFormed(text))
    .replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+');
}

/** Lone surrogates (possible in model JSON) become U+FFFD: encodeURIComponent throws on them. */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

type SendOutcome = { readonly kind: 'result'; readonly result: PyValue } | { readonly kind: 'timeout' } | { readonly kind: 'error'; readonly message: string };

async function send(built: BuiltRequest, timeoutMs: number, dispatcher: Dispatcher, signal: AbortSignal | undefined): Promise<SendOutcome> {
  const deadline = AbortSignal.timeout(timeoutMs);
  try {
    const response = await request(built.url, {
      method: built.method as Dispatcher.HttpMethod,
      headers: built.headers,
      body: built.body,
      signal: signal === undefined ? deadline : AbortSignal.any([signal, deadline]),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      dispatcher,
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    return { kind: 'result', result: decodeBody(bytes, response.headers['content-type']) };
  } catch (error) {
    signal?.throwIfAborted();
    const code = (error as { code?: unknown }).code;
    if (deadline.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return { kind: 'timeout' };
    }
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}

/** `response.json()`, or `response.text` when the body is not JSON (an empty body gives ``). */
function decodeBody(bytes: Buffer, contentType: string | string[] | undefined): PyValue {
  const text = decodeText(bytes, Array.isArray(contentType) ? contentType[0] : contentType);
  try {
    return pyJsonParse(text);
  } catch {
    // api.py: `try: observation = response.json() except: observation = response.text`
    return text;
  }
}

/** The body in the charset the server named; UTF-8 otherwise or when the name is unknown. */
function decodeText(bytes: Buffer, contentType: string | undefined): string {
  const charset = /;\s*charset="?([^";\s]+)/i.exec(contentType ?? '')?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

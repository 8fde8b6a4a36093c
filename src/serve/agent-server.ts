/**
 * The agent server of ToolBench's demo (`toolbench_server.py`, formats.md §14): `POST /stream`
 * (or `GET` with a body) takes `{"text", "top_k", "method"}` and streams the search as event
 * objects, one pyjson object a line, the final `on_request_end` without a newline.
 *
 * Where upstream misbehaves, this server does what upstream meant: a second request while one
 * runs gets 409 (upstream answers an empty 200), `GET /methods` answers (upstream raises), a bad
 * body gets 400 naming the field, and a failure mid-stream ends the stream with an
 * `on_request_error` event (block id `error`; a callback upstream declares but never sends). `top_k` and `method`
 * may be left out (the server's `--top-k` and `--method`), and a request may bring its own
 * `api_list` (as in a query file) instead of asking the retriever. A client that hangs up stops
 * its search. CORS is open, as upstream's.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseMethod } from '../search/method.js';
import type { SearchMethod } from '../search/types.js';
import { ToolbenchError } from '../util/errors.js';
import { linkSignal } from '../util/linked-signal.js';
import { JsonSyntaxError, pyJsonParse } from '../util/pyjson-parse.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { isPyObject, type PyValue } from '../util/py-value.js';
import { requestQuery, type StreamRequest } from './agent-request.js';
import { listen, pathOf, printable, readBody, send, urlHost } from './http.js';
import type { StreamEvent } from './stream-events.js';

export interface AgentServerOptions {
  readonly host: string;
  /** 0 picks a free port; `port` of the result says which. */
  readonly port: number;
  /** Used when a request leaves them out. */
  readonly defaults: { readonly method: SearchMethod; readonly topK: number };
  /** Whether requests without `api_list` can be answered (a retriever is loaded). */
  readonly retriever: boolean;
  /** Runs one request, reporting through `emit`; resolves to the final event. */
  readonly answer: (request: StreamRequest, emit: (event: StreamEvent) => void, signal: AbortSignal) => Promise<StreamEvent>;
  readonly maxBodyBytes?: number;
  /** One line per request: method, path, status, outcome, time. */
  readonly log?: (line: string) => void;
  /** The clock that names answer files (default: the system's). */
  readonly now?: () => Date;
}

export interface AgentServer {
  /** `http://host:port/stream`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting requests and waits for the one in flight; with `force`, stops it (its stream ends with an error event). */
  close(options?: { force?: boolean }): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const MAX_TOP_K = 100;
const CORS_HEADERS = Object.freeze({ 'access-control-allow-origin': '*' });
/** The methods `/methods` lists: examples of each family, the default first. */
const LISTED_METHODS = ['DFS_woFilter_w2', 'DFS_wFilter_w2', 'CoT@1'];

export async function startAgentServer(options: AgentServerOptions): Promise<AgentServer> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const now = options.now ?? (() => new Date());
  const stopping = new AbortController();
  let busy: Promise<void> | undefined;
  let closing = false;
  let requests = 0;

  const server = createServer((request, response) => {
    void serve(request, response).catch((error: unknown) => {
      options.log?.(`${request.method} ${pathOf(request)} failed: ${(error as Error)?.message ?? String(error)}`);
      if (!response.headersSent) send(response, 500, { error: 'internal server error' }, CORS_HEADERS);
      else response.destroy();
    });
  });

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = pathOf(request);
    const log = (status: number, what: string): void => options.log?.(`${request.method} ${path} ${status} ${what} ${(performance.now() - started).toFixed(1)}ms`);
    const finish = (status: number, body: unknown, what: string, headers: Record<string, string> = {}): void => {
      send(response, status, body, { ...CORS_HEADERS, ...headers });
      log(status, what);
    };
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { ...CORS_HEADERS, 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': 'content-type' });
      response.end();
      return log(204, 'preflight');
    }
    if (path === '/health' || path === '/methods') {
      if (request.method !== 'GET' && request.method !== 'HEAD') return finish(405, { error: 'method not allowed' }, 'method_not_allowed', { allow: 'GET, HEAD' });
      if (path === '/health') return finish(200, { status: 'ok', busy: busy !== undefined }, 'health');
      const methods = [options.defaults.method.name, ...LISTED_METHODS.filter((name) => name !== options.defaults.method.name)];
      return finish(200, { methods }, 'methods');
    }
    if (path !== '/stream') return finish(404, { error: `no such endpoint: ${path} (POST /stream, GET /methods, GET /health)` }, 'not_found');
    if (request.method !== 'POST' && request.method !== 'GET') return finish(405, { error: 'method not allowed: POST /stream' }, 'method_not_allowed', { allow: 'GET, POST' });

    const body = await readBody(request, maxBodyBytes);
    if (body === 'too-large') {
      response.once('finish', () => request.socket.destroySoon());
      return finish(413, { error: `request body larger than ${maxBodyBytes} bytes` }, 'body_too_large', { connection: 'close' });
    }
    // the body took time to arrive: the server may be stopping, the client may have left
    if (closing) return finish(503, { error: 'the server is stopping' }, 'stopping', { connection: 'close' });
    if (response.destroyed) return log(499, 'client_gone');
    const parsed = parseStreamRequest(body, options.defaults, { retriever: options.retriever, queryId: requestId(++requests, now()) });
    if (!parsed.ok) return finish(400, { error: parsed.error }, 'bad_request');
    if (busy !== undefined) return finish(409, { error: 'a request is running: this server answers one at a time; try again when it ends' }, 'busy');

    let release = (): void => {};
    busy = new Promise<void>((resolve) => (release = resolve));
    // a signal of its own, so that no listener per request piles up on the server's
    const linked = linkSignal(stopping.signal);
    const { signal } = linked;
    try {
      // the client went away before the end: its search stops
      response.once('close', () => {
        if (!response.writableFinished) linked.abort(new ToolbenchError('serve.client-gone', 1, 'the client closed the connection'));
      });
      response.writeHead(200, { ...CORS_HEADERS, 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      const emit = (event: StreamEvent): void => {
        if (!response.destroyed) response.write(`${pyJsonDumps(event)}\n`);
      };
      const last = await options.answer(parsed.request, emit, signal);
      response.end(pyJsonDumps(last));
      log(200, `answered ${printable(parsed.request.text.slice(0, 60))}`);
    } catch (error) {
      const message = signal.aborted ? abortMessage(signal.reason) : (error as Error)?.message ?? String(error);
      if (!response.destroyed) response.end(pyJsonDumps({ method_name: 'on_request_error', block_id: 'error', error: message }));
      log(200, `error: ${message}`);
    } finally {
      linked.unlink();
      busy = undefined;
      release();
    }
  }

  const { port, closed } = await listen(server, options.port, options.host);
  return {
    url: `http://${urlHost(options.host)}:${port}/stream`,
    port,
    async close(closeOptions = {}) {
      if (!closing) {
        closing = true;
        server.close();
      }
      if (closeOptions.force) stopping.abort(new ToolbenchError('serve.stopped', 130, 'the server was stopped'));
      server.closeIdleConnections();
      if (busy !== undefined) await busy;
      server.closeAllConnections();
      await closed;
    },
  };
}

type Parsed = { ok: true; request: StreamRequest } | { ok: false; error: string };

/** The body as a request, or what is wrong with it (which field, what was expected). */
export function parseStreamRequest(body: string, defaults: AgentServerOptions['defaults'], context: { retriever: boolean; queryId: string }): Parsed {
  let value: PyValue;
  try {
    value = body.trim() === '' ? {} : pyJsonParse(body);
  } catch (error) {
    const where = error instanceof JsonSyntaxError ? ` at line ${error.line} column ${error.column}: expected ${error.expected}` : '';
    return { ok: false, error: `the body is not JSON${where}` };
  }
  if (!isPyObject(value)) return { ok: false, error: 'the body must be a JSON object: {"text": "...", "top_k": 5, "method": "DFS_woFilter_w2"}' };
  const { text, top_k: topK, method, api_list: apiList } = value;
  if (typeof text !== 'string' || text.trim() === '') return { ok: false, error: '"text": expected the user query, a non-empty string' };
  if (topK !== undefined && !(typeof topK === 'number' && Number.isInteger(topK) && topK >= 1 && topK <= MAX_TOP_K)) {
    return { ok: false, error: `"top_k": expected an integer from 1 to ${MAX_TOP_K}` };
  }
  if (method !== undefined && typeof method !== 'string') return { ok: false, error: '"method": expected a string such as DFS_woFilter_w2 or CoT@1' };
  let searchMethod = defaults.method;
  try {
    if (method !== undefined) searchMethod = parseMethod(method);
  } catch (error) {
    return { ok: false, error: `"method": ${(error as Error).message}` };
  }
  if (apiList === undefined && !context.retriever) {
    return { ok: false, error: '"api_list" is required: this server has no retriever (start it with --retriever DIR --corpus FILE to choose APIs for the query)' };
  }
  try {
    const query = requestQuery(text, apiList, context.queryId);
    return { ok: true, request: { text, topK: topK ?? defaults.topK, method: searchMethod, query } };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** A query id for the request's answer file: the time, then a count, so ids never repeat. */
function requestId(count: number, time: Date): string {
  return `${time.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${count}`;
}

function abortMessage(reason: unknown): string {
  return reason instanceof Error ? reason.message : 'the request was stopped';
}

/**
 * StableToolBench's virtual API server over HTTP (spec formats.md §13.1): `POST /virtual` with
 * `{category, tool_name, api_name, tool_input, strip, toolbench_key}`, answered by the same
 * VirtualApi as the in-process `virtual` environment, so both answer identically. Python clients
 * (`SERVICE_URL=http://localhost:8080/virtual`) and our `--env service` work against it unchanged.
 *
 * Bodies are read with pyJsonParse: the cache key is Python's `str()` of `tool_input`, so key
 * order, integral floats (`1.0`) and big integers must survive; replies go out as pyjson for the
 * same reason. Bad bodies get FastAPI's 422 shape (pydantic v1), since that is what upstream's
 * clients have seen. The toolbench key is read past, never stored or logged.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { VirtualApi, VirtualRequest } from '../env/virtual-api.js';
import { ToolbenchError } from '../util/errors.js';
import { JsonSyntaxError, pyJsonParse } from '../util/pyjson-parse.js';
import { isPyObject, type PyValue } from '../util/py-value.js';
import { listen, pathOf, printable, readBody, send, urlHost } from './http.js';

export interface VirtualServerOptions {
  readonly api: VirtualApi;
  /** Interface to listen on: `127.0.0.1` (this machine only), `0.0.0.0` (upstream's choice). */
  readonly host: string;
  /** 0 picks a free port; `port` of the result says which. */
  readonly port: number;
  /** Larger bodies are refused with 413 before they are read (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** One line per request: method, path, status, outcome, time. */
  readonly log?: (line: string) => void;
}

export interface VirtualServer {
  /** The endpoint to give clients, e.g. `http://127.0.0.1:8080/virtual` (StableToolBench's SERVICE_URL). */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections, lets the requests in flight finish, then waits for the cache
   * writes. With `force`, requests in flight are aborted (a simulation stops) and sockets closed.
   */
  close(options?: { force?: boolean }): Promise<void>;
}

/** Paths of the endpoint: upstream's `/virtual`, and what a ToolBench client may be pointed at. */
const ENDPOINT_PATHS: ReadonlySet<string> = new Set(['/virtual', '/rapidapi', '/']);
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Longer than the usual client pool's idle timeout, so the server is not the side that hangs up. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** One entry of FastAPI's (pydantic v1) validation `detail` list. */
export interface FieldProblem {
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly type: string;
  readonly ctx?: Readonly<Record<string, PyValue>>;
}

export async function startVirtualServer(options: VirtualServerOptions): Promise<VirtualServer> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const inFlight = new Set<Promise<void>>();
  const aborter = new AbortController();
  let closing = false;

  const server = createServer({ keepAlive: true }, (request, response) => {
    if (closing) response.setHeader('connection', 'close');
    const done = serve(request, response).catch((error: unknown) => {
      // serve() answers every failure itself; reaching here means the socket itself broke
      options.log?.(`${request.method} ${pathOf(request)} failed: ${(error as Error)?.message ?? String(error)}`);
      if (!response.headersSent) send(response, 500, { detail: 'Internal Server Error' });
      else response.destroy();
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = pathOf(request);
    const finish = (status: number, body: unknown, what: string, headers: Record<string, string> = {}): void => {
      send(response, status, body, headers);
      options.log?.(`${request.method} ${path} ${status} ${what} ${(performance.now() - started).toFixed(1)}ms`);
    };
    if (path === '/health') {
      if (request.method === 'GET' || request.method === 'HEAD') return finish(200, { status: 'ok' }, 'health');
      return finish(405, { detail: 'Method Not Allowed' }, 'method_not_allowed', { allow: 'GET, HEAD' });
    }
    if (!ENDPOINT_PATHS.has(path)) return finish(404, { detail: 'Not Found' }, 'not_found');
    if (request.method !== 'POST') return finish(405, { detail: 'Method Not Allowed' }, 'method_not_allowed', { allow: 'POST' });

    const body = await readBody(request, maxBodyBytes);
    if (body === 'too-large') {
      // the rest of the body is never read: answer, then hang up on the sender
      response.once('finish', () => request.socket.destroySoon());
      return finish(413, { detail: `request body larger than ${maxBodyBytes} bytes` }, 'body_too_large', { connection: 'close' });
    }
    const parsed = parseRequest(body);
    if (!parsed.ok) return finish(422, { detail: parsed.detail }, 'validation_error');

    try {
      const outcome = await options.api.handle(parsed.request, { signal: aborter.signal });
      const { category, tool_name: tool, api_name: api } = parsed.request;
      finish(200, outcome.reply, `${outcome.type} ${printable(`${category}/${tool}/${api}`)}`);
    } catch (error) {
      if (error instanceof ToolbenchError && error.code === 'request.unsafe-name') return finish(400, { detail: error.message }, 'unsafe_name');
      const message = (error as Error)?.message ?? String(error);
      const detail = error instanceof ToolbenchError ? error.message : 'Internal Server Error';
      finish(500, { detail }, `internal_error: ${message}`);
    }
  }

  const { port, closed } = await listen(server, options.port, options.host);

  return {
    url: `http://${urlHost(options.host)}:${port}/virtual`,
    port,
    async close(closeOptions = {}) {
      if (!closing) {
        closing = true;
        server.close();
      }
      server.closeIdleConnections();
      if (closeOptions.force) {
        aborter.abort(new ToolbenchError('serve.stopped', 130, 'the server was stopped'));
        server.closeAllConnections();
      }
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      // keep-alive connections that were busy are idle now; nobody will use them again
      server.closeAllConnections();
      await closed;
      await options.api.cache?.settled();
    },
  };
}

/**
 * The request body as a VirtualRequest, or FastAPI's 422 `detail` list. Upstream's model is
 * `category, tool_name, api_name: str; tool_input: Union[str, dict]; strip, toolbench_key: str`.
 */
export function parseRequest(body: string): { ok: true; request: VirtualRequest } | { ok: false; detail: FieldProblem[] } {
  let value: PyValue;
  try {
    value = pyJsonParse(body);
  } catch (error) {
    const position = error instanceof JsonSyntaxError ? error.position : 0;
    const msg = error instanceof JsonSyntaxError ? `expected ${error.expected}: line ${error.line} column ${error.column} (char ${position})` : 'invalid JSON';
    return { ok: false, detail: [{ loc: ['body', position], msg, type: 'value_error.jsondecode' }] };
  }
  if (!isPyObject(value)) return { ok: false, detail: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] };
  const detail: FieldProblem[] = [];
  for (const field of ['category', 'tool_name', 'api_name', 'tool_input', 'strip', 'toolbench_key'] as const) {
    const loc = ['body', field];
    const item = value[field];
    if (item === undefined) detail.push({ loc, msg: 'field required', type: 'value_error.missing' });
    else if (item === null) detail.push({ loc, msg: 'none is not an allowed value', type: 'type_error.none.not_allowed' });
    else if (typeof item === 'string') continue;
    else if (field !== 'tool_input') detail.push({ loc, msg: 'str type expected', type: 'type_error.str' });
    else if (!isPyObject(item)) {
      // pydantic v1 reports one error per member of the Union
      detail.push({ loc, msg: 'str type expected', type: 'type_error.str' }, { loc, msg: 'value is not a valid dict', type: 'type_error.dict' });
    }
  }
  if (detail.length > 0) return { ok: false, detail };
  const { category, tool_name, api_name, tool_input } = value as { category: string; tool_name: string; api_name: string; tool_input: PyValue };
  return { ok: true, request: { category, tool_name, api_name, tool_input } };
}

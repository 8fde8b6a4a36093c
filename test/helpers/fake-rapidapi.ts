/**
 * A scripted stand-in for RapidAPI on 127.0.0.1 (a free port): each path answers with its
 * scripted status, body and delay; every request is recorded with its headers and body.
 * Unscripted paths answer 404. Close it in `after` / `afterEach`.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedReply {
  readonly status?: number;
  readonly body: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  /** Waits this long before answering (for timeouts). */
  readonly delayMs?: number;
}

export interface RecordedRequest {
  readonly method: string;
  /** The raw request target, query included (`/match/7/details?lang=en`). */
  readonly target: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface FakeRapidApi {
  /** `http://127.0.0.1:<port>`, for `baseUrlOverride`. */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** Scripts (or re-scripts) the reply for one path. */
  route(path: string, reply: ScriptedReply): void;
  close(): Promise<void>;
}

export async function startFakeRapidApi(routes: Readonly<Record<string, ScriptedReply>> = {}): Promise<FakeRapidApi> {
  const script = new Map(Object.entries(routes));
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const target = incoming.url ?? '/';
      const url = new URL(target, 'http://fake.invalid');
      requests.push({
        method: incoming.method ?? '',
        target,
        path: url.pathname,
        query: url.searchParams,
        headers: incoming.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const reply = script.get(url.pathname) ?? { status: 404, body: '{"message": "no scripted reply"}' };
      const respond = (): void => {
        outgoing.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
        outgoing.end(reply.body);
      };
      if (reply.delayMs === undefined) return respond();
      const timer = setTimeout(() => {
        timers.delete(timer);
        respond();
      }, reply.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    route: (path, reply) => void script.set(path, reply),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

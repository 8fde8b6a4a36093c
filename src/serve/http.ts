/**
 * What the HTTP servers share: bounded body reading, JSON replies (pyjson, as the Python servers
 * wrote them), and the small pieces of request and URL handling.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pyJsonDumps } from '../util/pyjson.js';

/** Starts listening; resolves with the port it got (for port 0) and a promise of the server's close. */
export async function listen(server: Server, port: number, host: string): Promise<{ port: number; closed: Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  return { port: (server.address() as AddressInfo).port, closed };
}

/** The body as text, or `too-large` as soon as it is known to pass the limit (the rest is not read). */
export function readBody(request: IncomingMessage, maxBytes: number): Promise<string | 'too-large'> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve('too-large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        stop();
        request.pause();
        resolve('too-large');
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    const stop = (): void => {
      request.off('data', onData).off('end', onEnd).off('error', onError);
    };
    request.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

export function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = pyJsonDumps(body);
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

export function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Names from the request as one log line: control characters (a newline) would forge lines. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** A host as it goes in a URL: IPv6 addresses in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

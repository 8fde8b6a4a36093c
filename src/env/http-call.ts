/**
 * One HTTP request with a deadline and retries, for the remote tool servers. Retries happen on
 * 5xx replies and on connection errors, with exponential backoff and jitter; a timeout is not
 * retried (upstream turns it into status 5 at once). The caller's signal cancels everything.
 */
import { request } from 'undici';

export interface HttpRetryOptions {
  readonly timeoutMs: number;
  /** Further attempts after the first (0: none). */
  readonly retries: number;
  /** Delay before the first retry; doubled for each further one, with ±50% jitter. */
  readonly retryBaseMs: number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
}

export type HttpOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly body: string; readonly attempts: number }
  | { readonly kind: 'timeout'; readonly attempts: number }
  | { readonly kind: 'unreachable'; readonly message: string; readonly attempts: number };

export interface HttpRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export async function httpWithRetries(call: HttpRequest, options: HttpRetryOptions): Promise<HttpOutcome> {
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    const outcome = await attemptOnce(call, options, attempt);
    const retryable = outcome.kind === 'unreachable' || (outcome.kind === 'response' && outcome.status >= 500);
    if (!retryable || attempt > options.retries) return outcome;
    const backoff = options.retryBaseMs * 2 ** (attempt - 1) * (0.5 + Math.random());
    await options.sleep(backoff, options.signal);
  }
}

async function attemptOnce(call: HttpRequest, options: HttpRetryOptions, attempts: number): Promise<HttpOutcome> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
  try {
    const response = await request(call.url, {
      method: call.method,
      headers: call.headers,
      body: call.body,
      signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    const body = await response.body.text();
    return { kind: 'response', status: response.statusCode, body, attempts };
  } catch (error) {
    options.signal?.throwIfAborted();
    if (deadline.aborted || isTimeout(error)) return { kind: 'timeout', attempts };
    return { kind: 'unreachable', message: describeNetworkError(error), attempts };
  }
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const own = error as { code?: string; message?: string };
  return [own.message, cause?.code ?? own.code].filter(Boolean).join(': ') || String(error);
}

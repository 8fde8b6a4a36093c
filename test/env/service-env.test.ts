import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import { shapeToolEnv } from '../../src/env/observation.js';
import { createServiceBackend, type ServiceOptions } from '../../src/env/service-env.js';
import type { ApiRef, ToolEnv } from '../../src/env/tool-call.js';
import { ToolbenchError } from '../../src/util/errors.js';

const API: ApiRef = { category: 'Social', tool: 'olato_quotes', api: 'love_quote' };
const KEY = 'tb-key-SECRET-42';

/** What the fake service does with one request. */
type Step = { status: number; body: string; delayMs?: number } | 'hang';

interface ReceivedRequest {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A tool service on 127.0.0.1 that answers from a script; the last step repeats. */
class FakeService {
  readonly requests: ReceivedRequest[] = [];
  private constructor(
    private readonly server: Server,
    private readonly script: readonly Step[],
  ) {}

  static async start(script: readonly Step[]): Promise<FakeService> {
    let service: FakeService | undefined;
    const server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        const self = service as FakeService;
        self.requests.push({ method: request.method, url: request.url, headers: request.headers, body });
        const step = self.script[Math.min(self.requests.length, self.script.length) - 1] ?? 'hang';
        if (step === 'hang') return;
        const send = () => {
          if (response.destroyed) return;
          response.writeHead(step.status, { 'content-type': 'application/json' }).end(step.body);
        };
        if (step.delayMs === undefined) send();
        else setTimeout(send, step.delayMs).unref();
      });
    });
    service = new FakeService(server, script);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return service;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/virtual`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

const services: FakeService[] = [];
async function startService(script: readonly Step[]): Promise<FakeService> {
  const service = await FakeService.start(script);
  services.push(service);
  return service;
}
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.close()));
});

/** A sleep that returns at once and remembers how long it was asked to wait. */
function fakeSleep(): { sleep: ServiceOptions['sleep']; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}

function serviceEnv(url: string, options: Partial<ServiceOptions> = {}): { env: ToolEnv; delays: number[] } {
  const { sleep, delays } = fakeSleep();
  const backend = createServiceBackend({ url, key: KEY, compress: 'truncate', timeoutMs: 5_000, retries: 3, retryBaseMs: 100, sleep, ...options });
  return { env: shapeToolEnv(backend, { maxObservationLength: 1024, rateLimitPauseMs: 0, sleep: async () => {} }), delays };
}

const ok = (body: string): Step => ({ status: 200, body });

describe('service environment request', () => {
  test('POSTs the six body fields of the service protocol, in order, with the key in a toolbench_key header', async () => {
    const service = await startService([ok('{"error": "", "response": "x"}')]);
    const args = '{\n  "vin": "WBA3A5C51CF256985",\n  "note": "caf\u00e9"\n}';
    await serviceEnv(service.url, { compress: 'filter' }).env.call(API, args);
    assert.equal(service.requests.length, 1);
    const [request] = service.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.url, '/virtual');
    assert.equal(request?.headers.toolbench_key, KEY);
    assert.match(request?.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(
      request?.body,
      '{"category": "Social", "tool_name": "olato_quotes", "api_name": "love_quote", ' +
        '"tool_input": "{\\n  \\"vin\\": \\"WBA3A5C51CF256985\\",\\n  \\"note\\": \\"caf\\u00e9\\"\\n}", ' +
        `"strip": "filter", "toolbench_key": "${KEY}"}`,
    );
  });

  test('an empty key (a self-hosted service) is sent as empty header and field', async () => {
    const service = await startService([ok('{"error": "", "response": ""}')]);
    const { sleep } = fakeSleep();
    const backend = createServiceBackend({ url: service.url, key: '', compress: 'truncate', timeoutMs: 5_000, retries: 0, retryBaseMs: 100, sleep });
    assert.equal((await backend.answer(API, '{}')).kind, 'reply');
    assert.equal(service.requests[0]?.headers.toolbench_key, '');
    assert.equal((JSON.parse(service.requests[0]?.body ?? '') as Record<string, unknown>).toolbench_key, '');
  });

  test('tool_input is the arguments text as the model wrote it, even when it is not JSON; strip is the compress setting', async () => {
    const service = await startService([ok('{"error": "", "response": ""}')]);
    await serviceEnv(service.url, { compress: 'random' }).env.call(API, "{'single': quotes}");
    const body = JSON.parse(service.requests[0]?.body ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['category', 'tool_name', 'api_name', 'tool_input', 'strip', 'toolbench_key']);
    assert.equal(body.tool_input, "{'single': quotes}");
    assert.equal(body.strip, 'random');
  });
});

describe('service environment replies', () => {
  test('a 200 reply becomes the pyjson text of the reply, with status 0 for an empty error', async () => {
    const service = await startService([ok('{"response":"caf\u00e9 \ud83d\ude00","error":""}')]);
    const result = await serviceEnv(service.url).env.call(API, '{}');
    assert.deepEqual(result, { observation: '{"response": "caf\\u00e9 \\ud83d\\ude00", "error": ""}', status: 0, source: 'service' });
  });

  test('the error text of a 200 reply gives the status', async () => {
    const cases: readonly (readonly [string, number])[] = [
      ['API not working error...', 6],
      ['Unauthorized error...', 7],
      ['Unsubscribed error...', 8],
      ['Too many requests error...', 9],
      ['Rate limit per minute error...', 10],
      ['Message error...', 11],
      ['Rate limit error...', 0],
    ];
    const service = await startService(cases.map(([error]) => ok(JSON.stringify({ error, response: '' }))));
    const { env } = serviceEnv(service.url);
    for (const [error, status] of cases) assert.equal((await env.call(API, '{}')).status, status, error);
  });

  test('a 200 reply longer than the maximum observation length is cut with "..."', async () => {
    const service = await startService([ok(JSON.stringify({ error: '', response: 'w'.repeat(5000) }))]);
    const result = await serviceEnv(service.url).env.call(API, '{}');
    assert.equal(result.observation.length, 1024 + 3);
    assert.ok(result.observation.endsWith('www...'));
  });

  test('a non-200 status (404) is status 12 with "request invalid, data error. status_code=404" and is not retried', async () => {
    const service = await startService([{ status: 404, body: 'not here' }]);
    const { env, delays } = serviceEnv(service.url);
    assert.deepEqual(await env.call(API, '{}'), {
      observation: '{"error": "request invalid, data error. status_code=404", "response": ""}',
      status: 12,
      source: 'service',
    });
    assert.equal(service.requests.length, 1);
    assert.deepEqual(delays, []);
  });

  test('a 200 body that is not JSON is status 12 with "request invalid, data error"', async () => {
    const service = await startService([ok('<html>oops</html>')]);
    assert.deepEqual(await serviceEnv(service.url).env.call(API, '{}'), {
      observation: '{"error": "request invalid, data error", "response": ""}',
      status: 12,
      source: 'service',
    });
  });

  test('5xx replies are retried with growing backoff, and a later success is the answer', async () => {
    const service = await startService([{ status: 500, body: 'busy' }, { status: 503, body: 'busy' }, ok('{"error": "", "response": "third time"}')]);
    const { env, delays } = serviceEnv(service.url, { retries: 3, retryBaseMs: 100 });
    assert.deepEqual(await env.call(API, '{}'), { observation: '{"error": "", "response": "third time"}', status: 0, source: 'service' });
    assert.equal(service.requests.length, 3);
    assert.equal(delays.length, 2);
    // base * 2^(n-1), with ±50% jitter
    assert.ok((delays[0] as number) >= 50 && (delays[0] as number) <= 150, `first delay ${delays[0]}`);
    assert.ok((delays[1] as number) >= 100 && (delays[1] as number) <= 300, `second delay ${delays[1]}`);
  });

  test('a service that keeps answering 500 gives status 12 after retries + 1 attempts', async () => {
    const service = await startService([{ status: 500, body: 'down' }]);
    const { env, delays } = serviceEnv(service.url, { retries: 2 });
    assert.deepEqual(await env.call(API, '{}'), {
      observation: '{"error": "request invalid, data error. status_code=500", "response": ""}',
      status: 12,
      source: 'service',
    });
    assert.equal(service.requests.length, 3);
    assert.equal(delays.length, 2);
  });

  test('with retries 0 a 500 is answered after one attempt', async () => {
    const service = await startService([{ status: 502, body: '' }]);
    assert.equal((await serviceEnv(service.url, { retries: 0 }).env.call(API, '{}')).status, 12);
    assert.equal(service.requests.length, 1);
  });

  test('a reply slower than the timeout is status 5 "Timeout error..." and is not retried', async () => {
    const service = await startService([{ status: 200, body: '{"error": "", "response": "late"}', delayMs: 3_000 }]);
    const { env, delays } = serviceEnv(service.url, { timeoutMs: 150, retries: 3 });
    const started = Date.now();
    assert.deepEqual(await env.call(API, '{}'), { observation: '{"error": "Timeout error...", "response": ""}', status: 5, source: 'service' });
    assert.ok(Date.now() - started < 2_500, 'gave up at the timeout');
    assert.equal(service.requests.length, 1);
    assert.deepEqual(delays, []);
  });

  test('a service that cannot be reached throws env.unreachable after the retries', async () => {
    const closed = await FakeService.start([]);
    const url = closed.url;
    await closed.close();
    const { env, delays } = serviceEnv(url, { retries: 2 });
    await assert.rejects(env.call(API, '{}'), (error) => error instanceof ToolbenchError && error.code === 'env.unreachable' && error.exitCode === 1);
    assert.equal(delays.length, 2);
  });

  test('the unreachable error does not carry the key', async () => {
    const closed = await FakeService.start([]);
    const url = closed.url;
    await closed.close();
    await assert.rejects(serviceEnv(url, { retries: 0 }).env.call(API, '{}'), (error) => error instanceof ToolbenchError && !error.message.includes(KEY));
  });
});

describe('service environment cancellation', () => {
  test('an already aborted signal stops the call before any request', async () => {
    const service = await startService([ok('{"error": "", "response": "x"}')]);
    const controller = new AbortController();
    const reason = new Error('cancelled by the user');
    controller.abort(reason);
    await assert.rejects(serviceEnv(service.url).env.call(API, '{}', { signal: controller.signal }), (error) => error === reason);
    assert.equal(service.requests.length, 0);
  });

  test('aborting during a request stops it at once with the abort reason (not a timeout observation)', async () => {
    const service = await startService(['hang']);
    const controller = new AbortController();
    const reason = new Error('cancelled by the user');
    const started = Date.now();
    const call = serviceEnv(service.url, { timeoutMs: 10_000 }).env.call(API, '{}', { signal: controller.signal });
    while (service.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(reason);
    await assert.rejects(call, (error) => error === reason);
    assert.ok(Date.now() - started < 5_000);
  });

  test('aborting while waiting to retry stops the retries', async () => {
    const service = await startService([{ status: 500, body: '' }]);
    const controller = new AbortController();
    const reason = new Error('cancelled by the user');
    const backend = createServiceBackend({
      url: service.url,
      key: KEY,
      compress: 'truncate',
      timeoutMs: 5_000,
      retries: 5,
      retryBaseMs: 100,
      sleep: async (_ms, signal) => {
        controller.abort(reason);
        signal?.throwIfAborted();
      },
    });
    await assert.rejects(backend.answer(API, '{}', { signal: controller.signal }), (error) => error === reason);
    assert.equal(service.requests.length, 1);
  });
});

after(async () => {
  await Promise.all(services.splice(0).map((service) => service.close()));
});

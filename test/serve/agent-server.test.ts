/**
 * The `/stream` agent server over HTTP, with a stand-in for the search: the wire format (one
 * pyjson object a line, the last without a newline), request checking, one request at a time,
 * hang-ups and stops.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startAgentServer, type AgentServer } from '../../src/serve/agent-server.js';
import type { StreamRequest } from '../../src/serve/agent-request.js';
import type { StreamEvent } from '../../src/serve/stream-events.js';
import { parseMethod } from '../../src/search/method.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function call(url: string, method: string, body?: string, path = '/stream'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    // a GET body needs its length declared (Node's client does not chunk GET requests)
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const req = httpRequest(target, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A stand-in search: reports two events, then ends; or waits for `release`, or fails. */
class Answerer {
  readonly requests: StreamRequest[] = [];
  readonly signals: AbortSignal[] = [];
  hold: Promise<void> | undefined;
  failWith: string | undefined;

  answer = async (request: StreamRequest, emit: (event: StreamEvent) => void, signal: AbortSignal): Promise<StreamEvent> => {
    this.requests.push(request);
    this.signals.push(signal);
    emit({ method_name: 'on_tool_retrieval_start', block_id: 'recommendation-1' });
    emit({ method_name: 'on_request_start', block_id: 'start', user_input: request.text, method: request.method.name, note: 'naïve' });
    if (this.hold !== undefined) {
      await Promise.race([this.hold, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
    }
    if (this.failWith !== undefined) throw new Error(this.failWith);
    return { method_name: 'on_request_end', block_id: 'end', output: 'the answer', chain: [] };
  };
}

describe('agent server (/stream)', () => {
  let server: AgentServer;
  const answerer = new Answerer();
  const logs: string[] = [];
  before(async () => {
    server = await startAgentServer({
      host: '127.0.0.1',
      port: 0,
      defaults: { method: parseMethod('DFS_woFilter_w2'), topK: 5 },
      retriever: true,
      answer: answerer.answer,
      log: (line) => logs.push(line),
    });
  });
  after(() => server.close({ force: true }));

  test('streams one pyjson object a line; the last has no newline', async () => {
    const reply = await call(server.url, 'POST', JSON.stringify({ text: 'Give me a quote', top_k: 3, method: 'CoT@2' }));
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /ndjson/);
    assert.equal(reply.headers['access-control-allow-origin'], '*');
    assert.equal(
      reply.body,
      '{"method_name": "on_tool_retrieval_start", "block_id": "recommendation-1"}\n' +
        '{"method_name": "on_request_start", "block_id": "start", "user_input": "Give me a quote", "method": "CoT@2", "note": "na\\u00efve"}\n' +
        '{"method_name": "on_request_end", "block_id": "end", "output": "the answer", "chain": []}',
    );
    const request = answerer.requests.at(-1) as StreamRequest;
    assert.deepEqual([request.topK, request.method.name, request.query.apiList], [3, 'CoT@2', undefined]);
  });

  test('GET with a body works as upstream; top_k and method default to the server\'s', async () => {
    const reply = await call(server.url, 'GET', JSON.stringify({ text: 'hello' }));
    assert.equal(reply.status, 200);
    const request = answerer.requests.at(-1) as StreamRequest;
    assert.deepEqual([request.topK, request.method.name], [5, 'DFS_woFilter_w2']);
  });

  test('a request may bring its own api_list (closed domain)', async () => {
    const apiList = [{ category_name: 'Social', tool_name: 'Olato Quotes', api_name: 'Love Quote' }];
    const reply = await call(server.url, 'POST', JSON.stringify({ text: 'love', api_list: apiList }));
    assert.equal(reply.status, 200);
    assert.deepEqual(answerer.requests.at(-1)?.query.apiList?.map((ref) => [ref.categoryName, ref.toolName, ref.apiName]), [['Social', 'Olato Quotes', 'Love Quote']]);
  });

  test('bad bodies get 400 naming the field, before anything runs', async () => {
    const before = answerer.requests.length;
    const cases: [string, RegExp][] = [
      ['{"text": ', /not JSON at line 1/],
      ['[1]', /must be a JSON object/],
      ['{}', /"text": expected the user query/],
      ['{"text": "  "}', /"text"/],
      ['{"text": "x", "top_k": 0}', /"top_k": expected an integer from 1 to 100/],
      ['{"text": "x", "top_k": 2.5}', /"top_k"/],
      ['{"text": "x", "method": 3}', /"method": expected a string/],
      ['{"text": "x", "method": "BFS"}', /"method": .*BFS/],
      ['{"text": "x", "api_list": [{"category_name": "Social", "tool_name": "Q"}]}', /request body: \$\.api_list\[0\]\.api_name/],
    ];
    for (const [body, expected] of cases) {
      const reply = await call(server.url, 'POST', body);
      assert.equal(reply.status, 400, body);
      assert.match((JSON.parse(reply.body) as { error: string }).error, expected, body);
    }
    assert.equal(answerer.requests.length, before);
  });

  test('one request at a time: a second gets 409 while the first runs', async () => {
    let release = (): void => {};
    answerer.hold = new Promise((resolve) => (release = resolve));
    const first = call(server.url, 'POST', JSON.stringify({ text: 'slow' }));
    while (answerer.requests.at(-1)?.text !== 'slow') await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await call(server.url, 'POST', JSON.stringify({ text: 'fast' }));
    assert.equal(second.status, 409);
    assert.match(second.body, /one at a time/);
    const health = await call(server.url, 'GET', undefined, '/health');
    assert.deepEqual(JSON.parse(health.body), { status: 'ok', busy: true });
    release();
    answerer.hold = undefined;
    assert.equal((await first).status, 200);
    assert.equal((await call(server.url, 'POST', JSON.stringify({ text: 'after' }))).status, 200);
  });

  test('a failure mid-stream ends the stream with on_request_error', async () => {
    answerer.failWith = 'the model went away';
    const reply = await call(server.url, 'POST', JSON.stringify({ text: 'x' }));
    answerer.failWith = undefined;
    const lines = reply.body.split('\n');
    assert.deepEqual(JSON.parse(lines.at(-1) as string), { method_name: 'on_request_error', block_id: 'error', error: 'the model went away' });
    assert.ok(!reply.body.endsWith('\n'));
  });

  test('a client that hangs up stops its search', async () => {
    answerer.hold = new Promise(() => {});
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(new URL(server.url), { method: 'POST' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.once('error', reject);
      req.end(JSON.stringify({ text: 'hang up' }));
    });
    const signal = answerer.signals.at(-1) as AbortSignal;
    for (let i = 0; i < 100 && !signal.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(signal.aborted, 'the search was stopped');
    answerer.hold = undefined;
    // the server is free again
    for (let i = 0; i < 100; i++) {
      const reply = await call(server.url, 'POST', JSON.stringify({ text: 'next' }));
      if (reply.status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.fail('the server stayed busy after the client hung up');
  });

  test('/methods, /health, preflight, unknown paths and methods', async () => {
    assert.deepEqual(JSON.parse((await call(server.url, 'GET', undefined, '/methods')).body), { methods: ['DFS_woFilter_w2', 'DFS_wFilter_w2', 'CoT@1'] });
    const preflight = await call(server.url, 'OPTIONS');
    assert.equal(preflight.status, 204);
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
    assert.equal((await call(server.url, 'GET', undefined, '/nowhere')).status, 404);
    assert.equal((await call(server.url, 'PUT', '{}')).status, 405);
    assert.equal((await call(server.url, 'POST', '{}', '/methods')).status, 405);
  });
});

describe('agent server without a retriever', () => {
  test('a request without api_list is refused with the way out', async () => {
    const server = await startAgentServer({
      host: '127.0.0.1',
      port: 0,
      defaults: { method: parseMethod('DFS_woFilter_w2'), topK: 5 },
      retriever: false,
      answer: new Answerer().answer,
    });
    try {
      const reply = await call(server.url, 'POST', JSON.stringify({ text: 'x' }));
      assert.equal(reply.status, 400);
      assert.match(reply.body, /api_list.*--retriever/);
    } finally {
      await server.close();
    }
  });

});

describe('agent server: stopping', () => {
  const start = (answerer: Answerer) => startAgentServer({ host: '127.0.0.1', port: 0, defaults: { method: parseMethod('CoT@1'), topK: 5 }, retriever: true, answer: answerer.answer });

  test('close({force}) stops the request in flight; its stream ends with an error event', async () => {
    const answerer = new Answerer();
    answerer.hold = new Promise(() => {});
    const server = await start(answerer);
    const reply = call(server.url, 'POST', JSON.stringify({ text: 'x' }));
    while (answerer.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await server.close({ force: true });
    const body = (await reply).body;
    assert.match(body.split('\n').at(-1) as string, /on_request_error.*the server was stopped/);
  });

  test('close() without force waits for the request in flight, which ends normally; later requests are refused', async () => {
    const answerer = new Answerer();
    let release = (): void => {};
    answerer.hold = new Promise((resolve) => (release = resolve));
    const server = await start(answerer);
    const reply = call(server.url, 'POST', JSON.stringify({ text: 'x' }));
    while (answerer.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(closed, false, 'close() waits for the request');
    release();
    await closing;
    assert.match((await reply).body.split('\n').at(-1) as string, /on_request_end/);
    // refused, or a kept-alive socket that the server has closed
    await assert.rejects(call(server.url, 'POST', JSON.stringify({ text: 'y' })), /ECONNREFUSED|socket hang up|ECONNRESET/);
  });
});

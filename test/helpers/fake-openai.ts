/**
 * A loopback OpenAI-compatible server for tests: the simulator, the search backbones and the
 * ToolEval judge talk to it through the real `openai` package, so request bodies, headers,
 * retries and timeouts are exercised as in production.
 *
 * Routes: `POST /v1/chat/completions`, `/chat/completions`, `/v1/completions`, `/completions`.
 * Each request takes the next scripted reply (a queue), or asks a handler. Every request is
 * recorded. A script that runs out answers 500 with a message naming the call, so a test that
 * makes one call too many fails loudly.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeToolCall {
  readonly id?: string;
  readonly type?: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export interface FakeUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** One choice of a completion. For `/completions`, `text` (or else `content`) is the text. */
export interface FakeChoice {
  readonly content?: string | null;
  readonly text?: string;
  readonly tool_calls?: readonly FakeToolCall[];
  readonly function_call?: { readonly name: string; readonly arguments: string };
  readonly finish_reason?: string;
}

/** A successful completion: one choice given inline, or several in `choices`. */
export interface FakeCompletion extends FakeChoice {
  readonly choices?: readonly FakeChoice[];
  readonly usage?: FakeUsage;
  readonly model?: string;
  readonly delayMs?: number;
}

/** An HTTP error: `body` is sent as JSON (an OpenAI error object when absent), or as is if a string. */
export interface FakeHttpError {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly delayMs?: number;
}

/** Drops the connection without answering (after `delayMs`, if given). */
export interface FakeDisconnect {
  readonly destroy: true;
  readonly delayMs?: number;
}

/** `{ delayMs }` alone waits, then answers an empty completion: for timeouts and aborts. */
export type FakeReply = FakeCompletion | FakeHttpError | FakeDisconnect;

export interface RecordedRequest {
  readonly method: string;
  /** The path without the query string, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body (`undefined` when it was not JSON). */
  readonly body: any;
  readonly rawBody: string;
}

export type FakeHandler = (body: any, callIndex: number, request: RecordedRequest) => FakeReply | Promise<FakeReply>;

export interface FakeOpenAI {
  /** e.g. `http://127.0.0.1:PORT/v1`: what to pass as the client's base URL. */
  readonly baseUrl: string;
  /** e.g. `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly requests: readonly RecordedRequest[];
  /** Appends replies to the queue (queue scripts only). */
  enqueue(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

const CREATED = 1_700_000_000; // fixed, so snapshots of responses are stable
const CHAT_PATHS = new Set(['/v1/chat/completions', '/chat/completions']);
const TEXT_PATHS = new Set(['/v1/completions', '/completions']);

export async function startFakeOpenAI(script: readonly FakeReply[] | FakeHandler = []): Promise<FakeOpenAI> {
  const queue: FakeReply[] = typeof script === 'function' ? [] : [...script];
  const handler = typeof script === 'function' ? script : undefined;
  const requests: RecordedRequest[] = [];

  const server = createServer((request, response) => {
    void serve(request, response).catch((error: unknown) => {
      if (!response.headersSent && !response.destroyed) sendJson(response, 500, errorBody(`fake-openai: ${String(error)}`));
    });
  });

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const rawBody = await readBody(request);
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const recorded: RecordedRequest = {
      method: request.method ?? '',
      path,
      headers: request.headers,
      body: parseJson(rawBody),
      rawBody,
    };
    const isChat = CHAT_PATHS.has(path);
    if (request.method !== 'POST' || (!isChat && !TEXT_PATHS.has(path))) {
      sendJson(response, 404, errorBody(`fake-openai: no route ${request.method} ${path}`));
      return;
    }
    const callIndex = requests.length;
    requests.push(recorded);
    if (recorded.body === undefined) {
      sendJson(response, 400, errorBody('fake-openai: the body is not JSON'));
      return;
    }
    if (recorded.body.stream === true) {
      sendJson(response, 400, errorBody('fake-openai: streaming is not scripted'));
      return;
    }
    const reply = handler !== undefined ? await handler(recorded.body, callIndex, recorded) : queue.shift();
    if (reply === undefined) {
      sendJson(response, 500, errorBody(`fake-openai: no scripted reply for call #${callIndex + 1}`));
      return;
    }
    if (reply.delayMs !== undefined && reply.delayMs > 0) await waitUnlessClosed(reply.delayMs, response);
    if (response.destroyed) return; // the client gave up (timeout or abort)
    if ('destroy' in reply) {
      request.socket.destroy();
      return;
    }
    if ('status' in reply) {
      const body = reply.body ?? errorBody(`fake-openai: scripted HTTP ${reply.status}`);
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const type = typeof body === 'string' ? 'text/plain' : 'application/json';
      response.writeHead(reply.status, { 'content-type': type, ...reply.headers });
      response.end(text);
      return;
    }
    sendJson(response, 200, isChat ? chatCompletion(reply, recorded.body, callIndex) : textCompletion(reply, recorded.body, callIndex));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    baseUrl: `${origin}/v1`,
    origin,
    requests,
    enqueue(...replies: FakeReply[]): void {
      if (handler !== undefined) throw new Error('fake-openai: enqueue() needs a queue script, not a handler');
      queue.push(...replies);
    },
    close(): Promise<void> {
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** A ChatCompletion as the OpenAI API returns it. */
function chatCompletion(reply: FakeCompletion, body: any, callIndex: number): unknown {
  const choices = reply.choices ?? [reply];
  return {
    id: `chatcmpl-fake-${callIndex + 1}`,
    object: 'chat.completion',
    created: CREATED,
    model: reply.model ?? body.model ?? 'fake-model',
    choices: choices.map((choice, index) => ({
      index,
      message: {
        role: 'assistant',
        content: choice.content !== undefined ? choice.content : choice.tool_calls || choice.function_call ? null : '',
        refusal: null,
        ...(choice.tool_calls
          ? {
              tool_calls: choice.tool_calls.map((call, callNumber) => ({
                id: call.id ?? `call_fake_${callIndex + 1}_${callNumber}`,
                type: call.type ?? 'function',
                function: call.function,
              })),
            }
          : {}),
        ...(choice.function_call ? { function_call: choice.function_call } : {}),
      },
      logprobs: null,
      finish_reason: choice.finish_reason ?? (choice.tool_calls ? 'tool_calls' : choice.function_call ? 'function_call' : 'stop'),
    })),
    usage: reply.usage ?? estimateUsage(body.messages, choices.map((choice) => choice.content ?? '').join('')),
  };
}

/** A text Completion (`/v1/completions`). */
function textCompletion(reply: FakeCompletion, body: any, callIndex: number): unknown {
  const choices = reply.choices ?? [reply];
  const texts = choices.map((choice) => choice.text ?? choice.content ?? '');
  return {
    id: `cmpl-fake-${callIndex + 1}`,
    object: 'text_completion',
    created: CREATED,
    model: reply.model ?? body.model ?? 'fake-model',
    choices: choices.map((choice, index) => ({
      text: texts[index],
      index,
      logprobs: null,
      finish_reason: choice.finish_reason ?? 'stop',
    })),
    usage: reply.usage ?? estimateUsage(body.prompt, texts.join('')),
  };
}

/** Deterministic stand-in counts: about four characters a token. */
function estimateUsage(prompt: unknown, completion: string): FakeUsage {
  const promptTokens = Math.ceil(JSON.stringify(prompt ?? '').length / 4);
  const completionTokens = Math.ceil(completion.length / 4);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

function errorBody(message: string): unknown {
  return { error: { message, type: 'fake_error', param: null, code: null } };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Waits `ms`, or less when the client closes the connection first. */
function waitUnlessClosed(ms: number, response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      response.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    response.on('close', done);
  });
}

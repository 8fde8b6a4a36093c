import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { clientRedactor, createOpenAIClient, PLACEHOLDER_API_KEY } from '../../src/llm/openai-client.js';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai.js';

const ENVIRONMENT = {
  OPENAI_API_KEY: 'sk-from-the-environment-0123456789',
  OPENAI_BASE_URL: 'http://127.0.0.1:9/from-the-environment',
  OPENAI_ORG_ID: 'org-from-the-environment',
  OPENAI_PROJECT_ID: 'proj-from-the-environment',
  OPENAI_LOG: 'debug',
};

let server: FakeOpenAI;
const saved = new Map<string, string | undefined>();
before(async () => {
  server = await startFakeOpenAI();
  for (const [name, value] of Object.entries(ENVIRONMENT)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
});
after(async () => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await server.close();
});
let offset = 0;
afterEach(() => {
  offset = server.requests.length;
});

test('the client takes nothing from the environment and logs nothing', async () => {
  const client = createOpenAIClient({ baseUrl: server.baseUrl, apiKey: 'sk-given-0123456789', maxRetries: 0, timeoutMs: 5_000 });
  assert.equal(client.logLevel, 'off');
  assert.equal(client.maxRetries, 0);
  assert.equal(client.timeout, 5_000);
  server.enqueue({ content: 'ok' });
  const messages: [{ role: 'user'; content: string }] = [{ role: 'user', content: 'hi' }];
  await client.chat.completions.create({ model: 'm', messages });
  const [request] = server.requests.slice(offset);
  assert.ok(request);
  assert.equal(request.path, '/v1/chat/completions');
  assert.equal(request.headers.authorization, 'Bearer sk-given-0123456789');
  assert.equal(request.headers['openai-organization'], undefined);
  assert.equal(request.headers['openai-project'], undefined);
});

test('an empty key sends the placeholder; retries and fetch are the ones given', async () => {
  const seen: string[] = [];
  const client = createOpenAIClient({
    baseUrl: server.baseUrl,
    apiKey: '',
    maxRetries: 1,
    fetch: (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    },
  });
  server.enqueue({ status: 500, headers: { 'retry-after-ms': '1' } }, { content: 'ok' });
  await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  const requests = server.requests.slice(offset);
  assert.equal(requests.length, 2);
  assert.equal(requests[0]?.headers.authorization, `Bearer ${PLACEHOLDER_API_KEY}`);
  assert.deepEqual(seen, [`${server.baseUrl}/chat/completions`, `${server.baseUrl}/chat/completions`]);
});

test('clientRedactor removes the key and the URL credentials, never the placeholder', () => {
  const redact = clientRedactor({ baseUrl: 'https://alice:p%40ss-word@example.com/v1', apiKey: 'local-key-1234' });
  assert.equal(
    redact('local-key-1234 at https://alice:p%40ss-word@example.com/v1 (password p@ss-word)'),
    '*** at https://example.com/v1 (password ***)',
  );
  assert.equal(clientRedactor({ baseUrl: undefined, apiKey: PLACEHOLDER_API_KEY })('key EMPTY refused'), 'key EMPTY refused');
  assert.equal(clientRedactor({ baseUrl: undefined, apiKey: undefined })('sk-proj-abcdefgh12345678'), 'sk-***');
});

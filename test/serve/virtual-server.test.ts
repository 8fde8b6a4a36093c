import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { registerServeCommand } from '../../src/cli/serve-command.js';
import type { StopSignal, StopSignals } from '../../src/cli/serve-tools.js';
import { ResponseCache } from '../../src/env/response-cache.js';
import type { SimulationRequest, SimulationResult } from '../../src/env/simulator.js';
import { VirtualApi } from '../../src/env/virtual-api.js';
import { startVirtualServer, type VirtualServer } from '../../src/serve/virtual-server.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { pyStr } from '../../src/util/pyrepr.js';

// The stored reply keeps what Python would print back: an integral float, a big integer, unicode
// (written with \u escapes, as json.dumps does) and a key order that is not alphabetical.
const STORED_REPLY_TEXT = '{"error": "", "response": {"zeta": 1.0, "alpha": "caf\\u00e9 \\u2603 \\ud83d\\ude00", "big": 12345678901234567890, "1": [2.5e-07, true, null]}}';
const HIT_INPUT_TEXT = '{"artist": "Bj\\u00f6rk", "limit": 5, "ratio": 1.0}';
const HIT_KEY = "{'artist': 'Björk', 'limit': 5, 'ratio': 1.0}";
const CACHE_FILE = join('Data', 'theclique_for_Data', 'songkick_concert.json');

interface Reply {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
}

async function post(url: string, body: string, path = '/virtual'): Promise<Reply> {
  const response = await fetch(new URL(path, url), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** A request body written by hand, so that `tool_input` can hold `1.0` exactly as sent. */
function body(fields: { category?: string; tool_name?: string; api_name?: string; tool_input?: string; rawToolInput?: string }): string {
  const toolInput = fields.rawToolInput ?? JSON.stringify(fields.tool_input ?? '{}');
  return (
    `{"category": ${JSON.stringify(fields.category ?? 'Data')}, "tool_name": ${JSON.stringify(fields.tool_name ?? 'theclique')}, ` +
    `"api_name": ${JSON.stringify(fields.api_name ?? 'Songkick concert')}, "tool_input": ${toolInput}, "strip": "truncate", "toolbench_key": "SECRET-KEY-123"}`
  );
}

/** A simulator double: answers every input with a reply naming it, after `delayMs`. */
function fakeSimulator(delayMs = 0): { simulate: (request: SimulationRequest) => Promise<SimulationResult>; calls: SimulationRequest[] } {
  const calls: SimulationRequest[] = [];
  return {
    calls,
    async simulate(request) {
      calls.push(request);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { ok: true, reply: { error: '', response: `simulated ${pyStr(request.toolInput)}` }, attempts: 1 };
    },
  };
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(root, join(entry.parentPath, entry.name))).sort();
}

describe('serve tools: the virtual API over HTTP', () => {
  let temp: string;
  let cacheRoot: string;
  let server: VirtualServer;
  let simulator: ReturnType<typeof fakeSimulator>;
  const logLines: string[] = [];

  before(async () => {
    temp = await mkdtemp(join(tmpdir(), 'toolbench-serve-'));
    cacheRoot = join(temp, 'cache');
    await mkdir(join(cacheRoot, 'Data', 'theclique_for_Data'), { recursive: true });
    const entries = `{\n    ${JSON.stringify(HIT_KEY)}: ${STORED_REPLY_TEXT},\n    "{}": {"error": "", "response": "no arguments"}\n}`;
    await writeFile(join(cacheRoot, CACHE_FILE), entries);
    simulator = fakeSimulator(5);
    const api = new VirtualApi({ cache: new ResponseCache(cacheRoot), save: true, simulator, warn: () => undefined });
    server = await startVirtualServer({ api, host: '127.0.0.1', port: 0, maxBodyBytes: 4096, log: (line) => logLines.push(line) });
  });

  after(async () => {
    await server.close();
    await rm(temp, { recursive: true, force: true });
  });

  test('a cache hit returns the stored reply as Python would write it (1.0, unicode, key order, big ints)', async () => {
    const reply = await post(server.url, body({ rawToolInput: JSON.stringify(HIT_INPUT_TEXT) }));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'application/json');
    assert.equal(reply.text, STORED_REPLY_TEXT);
  });

  test('tool_input as an object gives the same cache key as the same text', async () => {
    const reply = await post(server.url, body({ rawToolInput: HIT_INPUT_TEXT }));
    assert.equal(reply.status, 200);
    assert.equal(reply.text, STORED_REPLY_TEXT);
  });

  test('an empty tool_input is {} and hits the "{}" entry', async () => {
    const reply = await post(server.url, body({ tool_input: '' }));
    assert.equal(reply.text, '{"error": "", "response": "no arguments"}');
  });

  test('tool_input that is not JSON gets the parse error reply', async () => {
    const reply = await post(server.url, body({ tool_input: '{"artist": ' }));
    assert.equal(reply.status, 200);
    assert.deepEqual(pyJsonParse(reply.text), { error: 'Tool input parse error...\n', response: '' });
  });

  test('chat_with_user is answered without the cache or the simulator', async () => {
    const reply = await post(server.url, body({ api_name: 'chat_with_user', tool_input: '{"q": 1}' }));
    assert.deepEqual(pyJsonParse(reply.text), { error: '', response: 'Chat with user.' });
  });

  test('the routes of ToolBench clients (/rapidapi, /) answer too; GET /health is ok', async () => {
    for (const path of ['/rapidapi', '/']) assert.equal((await post(server.url, body({ tool_input: '' }), path)).status, 200);
    const health = await fetch(new URL('/health', server.url));
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
  });

  test('a miss is simulated, answered and added to the cache file in the StableToolBench format', async () => {
    const before = simulator.calls.length;
    const reply = await post(server.url, body({ api_name: 'new api', tool_input: '{"q": "x", "n": 2.0}' }));
    assert.equal(reply.status, 200);
    assert.equal(reply.text, `{"error": "", "response": "simulated {'q': 'x', 'n': 2.0}"}`);
    assert.equal(simulator.calls.length, before + 1);
    const text = await readFile(join(cacheRoot, 'Data', 'theclique_for_Data', 'new_api.json'), 'utf8');
    assert.equal(text, `{\n    "{'q': 'x', 'n': 2.0}": {\n        "error": "",\n        "response": "simulated {'q': 'x', 'n': 2.0}"\n    }\n}`);
    // now a hit: the simulator is not asked again
    await post(server.url, body({ api_name: 'new api', tool_input: '{"q": "x", "n": 2.0}' }));
    assert.equal(simulator.calls.length, before + 1);
  });

  test('a body that is not a valid request gets FastAPI 422 details', async () => {
    const missing = await post(server.url, '{"tool_name": "t", "api_name": "a", "tool_input": "{}", "strip": "", "toolbench_key": ""}');
    assert.equal(missing.status, 422);
    assert.deepEqual(JSON.parse(missing.text), { detail: [{ loc: ['body', 'category'], msg: 'field required', type: 'value_error.missing' }] });

    const wrongTypes = await post(server.url, body({ category: 'Data', rawToolInput: '[1]' }).replace('"strip": "truncate"', '"strip": 3'));
    assert.equal(wrongTypes.status, 422);
    assert.deepEqual(
      (JSON.parse(wrongTypes.text) as { detail: { loc: string[]; type: string }[] }).detail.map((item) => [item.loc.join('.'), item.type]),
      [
        ['body.tool_input', 'type_error.str'],
        ['body.tool_input', 'type_error.dict'],
        ['body.strip', 'type_error.str'],
      ],
    );
    for (const text of ['{"category": ', 'not json', '', '[1, 2]']) {
      const reply = await post(server.url, text);
      assert.equal(reply.status, 422, text);
      assert.equal((JSON.parse(reply.text) as { detail: { loc: unknown[] }[] }).detail[0]?.loc[0], 'body');
    }
  });

  test('a body over the limit gets 413, declared or streamed', async () => {
    const large = body({ tool_input: 'x'.repeat(5000) });
    assert.equal((await post(server.url, large)).status, 413);
    const streamed = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(new URL('/virtual', server.url), { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      for (let chunk = 0; chunk < 5; chunk++) request.write('x'.repeat(1000));
      request.end();
    });
    assert.equal(streamed, 413);
  });

  test('unknown paths get 404 and other methods on /virtual 405', async () => {
    assert.equal((await post(server.url, body({}), '/nope')).status, 404);
    const get = await fetch(server.url);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  test('names that would leave the cache folder get 400 and write nothing outside it', async () => {
    const before = await filesUnder(temp);
    const attempts = [
      { category: '..', tool_name: 'x' },
      { category: '.', tool_name: 'x' },
      { category: 'Data', tool_name: '../../etc_for_Data' },
      { category: 'Data', tool_name: '..\\..\\etc_for_Data' },
      { category: 'Data', tool_name: 'a\u0000b_for_Data' },
    ];
    for (const attempt of attempts) {
      const reply = await post(server.url, body({ ...attempt, tool_input: '{"q": 1}' }));
      assert.equal(reply.status, 400, JSON.stringify(attempt));
      assert.equal(typeof (JSON.parse(reply.text) as { detail: unknown }).detail, 'string');
    }
    // names that only look like paths: standardize_category makes a slash `_`, and `.._for_Data`
    // is one folder name; whatever is written for them stays inside the cache
    await post(server.url, body({ category: 'Data/../..', tool_input: '{"q": 1}' }));
    await post(server.url, body({ category: 'Data', tool_name: '.._for_Data', tool_input: '{"q": 1}' }));
    const created = (await filesUnder(temp)).filter((file) => !before.includes(file));
    assert.ok(created.every((file) => file.startsWith(`cache${'/'}`)), created.join(', '));
  });

  test('64 concurrent misses on the same API all end up in its cache file', async () => {
    const replies = await Promise.all(
      Array.from({ length: 64 }, (_, index) => post(server.url, body({ api_name: 'busy api', tool_input: `{"index": ${index}}` }))),
    );
    assert.deepEqual(new Set(replies.map((reply) => reply.status)), new Set([200]));
    const stored = pyJsonParse(await readFile(join(cacheRoot, 'Data', 'theclique_for_Data', 'busy_api.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(Object.keys(stored).length, 64);
    for (let index = 0; index < 64; index++) assert.ok(`{'index': ${index}}` in stored, `entry ${index} lost`);
  });

  test('every request is logged in one line, never with the toolbench key', () => {
    assert.ok(logLines.some((line) => /^POST \/virtual 200 cached_real_response Data\/theclique\/Songkick concert \d+\.\dms$/.test(line)), logLines[0]);
    assert.ok(logLines.some((line) => line.startsWith('POST /virtual 422 validation_error')));
    assert.ok(logLines.every((line) => !line.includes('SECRET-KEY')));
  });
});

test('close() waits for the requests in flight and their cache writes, and refuses new connections', async () => {
  const temp = await mkdtemp(join(tmpdir(), 'toolbench-serve-close-'));
  try {
    const api = new VirtualApi({ cache: new ResponseCache(temp), save: true, simulator: fakeSimulator(200), warn: () => undefined });
    await mkdir(join(temp, 'Data', 'theclique_for_Data'), { recursive: true });
    const server = await startVirtualServer({ api, host: '127.0.0.1', port: 0 });
    const inFlight = post(server.url, body({ tool_input: '{"slow": true}' }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close();
    await assert.rejects(post(server.url, body({})));
    assert.equal((await inFlight).status, 200);
    await closing;
    const stored = await readFile(join(temp, CACHE_FILE), 'utf8');
    assert.match(stored, /"\{'slow': True\}"/);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
});

/** A stand-in for the process's signals: the test sends them. */
function scriptedSignals(): StopSignals & { send(signal: StopSignal): void; listening(): number } {
  const handlers = new Set<(signal: StopSignal) => void>();
  return {
    listen(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    send: (signal) => handlers.forEach((handler) => handler(signal)),
    listening: () => handlers.size,
  };
}

async function startCli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  let announce: (line: string) => void = () => undefined;
  const listening = new Promise<string>((resolve) => (announce = resolve));
  const io = {
    stdout: { write: (text: string) => ((stdout += text), stdout.includes('\n') && announce(stdout)) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { NO_COLOR: '1', ...env },
  };
  const signals = scriptedSignals();
  const program = new Command('toolbench').exitOverride().configureOutput({ writeOut: io.stdout.write, writeErr: io.stderr.write });
  registerServeCommand(program, io, { partial: false }, signals);
  const done = program.parseAsync(['serve', 'tools', ...args], { from: 'user' });
  const first = await Promise.race([listening, done.then(() => assert.fail(`stopped early: ${stderr}`))]);
  return { signals, done, stderr: () => stderr, listening: pyJsonParse(first.trim()) as { url: string; port: number } };
}

describe('toolbench serve tools (command)', () => {
  let temp: string;
  before(async () => {
    temp = await mkdtemp(join(tmpdir(), 'toolbench-serve-cli-'));
    await mkdir(join(temp, 'cache', 'Social', 'olato_quotes_for_Social'), { recursive: true });
    await writeFile(join(temp, 'cache', 'Social', 'olato_quotes_for_Social', 'love_quote.json'), '{\n    "{}": {"error": "", "response": "love"}\n}');
  });
  after(() => rm(temp, { recursive: true, force: true }));

  test('starts with --port 0 --json, answers, and stops on SIGINT with exit code 130', async () => {
    const cli = await startCli(['--cache', join(temp, 'cache'), '--port', '0', '--json']);
    assert.match(cli.listening.url, /^http:\/\/127\.0\.0\.1:\d+\/virtual$/);
    assert.ok(cli.listening.port > 0);
    assert.match(cli.stderr(), /serving the virtual API on http:\/\/127\.0\.0\.1:\d+\/virtual \(cache .*cache, tools none\)/);
    const reply = await post(cli.listening.url, '{"category": "Social", "tool_name": "olato_quotes", "api_name": "love_quote", "tool_input": "{}", "strip": "", "toolbench_key": ""}');
    assert.equal(reply.text, '{"error": "", "response": "love"}');
    cli.signals.send('SIGINT');
    await assert.rejects(cli.done, (error: unknown) => error instanceof ToolbenchError && error.exitCode === 130);
    assert.equal(cli.signals.listening(), 0);
    await assert.rejects(fetch(cli.listening.url, { method: 'POST', body: '{}' }));
  });

  test('port and host come from the config file (upstream config.yml keys) and SIGTERM stops it cleanly', async () => {
    const config = join(temp, 'config.yml');
    await writeFile(config, `port: 0\nhost: 127.0.0.1\ncache_folder: ${JSON.stringify(join(temp, 'cache'))}\nlog_file: ./server.log\n`);
    const cli = await startCli(['--config', config, '--json', '--quiet']);
    assert.ok(cli.listening.port > 0);
    assert.doesNotMatch(cli.stderr(), /unknown setting (port|host)/);
    assert.match(cli.stderr(), /unknown setting log_file/);
    cli.signals.send('SIGTERM');
    await cli.done;
    assert.match(cli.stderr(), /SIGTERM: the server has stopped/);
  });

  test('a port in use is reported as such (exit 1)', async () => {
    const first = await startCli(['--cache', join(temp, 'cache'), '--port', '0', '--json', '--quiet']);
    const second = new Command('toolbench').exitOverride();
    registerServeCommand(second, { stdout: { write: () => true }, stderr: { write: () => true }, env: {} }, { partial: false }, scriptedSignals());
    await assert.rejects(
      second.parseAsync(['serve', 'tools', '--port', String(first.listening.port)], { from: 'user' }),
      (error: unknown) => error instanceof ToolbenchError && error.code === 'serve.port-in-use' && error.exitCode === 1,
    );
    first.signals.send('SIGTERM');
    await first.done;
  });
});

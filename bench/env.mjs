// Tool environment benchmark: the virtual API's response cache in process, `serve tools` over
// loopback HTTP, and lost writes when several processes add entries to the same cache files.
//
//   node --import tsx bench/env.mjs          (no data needed: a 100,000-entry cache is generated)
//
// Targets: a cache hit < 1 ms of our own time; serve >= 2,000 req/s with p99 < 20 ms on 2 cores;
// 0 lost writes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { Pool } from 'undici';
import { registerServeCommand } from '../src/cli/serve-command.ts';
import { PROCESS_STOP_SIGNALS } from '../src/cli/serve-tools.ts';
import { shapeToolEnv } from '../src/env/observation.ts';
import { ResponseCache, parseCacheFile } from '../src/env/response-cache.ts';
import { VirtualApi, createVirtualBackend } from '../src/env/virtual-api.ts';
import { pyJsonDumps } from '../src/util/pyjson.ts';
import { orderedObject } from '../src/util/py-value.ts';
import { pyRepr } from '../src/util/pyrepr.ts';

const CATEGORIES = 10; // x 10 tools x 10 APIs = 1,000 cache files
const TOOLS = 10;
const APIS = 10;
const KEYS = 100; // per file: 100,000 entries
const SERVE_SECONDS = 5;
const WRITER_PROCESSES = 4;
const WRITERS_PER_PROCESS = 16;
const WRITES_PER_WRITER = 25;
const WRITE_FILES = 4;

// ---------------------------------------------------------------------------------------------
// The fixture: StableToolBench's layout, replies shaped like real ones (a pyrepr text, ~300 bytes).

function apiRefOf(index) {
  const api = index % APIS;
  const tool = Math.floor(index / APIS) % TOOLS;
  const category = Math.floor(index / (APIS * TOOLS));
  return { category: `Category${category}`, tool: `tool_${category}_${tool}`, api: `get_item_${api}` };
}
const argsOf = (key) => `{"query": "item ${key}", "page": ${key % 7}, "ratio": 1.0}`;
const keyOf = (key) => `{'query': 'item ${key}', 'page': ${key % 7}, 'ratio': 1.0}`;

function replyOf(file, key) {
  const results = [0, 1, 2].map((rank) => ({ id: file * 1000 + key * 10 + rank, name: `Item ${key}-${rank} café`, score: 1.0 - rank / 10, tags: ['a', 'b'] }));
  return { error: '', response: pyRepr({ status: 'success', total: 3, results, next: null }) };
}

function buildCache(root) {
  for (let file = 0; file < CATEGORIES * TOOLS * APIS; file++) {
    const { category, tool, api } = apiRefOf(file);
    const folder = join(root, category, `${tool}_for_${category}`);
    mkdirSync(folder, { recursive: true });
    const entries = Array.from({ length: KEYS }, (_, key) => [keyOf(key), replyOf(file, key)]);
    writeFileSync(join(folder, `${api}.json`), pyJsonDumps(orderedObject(entries), { indent: 4 }));
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers.

function summary(latencies, elapsedMs) {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  const round = (value) => Math.round(value * 10_000) / 10_000;
  return { calls: sorted.length, perSecond: Math.round((sorted.length / elapsedMs) * 1000), meanMs: round(mean), p50Ms: round(at(0.5)), p99Ms: round(at(0.99)) };
}

/** `total` calls of `call(index)` by `concurrency` callers; latency of each call in ms. */
async function drive(concurrency, total, call) {
  const latencies = new Float64Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let index = next++; index < total; index = next++) {
        const begin = performance.now();
        await call(index);
        latencies[index] = performance.now() - begin;
      }
    }),
  );
  return summary(latencies, performance.now() - started);
}

/** A pseudo-random (file, key) pair for call `index`; the same sequence in every run. */
function pick(index) {
  const mixed = Math.imul(index + 1, 2654435761) >>> 0;
  return { file: mixed % (CATEGORIES * TOOLS * APIS), key: (mixed >>> 10) % KEYS };
}

// ---------------------------------------------------------------------------------------------
// (a) in process, (b) over HTTP, (c) lost writes.

async function inProcess(root) {
  const api = new VirtualApi({ cache: new ResponseCache(root), save: false, warn: (message) => console.error(message) });
  const env = shapeToolEnv(createVirtualBackend(api), { maxObservationLength: 1024, rateLimitPauseMs: 0, sleep: async () => undefined });
  const call = async (index) => {
    const { file, key } = pick(index);
    const result = await env.call(apiRefOf(file), argsOf(key));
    if (result.source !== 'cache') throw new Error(`not a cache hit: ${result.observation}`);
  };
  let started = performance.now();
  for (let file = 0; file < CATEGORIES * TOOLS * APIS; file++) await env.call(apiRefOf(file), argsOf(0)); // loads every file
  const loadMs = performance.now() - started;
  await drive(1, 20_000, call); // warm-up
  const one = await drive(1, 100_000, call);
  const many = await drive(32, 100_000, call);
  await env.close();
  return { loadMs, one, many };
}

async function overHttp(root, logFile) {
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--serve-child', root], { stdio: ['ignore', 'pipe', log] });
  closeSync(log);
  try {
    const [line] = await Promise.race([
      once(child.stdout, 'data'),
      once(child, 'exit').then(([code]) => Promise.reject(new Error(`serve tools exited ${code}: ${readFileSync(logFile, 'utf8')}`))),
    ]);
    const { url } = JSON.parse(String(line));
    const pool = new Pool(new URL(url).origin, { connections: 64, pipelining: 1 });
    const body = ({ file, key }) => {
      const ref = apiRefOf(file);
      return pyJsonDumps({ category: ref.category, tool_name: ref.tool, api_name: ref.api, tool_input: argsOf(key), strip: 'truncate', toolbench_key: '' });
    };
    let errors = 0;
    const request = async (target) => {
      const response = await pool.request({ path: '/virtual', method: 'POST', headers: { 'content-type': 'application/json' }, body: body(target) });
      const text = await response.body.text();
      if (response.statusCode !== 200 || !text.startsWith('{"error": ""')) errors += 1;
    };
    await drive(64, CATEGORIES * TOOLS * APIS, (file) => request({ file, key: 0 })); // warm-up: the server reads every file
    errors = 0;
    const latencies = [];
    const deadline = performance.now() + SERVE_SECONDS * 1000;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (performance.now() < deadline) {
          const begin = performance.now();
          await request(pick(next++)).catch(() => (errors += 1));
          latencies.push(performance.now() - begin);
        }
      }),
    );
    const result = { ...summary(latencies, performance.now() - started), errors };
    await pool.close();
    return result;
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

async function lostWrites(root) {
  // one folder per tool, as a real cache has; the files themselves start missing
  for (let file = 0; file < WRITE_FILES; file++) mkdirSync(join(root, 'Busy', `tool_${file}_for_Busy`), { recursive: true });
  const started = performance.now();
  const children = Array.from({ length: WRITER_PROCESSES }, (_, index) =>
    spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--writer-child', root, String(index)], { stdio: ['ignore', 'inherit', 'inherit'] }),
  );
  const codes = await Promise.all(children.map(async (child) => (await once(child, 'exit'))[0]));
  const elapsedMs = performance.now() - started;
  if (codes.some((code) => code !== 0)) throw new Error(`a writer process failed: exit codes ${codes.join(', ')}`);
  let found = 0;
  for (let file = 0; file < WRITE_FILES; file++) found += parseCacheFile(readFileSync(join(root, 'Busy', `tool_${file}_for_Busy`, 'busy_api.json'), 'utf8')).size;
  return { expected: WRITER_PROCESSES * WRITERS_PER_PROCESS * WRITES_PER_WRITER, found, elapsedMs: Math.round(elapsedMs) };
}

async function serveChild(root) {
  const program = new Command('toolbench').exitOverride();
  registerServeCommand(program, { stdout: process.stdout, stderr: process.stderr, env: { NO_COLOR: '1' } }, { partial: false }, PROCESS_STOP_SIGNALS);
  await program.parseAsync(['serve', 'tools', '--cache', root, '--port', '0', '--json'], { from: 'user' });
}

async function writerChild(root, processIndex) {
  const cache = new ResponseCache(root);
  await Promise.all(
    Array.from({ length: WRITERS_PER_PROCESS }, async (_, writer) => {
      for (let write = 0; write < WRITES_PER_WRITER; write++) {
        const file = (writer + write) % WRITE_FILES;
        const key = `{'process': ${processIndex}, 'writer': ${writer}, 'write': ${write}}`;
        await cache.store({ category: 'Busy', toolDir: `tool_${file}_for_Busy`, api: 'busy_api' }, key, replyOf(file, write));
      }
    }),
  );
  await cache.settled();
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const temp = mkdtempSync(join(tmpdir(), 'toolbench-bench-env-'));
  try {
    let started = performance.now();
    buildCache(join(temp, 'cache'));
    const buildMs = performance.now() - started;
    const local = await inProcess(join(temp, 'cache'));
    const http = await overHttp(join(temp, 'cache'), join(temp, 'serve.log'));
    const writes = await lostWrites(join(temp, 'writes'));

    const f = (value, digits = 3) => value.toFixed(digits);
    console.log(`cache: ${CATEGORIES * TOOLS * APIS} files x ${KEYS} keys = ${CATEGORIES * TOOLS * APIS * KEYS} entries, written in ${f(buildMs, 0)} ms; first read of every file ${f(local.loadMs, 0)} ms; ${availableParallelism()} cores`);
    console.log('');
    const rows = [
      ['measure', 'calls', 'per second', 'mean ms', 'p50 ms', 'p99 ms', 'target'],
      ['cache hit, in process, 1 caller', local.one.calls, f(local.one.perSecond, 0), f(local.one.meanMs), f(local.one.p50Ms), f(local.one.p99Ms), `mean < 1 ms: ${local.one.meanMs < 1 ? 'ok' : 'MISSED'}`],
      ['cache hit, in process, 32 callers (latency includes the queue)', local.many.calls, f(local.many.perSecond, 0), f(local.many.meanMs), f(local.many.p50Ms), f(local.many.p99Ms), ''],
      ['serve tools, 64 keep-alive conns', http.calls, f(http.perSecond, 0), f(http.meanMs), f(http.p50Ms), f(http.p99Ms), `>= 2000/s, p99 < 20 ms: ${http.perSecond >= 2000 && http.p99Ms < 20 ? 'ok' : 'MISSED'}`],
    ];
    const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)));
    for (const row of rows) console.log(row.map((cell, column) => String(cell).padEnd(widths[column])).join('  ').trimEnd());
    console.log(`serve tools errors: ${http.errors}`);
    console.log(
      `lost writes: ${WRITER_PROCESSES} processes x ${WRITERS_PER_PROCESS} writers x ${WRITES_PER_WRITER} entries into ${WRITE_FILES} files: expected ${writes.expected}, found ${writes.found}, lost ${writes.expected - writes.found} (${f(writes.elapsedMs, 0)} ms)   [target 0: ${writes.found === writes.expected ? 'ok' : 'MISSED'}]`,
    );
    console.log(JSON.stringify({ cores: availableParallelism(), inProcess: { one: local.one, many: local.many }, serve: http, lostWrites: { ...writes, lost: writes.expected - writes.found } }));
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

// The same file runs the server and the writer processes.
const role = process.argv[2];
if (role === '--serve-child') await serveChild(process.argv[3]);
else if (role === '--writer-child') await writerChild(process.argv[3], Number(process.argv[4]));
else await main();

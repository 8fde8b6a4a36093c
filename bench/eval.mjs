// ToolEval benchmark: `eval pass-rate` over 1,200 converted answers, --evaluate-times 4, against a
// loopback judge that answers after 100 ms, with --workers 20.
//
//   node --expose-gc --import tsx bench/eval.mjs      (BENCH_ANSWERS, BENCH_WORKERS, BENCH_LATENCY_MS)
//
// Target: wall time within 10% of the ideal, judge calls x latency / workers; memory flat while
// the run goes on (the heap sampled every 5 s after a forced collection).
// The judge mixes its labels so that a run takes one call (Solved), or two (Unsure, then
// parse_answer_status; Unsolved, then check_task_solvable): queries differ in length, as real ones do.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runCli } from '../src/cli/run-cli.ts';

const ANSWERS = Number(process.env.BENCH_ANSWERS ?? 1200);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 20);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 100);
const RUNS = 4;
const gc = globalThis.gc ?? (() => {});
const fmt = (value, digits = 3) => Number(value.toFixed(digits));

function converted(count) {
  const entries = {};
  for (let index = 0; index < count; index++) {
    const qid = String(10_000 + index);
    const finish = { name: 'Finish', arguments: `{"return_type": "give_answer", "final_answer": "Answer ${qid}"}`, response: '' };
    const call = { name: 'search_for_tool', arguments: `{"q": "${qid}"}`, response: `{"error": "", "response": "result ${'x'.repeat(200)}"}` };
    entries[qid] = {
      query: `Question number ${qid}: please find something useful.`,
      available_tools: [{ name: 'search_for_tool', description: 'Search.', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } }, { name: 'Finish' }],
      answer: {
        method: 'DFS_woFilter_w2',
        total_steps: 5,
        final_answer: finish.arguments,
        answer_details: [{ role: 'system', message: '', next: [{ role: 'user', message: '', next: [{ role: 'tool', message: call, next: [{ role: 'assistant', message: 'done', next: [{ role: 'tool', message: finish, next: [] }] }] }] }] }],
      },
    };
  }
  return entries;
}

// The judge runs in a worker thread, as a remote judge would run elsewhere: its own work does not
// queue behind the client's on one event loop.
const JUDGE_SOURCE = `
const { createHash } = require('node:crypto');
const { createServer } = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
let calls = 0;
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    calls++;
    const sent = JSON.parse(body);
    const fn = sent.functions[0].name;
    const bucket = createHash('sha256').update(sent.messages[0].content).digest()[0] % 3;
    const args =
      fn === 'check_answer_status' ? { answer_status: ['Solved', 'Unsure', 'Unsolved'][bucket], reason: 'r' }
      : fn === 'parse_answer_status' ? { answer_status: 'Solved', reason: 'r' }
      : { task_status: 'Solvable', reason: 'r' };
    const reply = JSON.stringify({
      id: 'bench', object: 'chat.completion', created: 0, model: sent.model,
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: null, function_call: { name: fn, arguments: JSON.stringify(args) } } }],
    });
    setTimeout(() => {
      response.setHeader('content-type', 'application/json');
      response.end(reply);
    }, workerData.latencyMs);
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => parentPort.postMessage({ calls }));
`;

async function startJudge() {
  const worker = new Worker(JUDGE_SOURCE, { eval: true, workerData: { latencyMs: LATENCY_MS } });
  const next = () => new Promise((resolve) => worker.once('message', resolve));
  const { port } = await next();
  return {
    url: `http://127.0.0.1:${port}/v1`,
    async calls() {
      worker.postMessage('calls');
      return (await next()).calls;
    },
    close: () => worker.terminate(),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-eval-'));
try {
  mkdirSync(join(dir, 'converted', 'bench_model'), { recursive: true });
  mkdirSync(join(dir, 'ids'));
  const entries = converted(ANSWERS);
  writeFileSync(join(dir, 'converted', 'bench_model', 'G1_instruction.json'), JSON.stringify(entries));
  writeFileSync(join(dir, 'ids', 'G1_instruction.json'), JSON.stringify(Object.fromEntries(Object.keys(entries).map((qid) => [qid, 0]))));

  const judge = await startJudge();
  const heap = [];
  gc();
  const baseline = process.memoryUsage().heapUsed;
  let stderr = '';
  const started = performance.now();
  const sampler = setInterval(() => {
    gc();
    heap.push({ at: performance.now() - started, bytes: process.memoryUsage().heapUsed });
  }, 5000); // a forced collection stalls the run: not too often
  const code = await runCli(
    ['eval', 'pass-rate', '--converted', join(dir, 'converted'), '--model', 'bench_model', '--test-ids', join(dir, 'ids'), '--out', join(dir, 'out'),
      '--base-url', judge.url, '--evaluate-times', String(RUNS), '--workers', String(WORKERS), '--no-judge-cache', '--json'],
    { stdout: { write: () => true }, stderr: { write: (text) => (stderr += text) }, env: { OPENAI_API_KEY: 'bench', NO_COLOR: '1' } },
  );
  const wallS = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (code !== 0) throw new Error(`eval pass-rate exited ${code}: ${stderr}`);

  const calls = await judge.calls();
  await judge.close();
  const idealS = (calls * LATENCY_MS) / 1000 / WORKERS;
  const mb = (bytes) => fmt(bytes / 2 ** 20, 1);
  const heapEarlyMb = (heap[0]?.bytes ?? baseline) / 2 ** 20;
  const heapLateMb = (heap.at(-1)?.bytes ?? baseline) / 2 ** 20;
  const figures = {
    answers: ANSWERS,
    evaluate_times: RUNS,
    workers: WORKERS,
    latency_ms: LATENCY_MS,
    judge_calls: calls,
    wall_s: fmt(wallS, 2),
    ideal_s: fmt(idealS, 2),
    wall_over_ideal: fmt(wallS / idealS),
    target: 'wall_over_ideal <= 1.10',
    heap_baseline_mb: fmt(baseline / 2 ** 20, 1),
    // after a forced collection, every 5 s: the converted answers are loaded before the first
    heap_samples_mb: heap.map((sample) => mb(sample.bytes)),
    heap_growth_first_to_last_mb: fmt(heapLateMb - heapEarlyMb, 1),
  };
  console.log(JSON.stringify(figures, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

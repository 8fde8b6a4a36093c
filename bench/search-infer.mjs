// `toolbench infer --workers N` against a fake OpenAI-compatible server that answers every call
// after a fixed latency: each query calls a local tool, then Finish (2 model calls). The ideal is
// workers / latency calls per second; the ratio says how much the run loop, the engine, the
// openai package and the answer writes cost on top. The server runs in a process of its own, as
// a real endpoint would.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runCli } from '../src/cli/run-cli.ts';

const API = { category_name: 'Customized', tool_name: 'hello world', api_name: 'get_hello_world' };
const usage = { prompt_tokens: 1000, completion_tokens: 50, total_tokens: 1050 };

export async function benchInferWorkers({ queries, workers, latencyMs }) {
  const scratch = mkdtempSync(join(tmpdir(), 'toolbench-bench-infer-'));
  const server = await startServer(latencyMs);
  try {
    const file = join(scratch, 'queries.json');
    writeFileSync(file, JSON.stringify(Array.from({ length: queries }, (_, id) => ({ query: `Say hello ${id}.`, query_id: id, api_list: [API] }))));
    const out = join(scratch, 'out');
    let stderr = '';
    const started = performance.now();
    const code = await runCli(
      ['infer', '--queries', file, '--out', out, '--model', 'gpt-4o-mini', '--base-url', server.baseUrl, '--env', 'local', '--tools', 'fixtures/toolenv-local', '--workers', String(workers)],
      { stdout: { write: () => {} }, stderr: { write: (text) => (stderr += text) }, env: { NO_COLOR: '1', OPENAI_API_KEY: 'sk-bench' } },
    );
    const seconds = (performance.now() - started) / 1000;
    const calls = await server.count();
    const ideal = workers / (latencyMs / 1000);
    const written = readdirSync(out).filter((name) => name.endsWith('.json')).length;
    return { exit: code, queries, written, workers, latency_ms: latencyMs, calls, seconds: Number(seconds.toFixed(2)), calls_per_s: Math.round(calls / seconds), ideal_calls_per_s: ideal, ratio: Number((calls / seconds / ideal).toFixed(3)), ...(code === 0 ? {} : { stderr: stderr.slice(-500) }) };
  } finally {
    server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

// A fake OpenAI-compatible server in a child process: the bench script itself, run again with
// SERVER_FLAG (so this works under tsx and bundled alike). Which step a conversation is at follows
// from its length: [system, user] asks for the tool, anything longer for Finish.
export const SERVER_FLAG = '--serve-fake-openai';

export async function serveFakeOpenAI(latencyMs) {
  const { startFakeOpenAI } = await import('../test/helpers/fake-openai.ts');
  const server = await startFakeOpenAI((body) => ({
    tool_calls: [
      body.messages.length <= 2
        ? { function: { name: 'get_hello_world_for_hello_world', arguments: '{}' } }
        : { function: { name: 'Finish', arguments: '{"return_type": "give_answer", "final_answer": "hello world"}' } },
    ],
    usage,
    delayMs: latencyMs,
  }));
  process.stdout.write(`${server.baseUrl}\n`);
  process.stdin.on('data', () => process.stdout.write(`${server.requests.length}\n`));
  process.stdin.on('end', () => server.close().then(() => process.exit(0)));
}

async function startServer(latencyMs) {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], SERVER_FLAG, String(latencyMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdout.setEncoding('utf8');
  const [line] = await once(child.stdout, 'data');
  return {
    baseUrl: line.trim(),
    async count() {
      child.stdin.write('?');
      const [answer] = await once(child.stdout, 'data');
      return Number(answer.trim());
    },
    close: () => child.stdin.end(),
  };
}

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { registerInferCommand } from '../../src/cli/infer-command.js';
import { runCli } from '../../src/cli/run-cli.js';
import type { StopSignals } from '../../src/cli/serve-tools.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { runToolbench, type CliResult } from '../helpers/cli.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply } from '../helpers/fake-openai.js';
import { dataPath, fixture, SKIP_WITHOUT_DATA } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-infer-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const LOCAL_TOOLS = fixture('toolenv-local');

const QUERIES = [
  { query: 'Say hello.', query_id: 1, api_list: [{ category_name: 'Customized', tool_name: 'hello world', api_name: 'get_hello_world' }] },
  { query: 'Say hello again.', query_id: 2, api_list: [{ category_name: 'Customized', tool_name: 'hello world', api_name: 'get_hello_world' }] },
];

/** The model calls the local tool, then gives its answer: two calls per query. */
const helloScript = (): FakeReply[] => [
  { tool_calls: [{ function: { name: 'get_hello_world_for_hello_world', arguments: '{}' } }], usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 } },
  { tool_calls: [{ function: { name: 'Finish', arguments: '{"return_type": "give_answer", "final_answer": "hello world"}' } }], usage: { prompt_tokens: 120, completion_tokens: 20, total_tokens: 140 } },
];

let folders = 0;
function freshDir(): string {
  return join(scratch, `run-${++folders}`);
}

function queryFile(queries: readonly unknown[] = QUERIES): string {
  const file = join(scratch, `queries-${++folders}.json`);
  writeFileSync(file, JSON.stringify(queries));
  return file;
}

async function withStdin(args: readonly string[], stdin: string, env: Record<string, string> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { NO_COLOR: '1', ...env },
    stdin: Readable.from([Buffer.from(stdin)]),
  } as Parameters<typeof runCli>[1]);
  return { code, stdout, stderr };
}

describe('toolbench infer', () => {
  let server: FakeOpenAI;
  before(async () => {
    server = await startFakeOpenAI();
  });
  after(() => server.close());

  const openaiArgs = (): string[] => ['--model', 'gpt-4o-mini', '--base-url', server.baseUrl, '--env', 'local', '--tools', LOCAL_TOOLS];

  test('end to end: the model calls a local tool, then Finish; the answer file is written and wins', async () => {
    const out = freshDir();
    server.enqueue(...helloScript(), ...helloScript());
    const result = await runToolbench(['infer', '--queries', queryFile(), '--out', out, ...openaiArgs()]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['1_DFS_woFilter_w2.json', '2_DFS_woFilter_w2.json']);
    const answer = JSON.parse(readFileSync(join(out, '1_DFS_woFilter_w2.json'), 'utf8'));
    assert.equal(answer.win, true);
    assert.equal(answer.answer_generation.final_answer, '{"return_type": "give_answer", "final_answer": "hello world"}');
    assert.equal(answer.answer_generation.query, 'Say hello.');
    assert.match(JSON.stringify(answer.tree), /hello world/);
    assert.match(result.stderr, /infer: 2 answered \(2 pass, 0 give up\); 4 LLM calls, 500 tokens/);
    assert.equal(result.stdout, '');

    const before = server.requests.length;
    const resumed = await runToolbench(['infer', '--queries', queryFile(), '--out', out, ...openaiArgs()]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(server.requests.length, before, 'answered queries are not searched again');
    assert.match(resumed.stderr, /0 answered .*, 2 already answered/);
  });

  test('--json streams one event a line on stdout: run_start ... run_end', async () => {
    const out = freshDir();
    server.enqueue(...helloScript());
    const result = await runToolbench(['infer', '--queries', queryFile(), '--ids', '2', '--out', out, '--json', ...openaiArgs()]);
    assert.equal(result.code, 0, result.stderr);
    const events = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(events.map((event) => event.event).filter((name) => name !== 'node'), ['run_start', 'query_start', 'llm', 'tool', 'llm', 'tool', 'query_end', 'run_end']);
    assert.deepEqual(events[0], { event: 'run_start', method: 'DFS_woFilter_w2', backbone: 'openai', model: 'gpt-4o-mini', out, workers: 1 });
    const llm = events.find((event) => event.event === 'llm');
    assert.deepEqual(llm, { event: 'llm', query_id: '2', purpose: 'agent', depth: llm.depth, ok: true, prompt_tokens: 100, completion_tokens: 10, total_tokens: 110, cost: llm.cost });
    assert.ok(llm.cost > 0, 'gpt-4o-mini has a price');
    const tool = events.find((event) => event.event === 'tool');
    assert.deepEqual([tool.name, tool.status, tool.source, 'observation' in tool], ['get_hello_world_for_hello_world', 0, 'local', false]);
    const end = events.at(-1);
    assert.deepEqual([end.done, end.win, end.failed, end.llm_calls, end.total_tokens, end.stopped_by], [1, 1, 0, 2, 250, 'completed']);
    assert.doesNotMatch(result.stderr, /infer: 1 answered/, 'no summary line with --json');
  });

  test('--queries - and --out -: JSON lines in, one answer a line out', async () => {
    server.enqueue(...helloScript());
    const stdin = `${JSON.stringify(QUERIES[0])}\n`;
    const result = await withStdin(['infer', '--queries', '-', '--out', '-', ...openaiArgs()], stdin);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0] ?? '').win, true);
  });

  test('--shard splits the input by position', async () => {
    const out = freshDir();
    server.enqueue(...helloScript());
    const result = await runToolbench(['infer', '--queries', queryFile(), '--shard', '2/2', '--out', out, ...openaiArgs()]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(out), ['2_DFS_woFilter_w2.json']);
  });

  test('a refused key (HTTP 401) stops the run with exit 1 and writes nothing', async () => {
    const out = freshDir();
    server.enqueue({ status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } } });
    const result = await runToolbench(['infer', '--queries', queryFile(), '--out', out, ...openaiArgs()], { OPENAI_API_KEY: 'sk-secret-123' });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /HTTP 401.*check the API key/);
    assert.doesNotMatch(result.stderr, /secret/);
    assert.equal(existsSync(join(out, '1_DFS_woFilter_w2.json')), false);
  });

  test('bad usage is exit 2', async () => {
    const queries = queryFile();
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [['--out', '-', '--json', ...openaiArgs()], /--out - and --json/],
      [['--out', 'x', '--model-path', 'ckpt'], /the local runner is not available yet/],
      [['--out', 'x', '--model', 'gpt-4o-mini', '--env', 'local', '--tools', LOCAL_TOOLS], /OPENAI_API_KEY/],
      [['--out', 'x', '--env', 'local', '--tools', LOCAL_TOOLS, '--base-url', 'http://127.0.0.1:1/v1'], /needs --model/],
      [['--out', 'x', '--backbone', 'toolllama', '--model', 'm', '--env', 'local', '--tools', LOCAL_TOOLS], /needs --base-url/],
      [['--out', 'x', '--shard', '0/2', ...openaiArgs()], /--shard 0\/2/],
    ];
    for (const [args, pattern, env] of cases) {
      const result = await runToolbench(['infer', '--queries', queries, ...args], env);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
    }
    const missing = await runToolbench(['infer', '--queries', join(scratch, 'nothing.json'), '--out', freshDir(), ...openaiArgs()]);
    assert.equal(missing.code, 2, missing.stderr);
    const bad = await runToolbench(['infer', '--queries', queryFile([{ query_id: 1 }]), '--out', freshDir(), ...openaiArgs()]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /\$\[0\]\.query: expected a string/);
  });

  test('--backbone replay: a recorded file that cannot be read fails alone, is listed, and the exit code is 3', async () => {
    const recordings = join(scratch, 'recordings');
    mkdirSync(recordings, { recursive: true });
    writeFileSync(join(recordings, '5_ChatGPT_DFS_woFilter_w2.json'), '[]');
    writeFileSync(join(recordings, 'notes.json'), '{}');
    const out = freshDir();
    const result = await runToolbench(['infer', '--backbone', 'replay', '--env', 'replay', '--replay-from', recordings, '--out', out]);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /1 \.json files do not end in _DFS_woFilter_w2\.json; ignored/);
    const failure = JSON.parse(readFileSync(join(out, 'infer-failures.jsonl'), 'utf8'));
    assert.deepEqual([failure.query_id, failure.method], ['5', 'DFS_woFilter_w2']);
    assert.match(failure.error, /expected an answer file/);
  });

  test('--backbone replay re-runs ToolBench\'s released answer trees', { skip: SKIP_WITHOUT_DATA }, async () => {
    const recordings = join(scratch, 'released');
    mkdirSync(recordings, { recursive: true });
    for (const id of ['10', '11']) copyFileSync(dataPath('toolbench/data_example/answer/G1_answer', `${id}_ChatGPT_DFS_woFilter_w2.json`), join(recordings, `${id}_ChatGPT_DFS_woFilter_w2.json`));
    const out = freshDir();
    const result = await runToolbench(['infer', '--backbone', 'replay', '--env', 'replay', '--replay-from', recordings, '--out', out, '--workers', '2']);
    assert.equal(result.code, 0, result.stderr);
    for (const id of ['10', '11']) {
      const rerun = JSON.parse(readFileSync(join(out, `${id}_DFS_woFilter_w2.json`), 'utf8'));
      const released = JSON.parse(readFileSync(join(recordings, `${id}_ChatGPT_DFS_woFilter_w2.json`), 'utf8'));
      assert.deepEqual([rerun.win, rerun.tree], [released.win, released.tree]);
    }
  });

  test('Ctrl-C: the query in flight is stopped and not written, finished answers stay, exit 130', async () => {
    let interrupt: (() => void) | undefined;
    const signals: StopSignals = {
      listen(handler) {
        interrupt = () => handler('SIGINT');
        return () => (interrupt = undefined);
      },
    };
    const script = helloScript();
    const interrupting = await startFakeOpenAI((_body, callIndex) => {
      if (callIndex < 2) return script[callIndex] as FakeReply;
      interrupt?.(); // the second query's first call
      return { delayMs: 5_000, content: 'too late' };
    });
    try {
      const out = freshDir();
      let stderr = '';
      const io = { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) }, env: { NO_COLOR: '1' } };
      const program = new Command().exitOverride();
      const outcome = { partial: false };
      registerInferCommand(program, io, outcome, signals);
      const args = ['infer', '--queries', queryFile(), '--out', out, '--model', 'gpt-4o-mini', '--base-url', interrupting.baseUrl, '--env', 'local', '--tools', LOCAL_TOOLS];
      await assert.rejects(program.parseAsync(args, { from: 'user' }), (error: unknown) => error instanceof ToolbenchError && error.exitCode === 130);
      assert.deepEqual(readdirSync(out), ['1_DFS_woFilter_w2.json'], 'no partial, temporary or failure files');
      assert.match(stderr, /SIGINT: stopping the queries in flight/);
      assert.match(stderr, /1 query in progress was stopped and not written/);
      assert.equal(interrupt, undefined, 'the handler is removed after the first signal');
    } finally {
      await interrupting.close();
    }
  });
});

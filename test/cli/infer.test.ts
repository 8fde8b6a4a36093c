import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { registerInferCommand } from '../../src/cli/infer-command.js';
import { createProgram } from '../../src/cli/program.js';
import { resolveInferSettings, type InferFlags } from '../../src/infer/infer-settings.js';
import type { StopSignals } from '../../src/cli/serve-tools.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { runToolbench, type CliResult } from '../helpers/cli.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply } from '../helpers/fake-openai.js';
import { writeLocalRetriever } from '../helpers/local-retriever.js';
import { dataPath, fixture, PROJECT_ROOT, SKIP_WITHOUT_DATA } from '../helpers/paths.js';

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

function withStdin(args: readonly string[], stdin: string, env: Record<string, string> = {}): Promise<CliResult> {
  return runToolbench(args, env, stdin);
}

/** Signals a test sends itself. */
function testSignals(): StopSignals & { interrupt(): void; listening(): boolean } {
  let handler: ((signal: 'SIGINT') => void) | undefined;
  return {
    listen(listener) {
      handler = listener;
      return () => (handler = undefined);
    },
    interrupt: () => handler?.('SIGINT'),
    listening: () => handler !== undefined,
  };
}

/** infer in-process with its own standard input and signals; the error it ends with (undefined for exit 0). */
async function runInferWith(
  args: readonly string[],
  options: { stdin?: Readable; signals?: StopSignals; isTTY?: boolean; onStdout?: (text: string) => void } = {},
): Promise<{ error: unknown; stdout: string; stderr: string; partial: boolean }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (text: string) => ((stdout += text), options.onStdout?.(text), true) },
    stderr: { isTTY: options.isTTY, write: (text: string) => ((stderr += text), true) },
    env: { NO_COLOR: '1', TERM: 'xterm' },
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
  };
  const program = new Command().exitOverride();
  const outcome = { partial: false };
  registerInferCommand(program, io, outcome, options.signals);
  let error: unknown;
  await program.parseAsync(['infer', ...args], { from: 'user' }).catch((caught: unknown) => (error = caught));
  return { error, stdout, stderr, partial: outcome.partial };
}

/** Rejects after `ms`: a run that waits forever fails the test instead of hanging it. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const exitCodeOf = (error: unknown): number | undefined => (error === undefined ? 0 : error instanceof ToolbenchError ? error.exitCode : undefined);

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
      [['--out', 'x', '--model-path', 'ckpt'], /ckpt: no such model folder or file/],
      [['--out', 'x', '--model', 'gpt-4o-mini', '--env', 'local', '--tools', LOCAL_TOOLS], /OPENAI_API_KEY/],
      [['--out', 'x', '--env', 'local', '--tools', LOCAL_TOOLS, '--base-url', 'http://127.0.0.1:1/v1'], /needs --model/],
      [['--out', 'x', '--backbone', 'toolllama', '--model', 'm', '--env', 'local', '--tools', LOCAL_TOOLS], /needs --base-url/],
      [['--out', 'x', '--shard', '0/2', ...openaiArgs()], /--shard 0\/2/],
      [['--out', 'x', '--retriever', 'r', ...openaiArgs()], /--retriever needs --corpus/],
      [['--out', 'x', '--top-k', '3', ...openaiArgs()], /--top-k is for --retriever/],
      [['--out', 'x', '--retriever', 'r', '--corpus', 'c.tsv', '--model', 'm', '--base-url', 'http://127.0.0.1:1/v1', '--env', 'replay', '--replay-from', scratch], /--retriever needs --tools/],
    ];
    for (const [args, pattern, env] of cases) {
      const result = await runToolbench(['infer', '--queries', queries, ...args], env);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
    }
    const missing = await runToolbench(['infer', '--queries', join(scratch, 'nothing.json'), '--out', freshDir(), ...openaiArgs()]);
    assert.equal(missing.code, 2, missing.stderr);
    const toolllamaOnly = await runToolbench(['infer', '--queries', queries, '--out', 'x', '--truncate-prompt-tokens', '10', ...openaiArgs()]);
    assert.equal(toolllamaOnly.code, 2, toolllamaOnly.stderr);
    assert.match(toolllamaOnly.stderr, /--truncate-prompt-tokens is for --backbone toolllama/);
  });

  test('open domain (--retriever): the retriever chooses each query\'s APIs, replacing any api_list, as upstream', async () => {
    const { model, corpus } = writeLocalRetriever(join(scratch, 'open-domain'));
    const out = freshDir();
    server.enqueue(...helloScript(), ...helloScript());
    const queries = [
      { query: 'Say hello.', query_id: 7 },
      // upstream ignores the query's own APIs once the retriever is on
      { query: 'Say hello again.', query_id: 8, api_list: [{ category_name: 'Sports', tool_name: 'scores lite', api_name: 'anything' }] },
    ];
    const env = { XDG_CACHE_HOME: join(scratch, 'open-domain-cache') };
    const result = await runToolbench(['infer', '--queries', queryFile(queries), '--out', out, '--retriever', model, '--corpus', corpus, '--top-k', '3', ...openaiArgs()], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /embedding 3 API documents/);
    for (const id of [7, 8]) {
      const answer = JSON.parse(readFileSync(join(out, `${id}_DFS_woFilter_w2.json`), 'utf8'));
      // two of the three documents name tools the folder lacks: only hello world is kept
      assert.deepEqual(answer.answer_generation.function.map((f: { function: { name: string } }) => f.function.name), ['get_hello_world_for_hello_world', 'Finish']);
      assert.equal(answer.win, true);
    }
  });

  test('an invalid item of the query file fails alone: listed in the failures file, the run goes on, exit 3', async () => {
    const out = freshDir();
    server.enqueue(...helloScript(), ...helloScript());
    const queries = queryFile([QUERIES[0], { query_id: 7, api_list: [] }, QUERIES[1]]);
    const result = await runToolbench(['infer', '--queries', queries, '--out', out, ...openaiArgs()]);
    assert.equal(result.code, 3, result.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['1_DFS_woFilter_w2.json', '2_DFS_woFilter_w2.json', 'infer-failures.jsonl']);
    const failure = JSON.parse(readFileSync(join(out, 'infer-failures.jsonl'), 'utf8'));
    assert.equal(failure.query_id, '7');
    assert.match(failure.error, /\$\[1\]\.query: expected a string/);
    assert.match(result.stderr, /query 7 failed: .*\$\[1\]\.query/);
    assert.match(result.stderr, /2 answered .*, 1 failed/);

    // --out -: no failures file, the failure is on stderr
    server.enqueue(...helloScript());
    const lines = await withStdin(['infer', '--queries', '-', '--out', '-', ...openaiArgs()], `${JSON.stringify(QUERIES[0])}\n{"query": \n`);
    assert.equal(lines.code, 3, lines.stderr);
    assert.equal(lines.stdout.trimEnd().split('\n').length, 1);
    assert.match(lines.stderr, /query 1 failed: <stdin>: line 2, column \d+/);
  });

  test('no query answered and some failed: exit 1, not 3', async () => {
    const out = freshDir();
    const bad = await runToolbench(['infer', '--queries', queryFile([{ query_id: 1 }, { query_id: 2 }]), '--out', out, ...openaiArgs()]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /\$\[0\]\.query: expected a string/);
    assert.match(bad.stderr, /every query failed \(2\); no answer was written/);
    assert.equal(readFileSync(join(out, 'infer-failures.jsonl'), 'utf8').trim().split('\n').length, 2);
  });

  test('a query file that breaks half-way: the query in flight finishes and is written, nothing more starts, exit 2', async () => {
    const out = freshDir();
    server.enqueue(...helloScript());
    const file = join(scratch, `broken-${++folders}.json`);
    writeFileSync(file, `[${JSON.stringify(QUERIES[0])}, {"query": `);
    // the array is read item by item: query 1 is searched by one worker while the other finds the break
    const result = await runToolbench(['infer', '--queries', file, '--out', out, '--workers', '2', ...openaiArgs()]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /broken-\d+\.json: \$\[1\]\.query \(line 1, column \d+\): expected a JSON value/);
    assert.deepEqual(readdirSync(out), ['1_DFS_woFilter_w2.json']);
    assert.equal(JSON.parse(readFileSync(join(out, '1_DFS_woFilter_w2.json'), 'utf8')).win, true);
  });

  test('--backbone replay: a recorded file that cannot be read fails alone and is listed (exit 1: nothing was answered)', async () => {
    const recordings = join(scratch, 'recordings');
    mkdirSync(recordings, { recursive: true });
    writeFileSync(join(recordings, '5_ChatGPT_DFS_woFilter_w2.json'), '[]');
    writeFileSync(join(recordings, 'notes.json'), '{}');
    const out = freshDir();
    const result = await runToolbench(['infer', '--backbone', 'replay', '--env', 'replay', '--replay-from', recordings, '--out', out]);
    assert.equal(result.code, 1, result.stderr);
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

  test('Ctrl-C while infer waits on a standard input that never ends: exit 130 at once, and stdin is no longer read', async () => {
    for (const mode of ['--json', 'progress bar'] as const) {
      const signals = testSignals();
      const stdin = new Readable({ read: () => undefined }); // like `sleep 30 | toolbench infer --queries -`
      const args = ['--queries', '-', '--out', freshDir(), ...openaiArgs(), ...(mode === '--json' ? ['--json'] : [])];
      const run = runInferWith(args, {
        stdin,
        signals,
        isTTY: mode === 'progress bar', // the bar used to count the queries first, reading stdin to its end
        onStdout: (text) => void (text.includes('run_start') && setImmediate(signals.interrupt)),
      });
      // with the bar there is no run_start on stdout: Ctrl-C some time after the start, once the command listens
      const poke = setInterval(() => mode === 'progress bar' && signals.listening() && (signals.interrupt(), clearInterval(poke)), 50);
      const result = await within(3_000, run, mode).finally(() => clearInterval(poke));
      assert.equal(exitCodeOf(result.error), 130, `${mode}: ${String(result.error)}\n${result.stderr}`);
      assert.match(result.stderr, /SIGINT: stopping the queries in flight/);
      assert.equal(stdin.destroyed, true, `${mode}: standard input is released`);
    }
  });

  test('Ctrl-C reaches `sleep 30 | toolbench infer --queries -` (a real process, a real pipe, a real SIGINT)', { timeout: 30_000 }, async () => {
    const out = freshDir();
    const args = ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli', 'entry.ts'), 'infer', '--queries', '-', '--out', out, '--json', ...openaiArgs()];
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const started = new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('"run_start"')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await within(20_000, started, 'run_start');
      const interruptedAt = Date.now();
      child.kill('SIGINT');
      const code = await within(5_000, exited, 'exit after SIGINT');
      assert.equal(code, 130, stderr);
      assert.ok(Date.now() - interruptedAt < 5_000);
    } finally {
      child.stdin.end();
      child.kill('SIGKILL');
    }
  });

  test('--queries - with JSON lines: each query is searched as its line arrives, before standard input ends', async () => {
    server.enqueue(...helloScript(), ...helloScript());
    const stdin = new PassThrough();
    let answered: () => void = () => undefined;
    const firstAnswer = new Promise<void>((resolve) => (answered = resolve));
    const run = runInferWith(['--queries', '-', '--out', '-', ...openaiArgs()], { stdin, onStdout: (text) => text.includes('"win"') && answered() });
    stdin.write(`${JSON.stringify(QUERIES[0])}\n`);
    await within(3_000, firstAnswer, 'the first answer while stdin is open');
    stdin.end(`${JSON.stringify(QUERIES[1])}\n`);
    const result = await within(3_000, run, 'the run');
    assert.equal(exitCodeOf(result.error), 0, `${String(result.error)}\n${result.stderr}`);
    assert.equal(result.stdout.trimEnd().split('\n').length, 2);
  });

  test('--max-cost with a model that has no price warns that it has no effect, and the run goes on', async () => {
    server.enqueue(...helloScript());
    const args = ['infer', '--queries', queryFile([QUERIES[0]]), '--out', freshDir(), '--max-cost', '1', '--model', 'my-vllm-model', '--base-url', server.baseUrl, '--env', 'local', '--tools', LOCAL_TOOLS];
    const unpriced = await runToolbench(args);
    assert.equal(unpriced.code, 0, unpriced.stderr);
    assert.match(unpriced.stderr, /warning: --max-cost has no effect: no price for model my-vllm-model; give one with --prices FILE/);
    assert.match(unpriced.stderr, /infer: 1 answered/);

    server.enqueue(...helloScript());
    const prices = join(scratch, 'prices.yml');
    writeFileSync(prices, 'models:\n  my-vllm-model: {input: 0.1, output: 0.2}\n');
    const priced = await runToolbench([...args.slice(0, 4), freshDir(), ...args.slice(5), '--prices', prices]);
    assert.equal(priced.code, 0, priced.stderr);
    assert.doesNotMatch(priced.stderr, /--max-cost has no effect/);
  });

  test('the model gets a seed only when --seed, TOOLBENCH_SEED or the config file sets one', async () => {
    const config = join(scratch, 'seed.yml');
    writeFileSync(config, 'seed: 11\n');
    const cases: [string[], Record<string, string>, number | undefined][] = [
      [[], {}, undefined],
      [['--seed', '0'], {}, 0],
      [['--seed', '7'], {}, 7],
      [[], { TOOLBENCH_SEED: '5' }, 5],
      [['--config', config], {}, 11],
    ];
    for (const [flags, env, seed] of cases) {
      server.enqueue(...helloScript());
      const before = server.requests.length;
      const result = await runToolbench(['infer', '--queries', queryFile([QUERIES[0]]), '--out', freshDir(), ...openaiArgs(), ...flags], env);
      assert.equal(result.code, 0, result.stderr);
      const bodies = server.requests.slice(before).map((request) => request.body);
      assert.equal(bodies.length, 2);
      for (const body of bodies) assert.deepEqual(['seed' in body, body.seed], [seed !== undefined, seed], `${flags.join(' ')} ${JSON.stringify(env)}`);
    }
  });

  test('--truncate-prompt-tokens reaches the toolllama request; without it the backbone default applies', async () => {
    const finish = 'Thought: done\nAction: Finish\nAction Input: {"return_type": "give_answer", "final_answer": "hello world"}';
    const sent: (number | undefined)[] = [];
    for (const flags of [['--truncate-prompt-tokens', '4096'], []]) {
      server.enqueue({ text: finish, usage: { prompt_tokens: 50, completion_tokens: 5, total_tokens: 55 } });
      const before = server.requests.length;
      const args = ['infer', '--queries', queryFile([QUERIES[0]]), '--out', freshDir(), '--backbone', 'toolllama', '--method', 'CoT@1', '--model', 'ToolLLaMA-2-7b-v2', '--base-url', server.baseUrl, '--env', 'local', '--tools', LOCAL_TOOLS];
      const result = await runToolbench([...args, ...flags]);
      assert.equal(result.code, 0, result.stderr);
      const request = server.requests[before];
      assert.equal(request?.path, '/v1/completions');
      sent.push(request?.body.truncate_prompt_tokens);
    }
    assert.equal(sent[0], 4096);
    assert.ok(sent[1] === undefined || sent[1] === 7168, `the backbone's default, got ${sent[1]}`);
    const settings = (flags: InferFlags) => resolveInferSettings({ queries: ['q.json'], out: 'x', backbone: 'toolllama', ...flags }, {});
    assert.deepEqual([settings({}).truncatePromptTokens, settings({ truncatePromptTokens: '0' }).truncatePromptTokens], [undefined, 0]);
  });

  test('--help: every example parses with flags infer has, and resolves to runnable settings', async () => {
    let help = '';
    const program = createProgram({ stdout: { write: (text: string) => ((help += text), true) }, stderr: { write: () => true }, env: {} }, { partial: false });
    await program.parseAsync(['infer', '--help'], { from: 'user' }).catch(() => undefined);
    const flat = help.replace(/\s+/g, ' ');
    assert.match(flat, /--seed <n> seeds the random compression draw, the reported give-up choice, and \(when given\) the model's sampling/);
    assert.match(flat, /With --out DIR the failures are also listed in DIR\/infer-failures\.jsonl; with --out - they are on stderr only/);
    const examples = help
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .filter((line) => line.trimStart().startsWith('$ ') && line.includes('toolbench infer'))
      .map((line) => (line.split('toolbench ')[1] ?? '').split(' | ')[0] ?? '');
    assert.equal(examples.length, 6);
    for (const example of examples) {
      const words = (example.match(/'[^']*'|\S+/g) ?? []).map((word) => word.replace(/^'(.*)'$/, '$1'));
      let flags: InferFlags | undefined;
      const parser = createProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {} }, { partial: false });
      const infer = parser.commands.find((command) => command.name() === 'infer');
      infer?.action((_options: unknown, self: Command) => void (flags = self.optsWithGlobals()));
      await parser.parseAsync(words, { from: 'user' });
      assert.ok(flags !== undefined, example);
      const settings = resolveInferSettings(flags, {});
      if (settings.backbone !== 'replay') assert.ok(settings.model !== undefined, `${example}: --model is needed`);
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

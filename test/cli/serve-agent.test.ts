/**
 * `toolbench serve agent` end to end: a fake OpenAI model, the local tool fixture, requests over
 * HTTP; the stream, the answer files, usage errors, and Ctrl-C.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { registerServeCommand } from '../../src/cli/serve-command.js';
import type { StopSignals } from '../../src/cli/serve-tools.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply } from '../helpers/fake-openai.js';
import { fixture } from '../helpers/paths.js';
import { writeLocalRetriever } from '../helpers/local-retriever.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-serve-agent-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const LOCAL_TOOLS = fixture('toolenv-local');
const HELLO_API = [{ category_name: 'Customized', tool_name: 'hello world', api_name: 'get_hello_world' }];

const TEST_MODELS = process.env.TOOLBENCH_TEST_MODELS || join(homedir(), '.cache', 'toolbench', 'test-models');
const SMOLLM2 = join(TEST_MODELS, 'smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf');

const helloScript = (): FakeReply[] => [
  { content: 'I will call it.', tool_calls: [{ function: { name: 'get_hello_world_for_hello_world', arguments: '{}' } }] },
  { tool_calls: [{ function: { name: 'Finish', arguments: '{"return_type": "give_answer", "final_answer": "hello world"}' } }] },
];

interface Running {
  readonly url: string;
  readonly stderr: () => string;
  /** Sends SIGINT and waits for the command to end; the error it ended with. */
  stop(): Promise<unknown>;
}

/** The command in-process, listening on a free port; resolves once it prints where. */
async function startServe(args: readonly string[], env: Record<string, string> = {}): Promise<Running> {
  let stdout = '';
  let stderr = '';
  let handler: ((signal: 'SIGINT') => void) | undefined;
  const signals: StopSignals = {
    listen(listener) {
      handler = listener;
      return () => (handler === listener ? (handler = undefined) : undefined);
    },
  };
  let announced: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => (announced = resolve));
  const io = {
    stdout: {
      write: (text: string) => {
        stdout += text;
        const line = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
        if (line !== undefined) announced((JSON.parse(line) as { url: string }).url);
        return true;
      },
    },
    stderr: { write: (text: string) => ((stderr += text), true) },
    env: { NO_COLOR: '1', OPENAI_API_KEY: 'sk-test', ...env },
  };
  const program = new Command().exitOverride();
  registerServeCommand(program, io, { partial: false }, signals);
  let ended: unknown = 'running';
  const done = program.parseAsync(['serve', ...args, '--port', '0', '--json'], { from: 'user' }).then(
    () => (ended = undefined),
    (error: unknown) => (ended = error),
  );
  const url = await Promise.race([listening, done.then(() => Promise.reject(new Error(`serve ended early: ${String(ended)}\n${stderr}`)))]);
  return {
    url,
    stderr: () => stderr,
    async stop() {
      handler?.('SIGINT');
      await done;
      return ended;
    },
  };
}

async function stream(url: string, body: unknown): Promise<Record<string, unknown>[]> {
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(response.status, 200, await response.clone().text());
  const text = await response.text();
  assert.ok(!text.endsWith('\n'), 'the last event has no newline');
  return text.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('toolbench serve agent', () => {
  let model: FakeOpenAI;
  before(async () => {
    model = await startFakeOpenAI();
  });
  after(() => model.close());

  test('answers /stream with the DFSDT events of the search, writes the answer file, stops on Ctrl-C', async () => {
    const out = join(scratch, 'answers');
    const serve = await startServe(['--model', 'gpt-4o-mini', '--base-url', model.baseUrl, '--env', 'local', '--tools', LOCAL_TOOLS, '--out', out]);
    try {
      model.enqueue(...helloScript());
      const events = await stream(serve.url, { text: 'Say hello.', api_list: HELLO_API, method: 'DFS_woFilter_w2' });
      assert.deepEqual(
        events.map((event) => event.method_name),
        [
          'on_tool_retrieval_start',
          'on_tool_retrieval_end',
          'on_request_start',
          'on_chain_start',
          'on_llm_start',
          'on_llm_end',
          'on_agent_action',
          'on_tool_start',
          'on_tool_end',
          'on_chain_start',
          'on_llm_start',
          'on_llm_end',
          'on_agent_action',
          'on_tool_start',
          'on_tool_end',
          'on_chain_end',
          'on_agent_end',
          'on_chain_end',
          'on_agent_end',
          'on_request_end',
        ],
      );
      const byName = (name: string) => events.find((event) => event.method_name === name) as Record<string, unknown>;
      assert.deepEqual((byName('on_tool_retrieval_end').recommendations as { name: string }[]).map((f) => f.name), ['get_hello_world_for_hello_world', 'Finish']);
      assert.match(String(byName('on_tool_end').output), /hello/i);
      assert.equal(byName('on_tool_end').status, 0);
      const end = events.at(-1) as { output: string; chain: { role: string }[] };
      assert.match(end.output, /"final_answer": "hello world"/);
      assert.deepEqual(end.chain.map((message) => message.role), ['system', 'user', 'assistant', 'tool', 'assistant', 'tool']);
      const files = readdirSync(out);
      assert.equal(files.length, 1);
      assert.match(files[0] as string, /_DFS_woFilter_w2\.json$/);
      const answer = JSON.parse(readFileSync(join(out, files[0] as string), 'utf8')) as { win: boolean; answer_generation: { query: string } };
      assert.deepEqual([answer.win, answer.answer_generation.query], [true, 'Say hello.']);

      // CoT: no step events
      model.enqueue(...helloScript());
      const cot = await stream(serve.url, { text: 'Say hello.', api_list: HELLO_API, method: 'CoT@1' });
      assert.deepEqual(cot.map((event) => event.method_name), ['on_tool_retrieval_start', 'on_tool_retrieval_end', 'on_request_start', 'on_request_end']);
    } finally {
      const ended = await serve.stop();
      assert.ok(ended instanceof ToolbenchError && ended.exitCode === 130, String(ended));
    }
    assert.match(serve.stderr(), /POST \/stream 200/);
  });

  test('a model failure ends the stream with on_request_error, and the server goes on', async () => {
    const serve = await startServe(['--model', 'gpt-4o-mini', '--base-url', model.baseUrl, '--env', 'local', '--tools', LOCAL_TOOLS, '--quiet']);
    try {
      // a refused key is not a step that failed (the search goes on) but an error that stops the search
      model.enqueue({ status: 401, body: { error: { message: 'Incorrect API key provided' } } }, ...helloScript());
      const failed = await stream(serve.url, { text: 'Say hello.', api_list: HELLO_API, method: 'CoT@1' });
      const last = failed.at(-1) as { method_name: string; block_id: string; error: string };
      assert.deepEqual([last.method_name, last.block_id], ['on_request_error', 'error']);
      assert.match(last.error, /401|API key/);
      const events = await stream(serve.url, { text: 'Say hello.', api_list: HELLO_API, method: 'DFS_woFilter_w2' });
      assert.equal(events.at(-1)?.method_name, 'on_request_end');
    } finally {
      await serve.stop();
    }
  });

  test('open domain: the retriever chooses the APIs (only those with a tool file), cached embeddings on the next start', async () => {
    const { model: retriever, corpus } = writeLocalRetriever(scratch);
    const cache = join(scratch, 'xdg-cache');
    const args = ['--model', 'gpt-4o-mini', '--base-url', model.baseUrl, '--env', 'local', '--tools', LOCAL_TOOLS, '--retriever', retriever, '--corpus', corpus, '--top-k', '2'];
    for (const run of ['embeds', 'cached']) {
      const serve = await startServe(args, { XDG_CACHE_HOME: cache });
      try {
        model.enqueue(...helloScript());
        const events = await stream(serve.url, { text: 'Say hello.', top_k: 1, method: 'DFS_woFilter_w2' });
        const recommended = (events[1]?.recommendations as { name: string }[]).map((f) => f.name);
        assert.deepEqual(recommended, ['get_hello_world_for_hello_world', 'Finish'], run);
        assert.equal(events.at(-1)?.method_name, 'on_request_end');
      } finally {
        await serve.stop();
      }
      assert.match(serve.stderr(), run === 'embeds' ? /embedding 3 API documents/ : /embeddings from the cache/, run);
    }
    assert.equal(readdirSync(join(cache, 'toolbench', 'retriever')).length, 1);
  });

  test('--model-path: a real small model (SmolLM2-135M GGUF) runs in-process behind the stream', { skip: existsSync(SMOLLM2) ? false : `${SMOLLM2} not found (run node scripts/fetch-test-models.mjs)`, timeout: 120_000 }, async () => {
    const serve = await startServe(['--model-path', SMOLLM2, '--env', 'local', '--tools', LOCAL_TOOLS, '--max-tokens', '16', '--max-query-count', '2', '--quiet']);
    try {
      const events = await stream(serve.url, { text: 'Please say hello world.', api_list: HELLO_API, method: 'DFS_woFilter_w2' });
      // the model's text is whatever it is: two model steps, each reported, then the end
      assert.equal(events.filter((event) => event.method_name === 'on_llm_end').length, 2);
      assert.equal(events.at(-1)?.method_name, 'on_request_end');
    } finally {
      await serve.stop();
    }
  });

  test('Ctrl-C while the retriever loads: exit 130, the server never starts', async () => {
    const { model: retriever, corpus } = writeLocalRetriever(join(scratch, 'interrupted'));
    let stdout = '';
    const io = { stdout: { write: (text: string) => ((stdout += text), true) }, stderr: { write: () => true }, env: { NO_COLOR: '1', OPENAI_API_KEY: 'sk-test', XDG_CACHE_HOME: join(scratch, 'interrupted-cache') } };
    // the signal comes as soon as the command listens, while the model is being loaded
    const signals: StopSignals = { listen: (handler) => (queueMicrotask(() => handler('SIGINT')), () => undefined) };
    const program = new Command().exitOverride();
    registerServeCommand(program, io, { partial: false }, signals);
    const args = ['serve', '--model', 'gpt-4o-mini', '--base-url', model.baseUrl, '--env', 'local', '--tools', LOCAL_TOOLS, '--retriever', retriever, '--corpus', corpus, '--port', '0', '--json'];
    const error = await program.parseAsync(args, { from: 'user' }).then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof ToolbenchError && error.exitCode === 130, String(error));
    assert.equal(stdout, '', 'nothing listened');
  });

  test('usage errors name the flag', async () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'm', '--base-url', 'http://127.0.0.1:1/v1', '--env', 'local'], /--tools DIR is required/],
      [['--model', 'm', '--base-url', 'http://127.0.0.1:1/v1', '--env', 'local', '--tools', LOCAL_TOOLS, '--corpus', 'c.tsv'], /--corpus .*--retriever/],
      [['--model', 'm', '--base-url', 'http://127.0.0.1:1/v1', '--env', 'local', '--tools', LOCAL_TOOLS, '--retriever', 'r'], /--retriever needs --corpus/],
      [['--model', 'm', '--base-url', 'http://127.0.0.1:1/v1', '--env', 'local', '--tools', LOCAL_TOOLS, '--port', 'x'], /--port x/],
      [['--backbone', 'replay', '--env', 'local', '--tools', LOCAL_TOOLS], /replay/],
    ];
    for (const [args, expected] of cases) {
      const program = new Command().exitOverride();
      const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: { NO_COLOR: '1', OPENAI_API_KEY: 'sk-test' } };
      registerServeCommand(program, io, { partial: false }, { listen: () => () => undefined });
      const error = await program.parseAsync(['serve', 'agent', ...args], { from: 'user' }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof ToolbenchError, `${args.join(' ')}: ${String(error)}`);
      assert.equal(error.exitCode, 2, args.join(' '));
      assert.match(error.message, expected);
    }
  });
});

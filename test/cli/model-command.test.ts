/**
 * `toolbench model info | generate | embed` and `infer --model-path`, in-process on tiny random
 * checkpoints (CPU, offline): what each prints, exit codes, and the usage errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../src/runner/generate.js';
import { loadLanguageModel } from '../../src/runner/language-model.js';
import { SentenceEncoder } from '../../src/runner/sentence-encoder.js';
import { runToolbench } from '../helpers/cli.js';
import { fixture } from '../helpers/paths.js';
import { encodeSafetensors } from '../helpers/safetensors-writer.js';
import { normalRandom, writeTinyBert, writeTinyLlama } from '../helpers/tiny-checkpoint.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-model-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const llama = writeTinyLlama(join(scratch, 'tiny-llama'), { seed: 71 });
const llamaF16 = writeTinyLlama(join(scratch, 'tiny-llama-f16'), { seed: 72, dtype: 'F16', tieWordEmbeddings: true });
const bert = writeTinyBert(join(scratch, 'tiny-bert'), { seed: 73 });
const CPU = ['--device', 'cpu', '--threads', '1'];

const parameterCount = (shapes: ReadonlyMap<string, readonly number[]>) => [...shapes.values()].reduce((sum, shape) => sum + shape.reduce((product, size) => product * size, 1), 0);

describe('model info', () => {
  test('--json: format, architecture, config, parameters and weight bytes by stored type, read from the headers', async () => {
    const result = await runToolbench(['model', 'info', llama.dir, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout);
    const parameters = parameterCount(llama.shapes);
    assert.equal(info.path, llama.dir);
    assert.equal(info.format, 'safetensors');
    assert.equal(info.architecture, 'LlamaForCausalLM');
    assert.equal(info.parameters, parameters);
    assert.deepEqual(info.weight_bytes, { F32: parameters * 4 });
    assert.equal(info.tensors, llama.shapes.size);
    assert.equal(info.tokenizer, 'tokenizer.json');
    assert.equal(info.config.kind, 'llama');
    assert.equal(info.config.kvHeads, 2);
    assert.equal(info.config.vocabSize, 384);

    const f16 = JSON.parse((await runToolbench(['model', 'info', llamaF16.dir, '--json'])).stdout);
    assert.equal(f16.parameters, parameterCount(llamaF16.shapes));
    assert.deepEqual(f16.weight_bytes, { F16: parameterCount(llamaF16.shapes) * 2 });
    assert.equal(f16.config.tieWordEmbeddings, true);
    const encoder = JSON.parse((await runToolbench(['model', 'info', bert.dir, '--json'])).stdout);
    assert.equal(encoder.architecture, 'BertModel');
    assert.equal(encoder.parameters, parameterCount(bert.shapes));
  });

  test('text: one "key: value" line per field', async () => {
    const result = await runToolbench(['model', 'info', llama.dir]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.ok(lines.includes('format: safetensors'), result.stdout);
    assert.ok(lines.includes('architecture: LlamaForCausalLM'));
    assert.ok(lines.includes(`parameters: ${parameterCount(llama.shapes)}`));
    assert.ok(lines.includes(`weight_bytes: {"F32":${parameterCount(llama.shapes) * 4}}`));
    assert.match(result.stdout, /^config: \{"kind":"llama",/m);
  });

  test('a sharded checkpoint counts the tensors of both shards', async () => {
    const sharded = writeTinyLlama(join(scratch, 'sharded'), { seed: 74, shards: 2 });
    const info = JSON.parse((await runToolbench(['model', 'info', sharded.dir, '--json'])).stdout);
    assert.equal(info.tensors, sharded.shapes.size);
    assert.equal(info.parameters, parameterCount(sharded.shapes));
  });
});

describe('model generate', () => {
  /** What the library generates greedily for these prompts (the CLI must print the same). */
  let expected: { text: string; finishReason: string; promptTokens: number; tokens: readonly number[] }[];
  const PROMPTS = ['the quick brown fox', 'search for hotels'];
  before(async () => {
    const { lm, tokenizer } = await loadLanguageModel(llama.dir, { device: 'cpu', threads: 1 });
    try {
      expected = [...(await generate(lm, tokenizer, PROMPTS, { maxNewTokens: 6, temperature: 0, topP: 1, seed: 0, stop: [] })).generations];
    } finally {
      await lm.release();
    }
  });

  test('--json: the generations with finish reasons and token counts, the device, and the timings', async () => {
    const result = await runToolbench(['model', 'generate', llama.dir, ...CPU, '--prompt', PROMPTS[0] as string, '--prompt', PROMPTS[1] as string, '--max-new-tokens', '6', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, 'one JSON document');
    const output = JSON.parse(lines[0] as string);
    assert.equal(output.model, llama.dir);
    assert.equal(output.device, 'cpu');
    assert.equal(output.dtype, 'float32');
    assert.deepEqual(
      output.generations,
      expected.map((generation) => ({ text: generation.text, finish_reason: generation.finishReason, prompt_tokens: generation.promptTokens, generated_tokens: generation.tokens.length })),
    );
    assert.deepEqual(Object.keys(output.timing).sort(), ['decode_ms', 'decode_step_ms', 'decode_steps', 'first_token_ms', 'generated_tokens', 'load_ms', 'prefill_ms']);
    const { decode_step_ms: steps, ...figures } = output.timing as Record<string, number> & { decode_step_ms: number[] };
    for (const value of Object.values(figures)) assert.ok(typeof value === 'number' && value >= 0);
    assert.equal(output.timing.decode_steps, 5);
    // one time per decode step, which together are the decode time (less the gaps between steps)
    assert.equal(steps.length, 5);
    assert.ok(steps.every((ms) => ms >= 0) && steps.reduce((a, b) => a + b, 0) <= output.timing.decode_ms + 0.5);
    assert.equal(output.timing.generated_tokens, expected.reduce((sum, generation) => sum + generation.tokens.length, 0));
    assert.match(result.stderr, /model loaded in [\d.]+ s on cpu \(float32\)/);
  });

  test('streamed text: the generation then a newline on stdout; --no-stream prints the same', async () => {
    const args = ['model', 'generate', llama.dir, ...CPU, '--prompt', PROMPTS[0] as string, '--max-new-tokens', '6'];
    const streamed = await runToolbench(args);
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.equal(streamed.stdout, `${expected[0]?.text}\n`);
    assert.match(streamed.stderr, /first token [\d.]+ ms, then [\d.]+ tokens\/s/);
    const whole = await runToolbench([...args, '--no-stream']);
    assert.equal(whole.stdout, streamed.stdout);
    const batch = await runToolbench(['model', 'generate', llama.dir, ...CPU, '--prompt', PROMPTS[0] as string, '--prompt', PROMPTS[1] as string, '--max-new-tokens', '6']);
    assert.equal(batch.stdout, `${expected[0]?.text}\n${expected[1]?.text}\n`, 'a batch prints one text a line');
  });

  test('--prompt-file, --stop, sampling flags and --dtype float16 run', async () => {
    const file = join(scratch, 'prompts.txt');
    writeFileSync(file, `${PROMPTS[0]}\n\n${PROMPTS[1]}\n`);
    const fromFile = JSON.parse((await runToolbench(['model', 'generate', llama.dir, ...CPU, '--prompt-file', file, '--max-new-tokens', '6', '--json'])).stdout);
    assert.deepEqual(
      fromFile.generations.map((generation: { text: string }) => generation.text),
      expected.map((generation) => generation.text),
    );
    const text = expected[0]?.text ?? '';
    const stop = text.slice(2, 4);
    const stopped = JSON.parse((await runToolbench(['model', 'generate', llama.dir, ...CPU, '--prompt', PROMPTS[0] as string, '--max-new-tokens', '6', '--stop', stop, '--json'])).stdout);
    assert.deepEqual(stopped.generations[0], { ...stopped.generations[0], text: text.slice(0, text.indexOf(stop)), finish_reason: 'stop' });
    const sampled = ['--temperature', '1.5', '--top-p', '0.9', '--seed', '3', '--json'];
    const first = await runToolbench(['model', 'generate', llama.dir, ...CPU, '--prompt', PROMPTS[0] as string, '--max-new-tokens', '6', ...sampled]);
    const again = await runToolbench(['model', 'generate', llama.dir, ...CPU, '--prompt', PROMPTS[0] as string, '--max-new-tokens', '6', ...sampled]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).generations, JSON.parse(again.stdout).generations);
    const half = await runToolbench(['model', 'generate', llama.dir, ...CPU, '--dtype', 'float16', '--prompt', PROMPTS[0] as string, '--max-new-tokens', '2', '--json']);
    assert.equal(half.code, 0, half.stderr);
    assert.equal(JSON.parse(half.stdout).dtype, 'float16');
    // auto (the default): an F16 checkpoint still computes in float32 on the CPU
    const auto = await runToolbench(['model', 'generate', llamaF16.dir, ...CPU, '--dtype', 'auto', '--prompt', PROMPTS[0] as string, '--max-new-tokens', '2', '--json']);
    assert.equal(auto.code, 0, auto.stderr);
    assert.equal(JSON.parse(auto.stdout).dtype, 'float32');
  });

  test('usage errors exit 2 with a message that says what is wrong', async () => {
    const empty = join(scratch, 'not-a-model');
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, 'notes.txt'), 'nothing here');
    const cases: [string[], RegExp][] = [
      [['model', 'generate', join(scratch, 'missing'), '--prompt', 'a'], /missing: no such model folder or file/],
      [['model', 'generate', empty, '--prompt', 'a'], /not-a-model: not a model folder: expected config\.json with \*\.safetensors/],
      [['model', 'generate', join(empty, 'notes.txt'), '--prompt', 'a'], /expected a model folder .* or a \.gguf file/],
      [['model', 'generate', bert.dir, ...CPU, '--prompt', 'a'], /a BERT encoder, not a decoder: use "toolbench model embed"/],
      [['model', 'generate', llama.dir], /no prompt: give --prompt TEXT \(repeatable\) or --prompt-file FILE/],
      [['model', 'generate', llama.dir, '--prompt-file', join(scratch, 'none.txt')], /--prompt-file .*none\.txt: cannot read/],
      [['model', 'generate', llama.dir, '--prompt', 'a', '--top-p', '0'], /--top-p 0: expected a number in \(0, 1\]/],
      [['model', 'generate', llama.dir, '--prompt', 'a', '--top-p', '1.5'], /--top-p 1\.5: expected a number in \(0, 1\]/],
      [['model', 'generate', llama.dir, '--prompt', 'a', '--max-new-tokens', '-1'], /--max-new-tokens -1: expected a whole number/],
      [['model', 'generate', llama.dir, '--prompt', 'a', '--temperature', 'hot'], /--temperature hot: expected a number, 0 or more/],
      [['model', 'generate', llama.dir, '--prompt', 'a', '--threads', '0'], /--threads 0: expected a whole number, 1 or more/],
      [['model', 'generate', llama.dir, '--prompt', 'a', '--device', 'tpu'], /argument 'tpu' is invalid. Allowed choices are auto, cuda, webgpu, cpu/],
      [['model', 'generate', llama.dir, ...CPU, '--prompt', 'a '.repeat(200)], /a prompt of \d+ tokens does not fit the model's context of 128/],
      [['model', 'generate', llama.dir, ...CPU, '--prompt', '', '--raw-prompt'], /an empty prompt/],
      [['model', 'embed', llama.dir, ...CPU, '--text', 'a'], /a decoder, not a BERT encoder: use "toolbench model generate"/],
      [['model', 'embed', bert.dir], /no text: give --text TEXT \(repeatable\) or --text-file FILE/],
      [['model', 'embed', bert.dir, '--text', 'a', '--batch-size', '0'], /--batch-size 0: expected a whole number, 1 or more/],
      [['model', 'info', join(scratch, 'missing')], /no such model folder or file/],
      [['model', 'info', empty], /not a model folder/],
    ];
    for (const [args, pattern] of cases) {
      const result = await runToolbench(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern, args.join(' '));
      assert.equal(result.stdout, '', `${args.join(' ')}: nothing on stdout`);
    }
  });
});

describe('model embed', () => {
  const TEXTS = ['find a hotel in paris', 'weather tomorrow', 'hello'];
  let expected: Float32Array[];
  before(async () => {
    const encoder = await SentenceEncoder.load(bert.dir, { device: 'cpu', threads: 1 });
    try {
      expected = await encoder.embed(TEXTS);
    } finally {
      await encoder.release();
    }
  });

  const near = (actual: readonly number[], wanted: Float32Array) => {
    assert.equal(actual.length, wanted.length);
    actual.forEach((value, index) => assert.ok(Math.abs(value - (wanted[index] as number)) <= 1e-6));
  };

  test('one JSON array a line, in input order', async () => {
    const result = await runToolbench(['model', 'embed', bert.dir, ...CPU, ...TEXTS.flatMap((text) => ['--text', text])]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines.length, TEXTS.length);
    lines.forEach((line, index) => near(JSON.parse(line), expected[index] as Float32Array));
  });

  test('--json: one object with the model, device, dimension, head and embeddings; --text-file and --batch-size', async () => {
    const file = join(scratch, 'texts.txt');
    writeFileSync(file, `${TEXTS.slice(1).join('\n')}\n`);
    const result = await runToolbench(['model', 'embed', bert.dir, ...CPU, '--text', TEXTS[0] as string, '--text-file', file, '--batch-size', '2', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const output = JSON.parse(result.stdout);
    assert.deepEqual({ ...output, embeddings: undefined }, { model: bert.dir, device: 'cpu', dimension: 32, pooling: 'mean', normalized: true, embeddings: undefined });
    assert.equal(output.embeddings.length, TEXTS.length);
    output.embeddings.forEach((row: number[], index: number) => near(row, expected[index] as Float32Array));
  });
});

describe('infer --model-path', () => {
  const QUERY = [{ query: 'Say hello.', query_id: 1, api_list: [{ category_name: 'Customized', tool_name: 'hello world', api_name: 'get_hello_world' }] }];
  const queries = join(scratch, 'queries.json');
  writeFileSync(queries, JSON.stringify(QUERY));
  const LOCAL = ['--env', 'local', '--tools', fixture('toolenv-local')];

  /** A PEFT adapter for the tiny LLaMA's q_proj of layer 0. */
  function writeAdapter(): string {
    const dir = join(scratch, 'adapter');
    mkdirSync(dir, { recursive: true });
    const random = normalRandom(75);
    const values = (count: number) => Float32Array.from({ length: count }, () => 0.3 * random());
    const { bytes } = encodeSafetensors(
      [
        { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [4, 32], data: values(128) },
        { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', shape: [32, 4], data: values(128) },
      ],
      'F32',
    );
    writeFileSync(join(dir, 'adapter_model.safetensors'), bytes);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj'] }));
    return dir;
  }

  test('runs a query end to end on the checkpoint against local tools and writes its answer file, whatever the text', async () => {
    // the ToolLLaMA prompt (~2000 tokens here) is longer than the tiny context (128): its last tokens are kept
    const out = join(scratch, 'answers');
    const result = await runToolbench(['infer', '--queries', queries, '--out', out, '--model-path', llama.dir, '--method', 'CoT@1', ...LOCAL]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(out), ['1_CoT@1.json']);
    const answer = JSON.parse(readFileSync(join(out, '1_CoT@1.json'), 'utf8'));
    assert.deepEqual(answer.toolbench.backbone, { backbone: 'toolllama', model: 'tiny-llama', model_path: llama.dir, shape: 'functions', history: 'training', temperature: 0, seed: null, max_tokens: 1024 });
    assert.equal(answer.answer_generation.query, 'Say hello.');
    assert.ok(answer.answer_generation.query_count >= 1, 'the model was called');
    assert.ok(answer.answer_generation.total_tokens <= answer.answer_generation.query_count * 128, 'every call fits the context');
    assert.match(result.stderr, /infer: 1 answered/);
  });

  test('with --lora-path, --truncate-prompt-tokens and --max-tokens: the adapter is recorded and the calls are that size', async () => {
    const out = join(scratch, 'answers-lora');
    const adapter = writeAdapter();
    const flags = ['--lora-path', adapter, '--truncate-prompt-tokens', '40', '--max-tokens', '5', '--model', 'ToolLLaMA-tiny'];
    const result = await runToolbench(['infer', '--queries', queries, '--out', out, '--model-path', llama.dir, '--method', 'CoT@1', ...LOCAL, ...flags]);
    assert.equal(result.code, 0, result.stderr);
    const answer = JSON.parse(readFileSync(join(out, '1_CoT@1.json'), 'utf8'));
    assert.deepEqual(answer.toolbench.backbone, { backbone: 'toolllama', model: 'ToolLLaMA-tiny', model_path: llama.dir, lora_path: adapter, shape: 'functions', history: 'training', temperature: 0, seed: null, max_tokens: 5 });
    assert.ok(answer.answer_generation.total_tokens <= answer.answer_generation.query_count * 45);
  });

  test('--lora-path without --model-path, --model-path with --base-url or another backbone, a bad model or adapter path: usage errors at start-up', async () => {
    const cases: [string[], RegExp][] = [
      [['--lora-path', join(scratch, 'adapter'), '--backbone', 'toolllama', '--model', 'm', '--base-url', 'http://127.0.0.1:1/v1'], /--lora-path is an adapter for --model-path DIR/],
      [['--model-path', llama.dir, '--base-url', 'http://127.0.0.1:1/v1'], /--model-path runs the model in-process; --base-url is for a model served elsewhere/],
      [['--model-path', llama.dir, '--backbone', 'openai'], /--model-path runs the checkpoint in-process with --backbone toolllama, not openai/],
      [['--model-path', join(scratch, 'missing'), '--method', 'CoT@1'], /missing: no such model folder or file/],
      [['--model-path', llama.dir, '--lora-path', join(scratch, 'missing'), '--method', 'CoT@1'], /missing: not a PEFT adapter folder/],
    ];
    for (const [args, pattern] of cases) {
      const out = join(scratch, 'never');
      const result = await runToolbench(['infer', '--queries', queries, '--out', out, ...LOCAL, ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern, args.join(' '));
      assert.doesNotMatch(result.stderr, /answered|in progress/, 'refused at start-up, before any query runs');
      assert.throws(() => readdirSync(out), /ENOENT/, 'no answers written');
    }
  });
});

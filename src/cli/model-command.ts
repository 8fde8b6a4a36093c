/**
 * `toolbench model info | generate | embed`: inspect a checkpoint and run it on the model runner
 * (ONNX graphs built from the checkpoint, run by onnxruntime-node on CUDA, WebGPU or CPU).
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { usageError } from '../util/errors.js';
import { describeModel } from '../runner/model-info.js';
import { FLOAT_REQUESTS, type FloatRequest } from '../runner/causal-lm.js';
import { generate } from '../runner/generate.js';
import { DEVICE_REQUESTS, type DeviceRequest } from '../runner/session.js';
import { SentenceEncoder } from '../runner/sentence-encoder.js';
import { loadLanguageModel } from '../runner/language-model.js';
import { DEFAULT_LLAMA_GRAPH, LLAMA_GRAPH_KINDS, type LlamaGraphKind } from '../runner/llama-graph.js';
import { applyLora, LORA_MODES, readLoraAdapter, type LoraMode } from '../runner/lora.js';
import { createReporter, type CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';

interface DeviceFlags {
  device: DeviceRequest;
  dtype: FloatRequest;
  threads?: string;
  json?: boolean;
  color?: boolean;
}

interface GenerateFlags extends DeviceFlags {
  prompt?: string[];
  promptFile?: string;
  maxNewTokens: string;
  temperature: string;
  topP: string;
  seed: string;
  stop?: string[];
  stream: boolean;
  rawPrompt?: boolean;
  graph: LlamaGraphKind;
  loraPath?: string;
  loraMode: LoraMode;
}

interface EmbedFlags extends DeviceFlags {
  text?: string[];
  textFile?: string;
  batchSize: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function addDeviceOptions(command: Command): Command {
  return command
    .addOption(new Option('--device <device>', 'where to run: auto picks CUDA when its provider is installed, else CPU').choices([...DEVICE_REQUESTS]).default('auto'))
    .addOption(
      new Option('--dtype <type>', 'compute type of the generated graph; auto: float16 on a GPU for weights stored in 16 bits or quantised (GGUF), else float32 (always float32 on the CPU, and for embeddings)')
        .choices([...FLOAT_REQUESTS])
        .default('auto'),
    )
    .option('--threads <n>', 'CPU threads per operator (onnxruntime default: one per core)');
}

export function registerModelCommand(program: Command, io: CliIo, _outcome: CommandOutcome): void {
  const model = program
    .command('model')
    .description('inspect and run a checkpoint with the model runner (Hugging Face safetensors, GGUF, Optimum model.onnx)')
    .addHelpText('after', '\nRun "toolbench model <command> --help" for the options and examples of each command.');

  model
    .command('info')
    .description('what a checkpoint is: architecture, sizes, weights, tokenizer (reads headers only)')
    .argument('<path>', 'a checkpoint folder (config.json + *.safetensors, or model.onnx) or a .gguf file')
    .option('--json', 'print the description as JSON')
    .addHelpText('after', '\nExamples:\n  $ toolbench model info models/ToolLLaMA-2-7b-v2\n  $ toolbench model info SmolLM2-135M-Instruct.Q4_1.gguf --json | jq .parameters')
    .action((path: string, _flags: unknown, self: Command) => {
      const flags = self.optsWithGlobals() as { json?: boolean };
      const info = describeModel(path);
      if (flags.json) io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      else io.stdout.write(`${Object.entries(info).map(([key, value]) => `${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`).join('\n')}\n`);
    });

  addDeviceOptions(
    model
      .command('generate')
      .description('generate text from prompts (one batch, left-padded), streamed to stdout')
      .argument('<path>', 'a LLaMA-family checkpoint folder or .gguf file')
      .option('--prompt <text>', 'a prompt (repeat for a batch)', collect)
      .option('--prompt-file <file>', 'prompts, one per line')
      .option('--max-new-tokens <n>', 'tokens to generate at most', '128')
      .option('--temperature <t>', '0 is greedy', '0')
      .option('--top-p <p>', 'nucleus sampling mass', '1')
      .option('--seed <n>', 'seed for sampling', '0')
      .option('--stop <text>', 'stop before this text (repeatable)', collect)
      .option('--raw-prompt', 'do not add the tokenizer\'s special tokens (BOS) to the prompt')
      .option('--no-stream', 'print the text when done instead of as it comes')
      .option('--json', 'print the generations, token counts and timings as JSON')
      .addOption(
        new Option('--graph <graph>', 'the decoder graph built from the weights: fused (onnxruntime fused operators, GGUF quants on MatMulNBits) or unfused (standard operators only, the reference)')
          .choices([...LLAMA_GRAPH_KINDS])
          .default(DEFAULT_LLAMA_GRAPH),
      )
      .option('--lora-path <dir>', 'a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) for the model')
      .addOption(
        new Option('--lora-mode <mode>', 'how --lora-path is applied: merge (into the weights at load), branch (a low-rank side branch in the graph) or auto (branch for the weights the base has quantised, which then stay packed; merge for the others)')
          .choices([...LORA_MODES])
          .default('auto'),
      ),
  )
    .addHelpText(
      'after',
      `
The graph is built from the checkpoint at start-up (no export step); --device auto uses CUDA when
its provider is installed ("toolbench setup cuda"), else the CPU, and says so on stderr.

Examples:
  $ toolbench model generate models/SmolLM2-135M-Instruct --prompt "The capital of France is" --max-new-tokens 20
  $ toolbench model generate SmolLM2-135M-Instruct.Q4_1.gguf --prompt "a" --prompt "b" --json | jq '.generations[].text'
  $ toolbench model generate SmolLM2-135M-Instruct.Q4_1.gguf --lora-path adapters/smollm2-tools --prompt "search for hotels"`,
    )
    .action(async (path: string, _flags: unknown, self: Command) => runGenerate(path, self.optsWithGlobals() as GenerateFlags, io));

  addDeviceOptions(
    model
      .command('embed')
      .description('sentence embeddings from a BERT checkpoint (sentence-transformers layout: pooling and normalisation as configured)')
      .argument('<path>', 'a BERT checkpoint folder')
      .option('--text <text>', 'a text to embed (repeatable)', collect)
      .option('--text-file <file>', 'texts, one per line')
      .option('--batch-size <n>', 'texts per batch', '32')
      .option('--json', 'print one JSON object with the model, device and embeddings'),
  )
    .addHelpText(
      'after',
      `
Prints one embedding per line as a JSON array, in input order (or one JSON object with --json).

Examples:
  $ toolbench model embed models/all-MiniLM-L6-v2 --text "find a hotel in Paris" --text "weather tomorrow"
  $ toolbench model embed models/ToolBench_IR_bert_based_uncased --text-file queries.txt > embeddings.jsonl`,
    )
    .action(async (path: string, _flags: unknown, self: Command) => runEmbed(path, self.optsWithGlobals() as EmbedFlags, io));
}

function numberFlag(flag: string, text: string, check: (value: number) => boolean, expected: string): number {
  const value = Number(text);
  if (text.trim() === '' || !check(value)) throw usageError(`${flag} ${text}: expected ${expected}`);
  return value;
}

function textsOf(values: string[] | undefined, file: string | undefined, flag: string): string[] {
  const texts = [...(values ?? [])];
  if (file !== undefined) {
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (error) {
      throw usageError(`${flag} ${file}: cannot read: ${(error as Error).message}`);
    }
    texts.push(...content.split('\n').filter((line) => line !== ''));
  }
  return texts;
}

function runtimeSettings(flags: DeviceFlags): { device: DeviceRequest; threads?: number; floatType: FloatRequest } {
  const threads = flags.threads === undefined ? undefined : numberFlag('--threads', flags.threads, (value) => Number.isSafeInteger(value) && value >= 1, 'a whole number, 1 or more');
  return { device: flags.device, floatType: flags.dtype, ...(threads !== undefined ? { threads } : {}) };
}

async function runGenerate(path: string, flags: GenerateFlags, io: CliIo): Promise<void> {
  const reporter = createReporter(io, { color: flags.color });
  const prompts = textsOf(flags.prompt, flags.promptFile, '--prompt-file');
  if (prompts.length === 0) throw usageError('no prompt: give --prompt TEXT (repeatable) or --prompt-file FILE');
  const options = {
    maxNewTokens: numberFlag('--max-new-tokens', flags.maxNewTokens, (value) => Number.isSafeInteger(value) && value >= 0, 'a whole number'),
    temperature: numberFlag('--temperature', flags.temperature, (value) => value >= 0, 'a number, 0 or more'),
    topP: numberFlag('--top-p', flags.topP, (value) => value > 0 && value <= 1, 'a number in (0, 1]'),
    seed: numberFlag('--seed', flags.seed, (value) => Number.isSafeInteger(value) && value >= 0, 'a non-negative whole number'),
    stop: flags.stop ?? [],
  };
  const adapter = flags.loraPath === undefined ? undefined : readLoraAdapter(flags.loraPath);
  const loadStarted = performance.now();
  const { lm, tokenizer } = await loadLanguageModel(path, { ...runtimeSettings(flags), graph: flags.graph, ...(adapter !== undefined ? { adaptWeights: (weights) => applyLora(weights, adapter, flags.loraMode) } : {}) });
  const loadMs = performance.now() - loadStarted;
  for (const fallback of lm.deviceNotes) reporter.warn(`device ${fallback}`);
  reporter.info(`model loaded in ${(loadMs / 1000).toFixed(1)} s on ${lm.device} (${lm.floatType})${adapter !== undefined ? `, adapter ${adapter.dir} (${flags.loraMode})` : ''}`);
  const streaming = flags.stream && !flags.json && prompts.length === 1;
  try {
    const result = await generate(lm, tokenizer, prompts, {
      ...options,
      ...(flags.rawPrompt ? { addSpecialTokens: false } : {}),
      ...(streaming ? { onText: (_row: number, text: string) => io.stdout.write(text) } : {}),
    });
    if (flags.json) {
      const generatedTokens = result.generations.reduce((sum, generation) => sum + generation.tokens.length, 0);
      io.stdout.write(
        `${JSON.stringify({
          model: path,
          device: lm.device,
          dtype: lm.floatType,
          generations: result.generations.map((generation) => ({ text: generation.text, finish_reason: generation.finishReason, prompt_tokens: generation.promptTokens, generated_tokens: generation.tokens.length })),
          timing: {
            load_ms: round(loadMs),
            prefill_ms: round(result.timing.prefillMs),
            first_token_ms: round(result.timing.firstTokenMs),
            decode_ms: round(result.timing.decodeMs),
            decode_steps: result.timing.decodeSteps,
            decode_step_ms: result.timing.stepMs.map(round),
            generated_tokens: generatedTokens,
          },
        })}\n`,
      );
    } else if (streaming) {
      io.stdout.write('\n');
    } else {
      for (const generation of result.generations) io.stdout.write(`${generation.text}\n`);
    }
    const steps = result.timing.decodeSteps;
    if (!flags.json && steps > 0) reporter.info(`first token ${round(result.timing.firstTokenMs)} ms, then ${((steps * prompts.length) / (result.timing.decodeMs / 1000)).toFixed(1)} tokens/s`);
  } finally {
    await lm.release();
  }
}

async function runEmbed(path: string, flags: EmbedFlags, io: CliIo): Promise<void> {
  const reporter = createReporter(io, { color: flags.color });
  const texts = textsOf(flags.text, flags.textFile, '--text-file');
  if (texts.length === 0) throw usageError('no text: give --text TEXT (repeatable) or --text-file FILE');
  const batchSize = numberFlag('--batch-size', flags.batchSize, (value) => Number.isSafeInteger(value) && value >= 1, 'a whole number, 1 or more');
  const settings = runtimeSettings(flags);
  // the encoder is small: auto keeps it in float32 everywhere
  const encoder = await SentenceEncoder.load(path, { ...settings, floatType: settings.floatType === 'auto' ? 'float32' : settings.floatType });
  for (const fallback of encoder.deviceNotes) reporter.warn(`device ${fallback}`);
  try {
    const embeddings = await encoder.embed(texts, batchSize);
    if (flags.json) {
      io.stdout.write(`${JSON.stringify({ model: path, device: encoder.device, dimension: encoder.config.hiddenSize, pooling: encoder.head.pooling, normalized: encoder.head.normalize, embeddings: embeddings.map((row) => Array.from(row)) })}\n`);
    } else {
      for (const row of embeddings) io.stdout.write(`${JSON.stringify(Array.from(row))}\n`);
    }
  } finally {
    await encoder.release();
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

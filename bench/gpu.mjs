// GPU decode benchmark (issue 7's GPU target): a random LLaMA-2-7B-shaped checkpoint in float16,
// decoded at batch 1 by `toolbench model generate --json` on each device asked for, against the
// memory-bandwidth bound (weight bytes per token / HBM bandwidth) and against Hugging Face
// transformers' generate() on the same checkpoint (bench/gpu_reference.py). Target: at least 50%
// of the bound, and no slower than transformers.
//
//   node bench/gpu.mjs [--shape 7b|tiny] [--devices webgpu,cuda] [--new-tokens 128] [--prompt-tokens 128]
//                      [--toolbench dist/toolbench.mjs] [--python python3] [--tokenizer DIR]
//                      [--bandwidth-gbs N] [--work DIR]
//
// Plain node, no TypeScript loader: it runs on the GPU machine from the kit that
// scripts/device-kit.mjs assembles (node, the bundle, onnxruntime-node, the Vulkan loader and a
// 32,000-token tokenizer; see docs/runner.md, "Measuring on a GPU"). `--shape tiny` with
// `--devices cpu,webgpu` checks the script itself on a machine without a GPU (.ci/run does).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    shape: { type: 'string', default: '7b' },
    devices: { type: 'string', default: 'webgpu,cuda' },
    'new-tokens': { type: 'string', default: '128' },
    'prompt-tokens': { type: 'string', default: '128' },
    toolbench: { type: 'string', default: 'dist/toolbench.mjs' },
    python: { type: 'string', default: process.env.TOOLBENCH_GOLDEN_PYTHON ?? 'python3' },
    tokenizer: { type: 'string', default: '.device/kit/tokenizer' },
    'bandwidth-gbs': { type: 'string' },
    work: { type: 'string', default: join(tmpdir(), 'toolbench-gpu-bench') },
  },
});
const newTokens = Number(flags['new-tokens']);
const promptTokens = Number(flags['prompt-tokens']);

/** HBM bandwidth by GPU name, GB/s (vendor figures); `--bandwidth-gbs` for others. */
const BANDWIDTH_GBS = [
  [/H200/, 4800],
  [/H100.*NVL/, 3900],
  [/H100.*PCIe/, 2000],
  [/H100/, 3350],
  [/A100.*80GB.*PCIe/, 1935],
  [/A100.*80GB/, 2039],
  [/A100/, 1555],
  [/L40S?/, 864],
  [/A10G?\b/, 600],
];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${(result.stderr || result.error?.message || '').trim().split('\n').slice(-5).join(' | ')}`);
  return result.stdout;
}

/** The JSON object a command printed last (one line, or pretty-printed from a line that is just "{"). */
function lastJson(text) {
  const lines = text.trim().split('\n');
  const start = lines.findLastIndex((line) => line.startsWith('{'));
  return JSON.parse(lines.slice(start).join('\n'));
}

function gpuName() {
  const result = spawnSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().split('\n')[0] : undefined;
}

/**
 * The kit's tokenizer folder, or one written under --work from the test helper when there is no
 * kit (that import needs the TypeScript loader: node --import tsx bench/gpu.mjs).
 */
async function tokenizerDir() {
  if (existsSync(join(flags.tokenizer, 'tokenizer.json'))) return flags.tokenizer;
  const dir = join(flags.work, 'tokenizer');
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    const { llamaSentencePieceTokenizer } = await import('../test/helpers/tiny-tokenizers.ts');
    const { tokenizer, tokenizerConfig } = llamaSentencePieceTokenizer(32000, 4096);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  }
  return dir;
}

/** The checkpoint: made once per shape under --work, with the tokenizer beside it. */
async function checkpoint() {
  const dir = join(flags.work, `llama-${flags.shape}-fp16`);
  if (!existsSync(join(dir, 'config.json'))) {
    mkdirSync(dir, { recursive: true });
    run(flags.python, ['bench/gpu_reference.py', 'make', dir, flags.shape], { stdio: ['ignore', 'pipe', 'inherit'] });
  }
  const tokenizer = await tokenizerDir();
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tokenizer, name), join(dir, name));
  return dir;
}

function weightBytes(dir) {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.safetensors'))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** Why a device cannot be measured here (its provider missing or failing its probe, per `toolbench doctor --probe`), or undefined. */
function unavailable(device, providers) {
  const provider = providers[device];
  if (provider === undefined) return `unknown device ${device}`;
  if (!provider.installed) return device === 'cuda' ? 'the CUDA provider is not installed (toolbench setup cuda; it is too large for the kit)' : 'not in this onnxruntime build';
  if (provider.probe?.ok === false) return `its probe failed: ${provider.probe.error ?? ''}`;
  return undefined;
}

/** toolbench model generate on one device: its own timing, from --json. */
function ours(dir, device, promptFile, providers) {
  // a device that would fall back to the CPU is not run: a 7B model decodes there for many minutes
  const why = unavailable(device, providers);
  if (why !== undefined) return { device, skipped: why };
  const args = [flags.toolbench, 'model', 'generate', dir, '--device', device, '--dtype', 'float16', '--prompt-file', promptFile, '--max-new-tokens', String(newTokens), '--json'];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.status !== 0) return { device, failed: (result.stderr || '').trim().split('\n').slice(-3).join(' | ') };
  const report = lastJson(result.stdout);
  const notes = (result.stderr || '').split('\n').filter((line) => line.startsWith('warning: device'));
  const { timing } = report;
  return {
    device: report.device,
    ...(report.device !== device ? { asked: device } : {}),
    ...(notes.length > 0 ? { notes } : {}),
    prompt_tokens: report.generations[0]?.prompt_tokens,
    generated_tokens: timing.generated_tokens,
    load_ms: timing.load_ms,
    time_to_first_token_ms: timing.first_token_ms,
    decode_tokens_per_s: timing.decode_steps > 0 ? Number((timing.decode_steps / (timing.decode_ms / 1000)).toFixed(2)) : undefined,
  };
}

mkdirSync(flags.work, { recursive: true });
const dir = await checkpoint();
const bytes = weightBytes(dir);
// a prompt of about --prompt-tokens tokens (a word is about one token in the kit's tokenizer)
const promptFile = join(flags.work, 'prompt.txt');
writeFileSync(promptFile, `${Array.from({ length: promptTokens }, (_, index) => ['tool', 'call', 'weather', 'hotel'][index % 4]).join(' ')}\n`);

const providers = lastJson(run(process.execPath, [flags.toolbench, 'doctor', '--probe', '--json'])).providers;
const name = gpuName();
const bandwidth = flags['bandwidth-gbs'] !== undefined ? Number(flags['bandwidth-gbs']) : BANDWIDTH_GBS.find(([pattern]) => name !== undefined && pattern.test(name))?.[1];
const bound = bandwidth !== undefined ? (bandwidth * 1e9) / bytes : undefined;
const report = {
  shape: flags.shape,
  gpu: name ?? 'none (nvidia-smi did not answer)',
  weight_gb: Number((bytes / 1e9).toFixed(3)),
  ...(bandwidth !== undefined ? { hbm_bandwidth_gbs: bandwidth, bound_tokens_per_s: Number(bound.toFixed(2)) } : { bound: 'unknown GPU: give --bandwidth-gbs' }),
  runner: flags.devices.split(',').map((device) => ours(dir, device.trim(), promptFile, providers)),
};
const promptLength = report.runner.find((entry) => entry.prompt_tokens !== undefined)?.prompt_tokens ?? promptTokens;
try {
  report.transformers = lastJson(run(flags.python, ['bench/gpu_reference.py', 'generate', dir, String(promptLength), String(newTokens)]));
} catch (error) {
  report.transformers = { failed: error.message };
}
report.ratios = Object.fromEntries(
  report.runner
    .filter((entry) => entry.decode_tokens_per_s !== undefined)
    .flatMap((entry) => [
      ...(bound !== undefined ? [[`${entry.device}_of_bound`, Number((entry.decode_tokens_per_s / bound).toFixed(3))]] : []),
      ...(report.transformers.decode_tokens_per_s !== undefined ? [[`${entry.device}_vs_transformers`, Number((entry.decode_tokens_per_s / report.transformers.decode_tokens_per_s).toFixed(3))]] : []),
    ]),
);
report.targets = 'decode at batch 1: >= 0.5 of the bandwidth bound, >= transformers generate() (ratio >= 1)';
console.log(JSON.stringify(report, null, 2));
// a run that could not measure what it was asked for fails (skipped devices are not failures)
if (report.runner.some((entry) => entry.failed !== undefined) || report.transformers.failed !== undefined) process.exitCode = 1;

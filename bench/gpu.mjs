// GPU decode benchmark (issue 7's GPU target): a random LLaMA-2-7B-shaped checkpoint in float16,
// decoded at batch 1 by `toolbench model generate --json` on each device asked for, against the
// memory-bandwidth bound (bytes of weights read per token / HBM bandwidth) and against Hugging Face
// transformers' generate() on the same checkpoint (bench/gpu_reference.py). Target: at least 50%
// of the bound, and no slower than transformers.
//
//   node bench/gpu.mjs [--shape 7b|7b-2l|tiny] [--devices webgpu,cuda] [--new-tokens 128]
//                      [--prompt-tokens 128] [--toolbench dist/toolbench.mjs] [--python python3]
//                      [--tokenizer DIR] [--bandwidth-gbs N] [--work DIR] [--step-timeout-s 540]
//
// Plain node, no TypeScript loader: it runs on the GPU machine from the kit that
// scripts/device-kit.mjs assembles (docs/runner.md, "Measuring on a GPU"). `7b-2l` has the 7B
// widths and 2 layers: a quick first run there. `--shape tiny --devices cpu,webgpu` checks the
// script itself on a machine without a GPU (.ci/run does).
//
// Each step prints what it found to stderr as it ends, and each has a time limit, so that a run
// cut short by the machine's own limit still says how far it got.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
    tokenizer: { type: 'string', default: '.device/run/tokenizer' },
    'bandwidth-gbs': { type: 'string' },
    work: { type: 'string', default: join(tmpdir(), 'toolbench-gpu-bench') },
    'step-timeout-s': { type: 'string', default: '540' },
  },
});
const newTokens = Number(flags['new-tokens']);
const promptTokens = Number(flags['prompt-tokens']);
const stepTimeoutMs = Number(flags['step-timeout-s']) * 1000;
/** Decode steps left out of our rate: the first ones compile the GPU provider's shaders (transformers warms up with a run of its own). */
const WARM_UP_STEPS = 4;

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

/** Where Vulkan loaders look for NVIDIA's driver manifest (and where some containers keep it). */
const NVIDIA_ICD_FILES = ['/usr/share/vulkan/icd.d/nvidia_icd.json', '/etc/vulkan/icd.d/nvidia_icd.json', '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json'];

const say = (what) => console.error(`[gpu bench] ${typeof what === 'string' ? what : JSON.stringify(what)}`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26, timeout: stepTimeoutMs, ...options });
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

/** Why a device cannot be measured here, or undefined: its provider missing or failing `doctor --probe`, or WebGPU on an NVIDIA machine without NVIDIA's Vulkan driver (it would run on a software adapter). */
function unavailable(device, providers, nvidia) {
  const provider = providers[device];
  if (provider === undefined) return `unknown device ${device}`;
  if (!provider.installed) return device === 'cuda' ? 'the CUDA provider is not installed (toolbench setup cuda; it is too large for the kit)' : 'not in this onnxruntime build';
  if (provider.probe?.ok === false) return `its probe failed: ${provider.probe.error ?? ''}`;
  if (device === 'webgpu' && nvidia !== undefined) {
    const manifests = [process.env.VK_DRIVER_FILES, process.env.VK_ICD_FILENAMES].filter(Boolean).flatMap((list) => list.split(':'));
    if (![...manifests, ...NVIDIA_ICD_FILES].some((file) => file.includes('nvidia') && existsSync(file))) {
      return "no NVIDIA Vulkan driver manifest (nvidia_icd.json): WebGPU would run on a software adapter; the container needs the driver's 'graphics' capability";
    }
  }
  // a software adapter checks the script on the tiny shape; it would take hours on a 7B one
  if (device === 'webgpu' && flags.shape !== 'tiny' && provider.note !== undefined) return provider.note;
  return undefined;
}

/** The kit's tokenizer folder, or one written under --work from the test helper (which needs node --import tsx). */
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

/** The checkpoint: made once per shape under --work (into a folder renamed when complete, so a cut-short run is not reused). */
async function checkpoint() {
  const dir = join(flags.work, `llama-${flags.shape}-fp16`);
  if (!existsSync(dir)) {
    const partial = `${dir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    const started = Date.now();
    run(flags.python, ['bench/gpu_reference.py', 'make', partial, flags.shape], { stdio: ['ignore', 'pipe', 'inherit'] });
    renameSync(partial, dir);
    say(`checkpoint ${dir} made in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const tokenizer = await tokenizerDir();
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tokenizer, name), join(dir, name));
  return dir;
}

/** Bytes read per decoded token: every weight but the embedding table, of which a step gathers one row (unless it is also the output head). */
function bytesPerToken(dir) {
  const files = readdirSync(dir).filter((name) => name.endsWith('.safetensors'));
  const total = files.reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const embedding = config.tie_word_embeddings ? 0 : config.vocab_size * config.hidden_size * 2;
  return { total, perToken: total - embedding };
}

/** toolbench model generate on one device, stopped at once if it falls back to another device. */
function ours(dir, device, promptFile) {
  const args = [flags.toolbench, 'model', 'generate', dir, '--device', device, '--dtype', 'float16', '--prompt-file', promptFile, '--max-new-tokens', String(newTokens), '--json'];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stopped;
    const stop = (why) => {
      stopped ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop(`no result in ${stepTimeoutMs / 1000} s`), stepTimeoutMs);
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      // a 7B model that fell back to the CPU would decode there for the rest of the machine's time
      const loaded = /model loaded in [\d.]+ s on (\w+)/.exec(stderr);
      if (loaded !== null && loaded[1] !== device) stop(`fell back to ${loaded[1]}: ${stderr.split('\n').filter((line) => line.startsWith('warning: device')).join(' | ')}`);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (stopped !== undefined) return resolve({ device, failed: stopped });
      if (code !== 0) return resolve({ device, failed: stderr.trim().split('\n').slice(-3).join(' | ') });
      const report = lastJson(stdout);
      const { timing } = report;
      const steady = timing.decode_step_ms.slice(WARM_UP_STEPS);
      const notes = stderr.split('\n').filter((line) => line.startsWith('warning: device'));
      resolve({
        device: report.device,
        ...(notes.length > 0 ? { notes } : {}),
        prompt_tokens: report.generations[0]?.prompt_tokens,
        generated_tokens: timing.generated_tokens,
        ...(timing.generated_tokens < newTokens ? { ended_early: 'an end token came first: the rate is over fewer steps' } : {}),
        load_ms: timing.load_ms,
        time_to_first_token_ms: timing.first_token_ms,
        first_steps_ms: timing.decode_step_ms.slice(0, WARM_UP_STEPS),
        decode_tokens_per_s: steady.length > 0 ? Number((steady.length / (steady.reduce((a, b) => a + b, 0) / 1000)).toFixed(2)) : undefined,
      });
    });
  });
}

mkdirSync(flags.work, { recursive: true });
const name = gpuName();
// the providers first: nothing is made for a device that cannot run
const providers = lastJson(run(process.execPath, [flags.toolbench, 'doctor', '--probe', '--json'])).providers;
const devices = flags.devices.split(',').map((device) => device.trim());
const skipped = Object.fromEntries(devices.map((device) => [device, unavailable(device, providers, name)]).filter(([, why]) => why !== undefined));
for (const [device, why] of Object.entries(skipped)) say(`${device} skipped: ${why}`);
const runnable = devices.filter((device) => skipped[device] === undefined);
if (runnable.length === 0) {
  console.log(JSON.stringify({ gpu: name ?? 'none', skipped }, null, 2));
  process.exit(1);
}

const dir = await checkpoint();
const bytes = bytesPerToken(dir);
// a prompt of about --prompt-tokens tokens (a word is about one token in the kit's tokenizer)
const promptFile = join(flags.work, 'prompt.txt');
writeFileSync(promptFile, `${Array.from({ length: promptTokens }, (_, index) => ['tool', 'call', 'weather', 'hotel'][index % 4]).join(' ')}\n`);
const bandwidth = flags['bandwidth-gbs'] !== undefined ? Number(flags['bandwidth-gbs']) : BANDWIDTH_GBS.find(([pattern]) => name !== undefined && pattern.test(name))?.[1];
const bound = bandwidth !== undefined ? (bandwidth * 1e9) / bytes.perToken : undefined;
const report = {
  shape: flags.shape,
  gpu: name ?? 'none (nvidia-smi did not answer)',
  weight_gb: Number((bytes.total / 1e9).toFixed(3)),
  read_per_token_gb: Number((bytes.perToken / 1e9).toFixed(3)),
  ...(bandwidth !== undefined ? { hbm_bandwidth_gbs: bandwidth, bound_tokens_per_s: Number(bound.toFixed(2)) } : { bound: 'unknown GPU: give --bandwidth-gbs' }),
  runner: [],
  ...(Object.keys(skipped).length > 0 ? { skipped } : {}),
};
for (const device of runnable) {
  const entry = await ours(dir, device, promptFile);
  say(entry);
  report.runner.push(entry);
}
const promptLength = report.runner.find((entry) => entry.prompt_tokens !== undefined)?.prompt_tokens ?? promptTokens;
try {
  report.transformers = lastJson(run(flags.python, ['bench/gpu_reference.py', 'generate', dir, String(promptLength), String(newTokens)]));
} catch (error) {
  report.transformers = { failed: error.message };
}
say({ transformers: report.transformers });
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
// a run that could not measure what it was asked for fails
if (report.runner.some((entry) => entry.failed !== undefined) || report.transformers.failed !== undefined) process.exitCode = 1;

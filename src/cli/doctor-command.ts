/**
 * `toolbench doctor`: what is installed and usable here: node and onnxruntime-node, the execution
 * providers (optionally probed), NVIDIA GPUs, the CUDA provider's shared libraries, and which keys
 * are set (never their values). Exit 0 whatever it finds.
 */
import type { Command } from 'commander';
import type { ChalkInstance } from 'chalk';
import packageJson from '../../package.json' with { type: 'json' };
import { checkRunner, type CudaLibraryCheck, type RunnerCheck } from '../runner/runner-check.js';
import type { LibraryLocation } from '../runner/shared-libraries.js';
import { createReporter, type CliIo } from './io.js';

/** Keys and key files the commands read from the environment (architecture.md), with their upstream aliases. */
const KEYS: readonly { name: string; aliases: readonly string[] }[] = [
  { name: 'OPENAI_API_KEY', aliases: ['OPENAI_KEY'] },
  { name: 'TOOLBENCH_KEY', aliases: [] },
  { name: 'RAPIDAPI_KEY', aliases: [] },
  { name: 'API_POOL_FILE', aliases: [] },
];

interface DoctorFlags {
  json?: boolean;
  probe?: boolean;
  color?: boolean;
}

export function registerDoctorCommand(program: Command, io: CliIo): void {
  program
    .command('doctor')
    .description('what is installed and usable: onnxruntime providers, GPUs, CUDA libraries, keys set')
    .option('--probe', 'also open a one-node model on each installed provider and run it')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Looks for CUDA libraries where the dynamic loader does (LD_LIBRARY_PATH, ldconfig's cache, the
default folders), then in CUDA_HOME, /usr/local/cuda*, a conda prefix and pip's nvidia-* wheels
(reported as off the path: add their folder to LD_LIBRARY_PATH). Keys are reported as set or
not, never printed. Exit code 0 whatever is found.

Examples:
  $ toolbench doctor
  $ toolbench doctor --probe
  $ toolbench doctor --json | jq '.providers.cuda'`,
    )
    .action(async (_flags: unknown, self: Command) => {
      const flags = self.optsWithGlobals() as DoctorFlags;
      const check = await checkRunner(io.env, { probe: flags.probe === true });
      const keys = Object.fromEntries(KEYS.map((key) => [key.name, keySource(key, io.env)]));
      const advice = adviceFor(check);
      if (flags.json) {
        io.stdout.write(`${JSON.stringify(doctorJson(check, keys, advice), null, 2)}\n`);
        return;
      }
      // colours follow stdout here (the report is the command's output), with the usual rules
      const style = createReporter({ ...io, stderr: io.stdout }, { color: flags.color }).style;
      io.stdout.write(renderDoctor(check, keys, advice, style));
    });
}

/** The variable a key comes from (itself or an alias), or undefined. */
function keySource(key: { name: string; aliases: readonly string[] }, env: CliIo['env']): string | undefined {
  return [key.name, ...key.aliases].find((name) => env[name] !== undefined && env[name] !== '');
}

function doctorJson(check: RunnerCheck, keys: Record<string, string | undefined>, advice: readonly string[]): Record<string, unknown> {
  const { onnxruntime, providers, autoDevice, gpus, cudaLibraries } = check;
  return {
    toolbench: packageJson.version,
    node: { version: process.version, platform: process.platform, arch: process.arch },
    onnxruntime: { version: onnxruntime.version ?? null, library_dir: onnxruntime.libraryDir ?? null, loads: onnxruntime.loads, ...(onnxruntime.error !== undefined ? { error: onnxruntime.error } : {}) },
    providers,
    auto_device: autoDevice,
    gpus: { source: gpus.source, devices: gpus.gpus, ...(gpus.problem !== undefined ? { problem: gpus.problem } : {}) },
    cuda_libraries: cudaLibraries,
    keys: Object.fromEntries(Object.entries(keys).map(([name, source]) => [name, source !== undefined])),
    advice,
  };
}

/** What to do next, most important first; the last line of the text report. */
export function adviceFor(check: RunnerCheck): string[] {
  const advice: string[] = [];
  if (!check.onnxruntime.loads) advice.push(`onnxruntime-node does not load (${check.onnxruntime.error ?? 'unknown error'}): reinstall the dependencies (npm ci)`);
  const cuda = check.providers.cuda;
  const hasGpu = check.gpus.gpus.length > 0;
  const missing = check.cudaLibraries.filter((library) => library.status === 'missing' && library.how === 'linked');
  const offPath = check.cudaLibraries.filter((library) => library.status === 'off-path');
  if (!cuda.installed) {
    advice.push(hasGpu ? 'CUDA provider not installed: run "toolbench setup cuda"' : 'No NVIDIA GPU found and no CUDA provider installed: models run on the CPU (on a machine with an NVIDIA GPU, run "toolbench setup cuda")');
    return advice;
  }
  if (missing.length > 0) advice.push(`CUDA provider installed, but the libraries it links are missing: ${missing.map((library) => library.name).join(', ')} (install the CUDA ${cudaMajor(check.cudaLibraries)} runtime and cuDNN 9, or put their folders on LD_LIBRARY_PATH)`);
  if (offPath.length > 0) advice.push(`Add to LD_LIBRARY_PATH: ${[...new Set(offPath.map((library) => dirOf(library.path ?? '')))].join(':')} (${offPath.map((library) => library.name).join(', ')} ${offPath.length === 1 ? 'is' : 'are'} there, where the loader does not look)`);
  if (!hasGpu) advice.push('CUDA provider installed, but no NVIDIA GPU found: --device auto will fall back to the CPU');
  if (cuda.probe !== undefined && !cuda.probe.ok) advice.push(`The CUDA provider failed to run a model: ${cuda.probe.error ?? ''}`);
  if (advice.length === 0) advice.push(cuda.probe?.ok ? 'Ready: --device auto runs on CUDA' : 'CUDA provider installed: --device auto tries CUDA first (check with "toolbench doctor --probe")');
  return advice;
}

function renderDoctor(check: RunnerCheck, keys: Record<string, string | undefined>, advice: readonly string[], style: ChalkInstance): string {
  const ok = (text: string) => style.green(text);
  const bad = (text: string) => style.red(text);
  const warn = (text: string) => style.yellow(text);
  const heading = (text: string) => `\n${style.bold(text)}\n`;
  const { onnxruntime, providers, gpus } = check;
  let text = `toolbench ${packageJson.version}, node ${process.version} (${process.platform}-${process.arch})\n`;
  text += `onnxruntime-node ${onnxruntime.version ?? '?'}: ${onnxruntime.libraryDir ?? bad('native folder not found')}${onnxruntime.loads ? '' : ` ${bad(`(does not load: ${onnxruntime.error ?? ''})`)}`}\n`;

  text += heading('Execution providers');
  const providerRows: Cell[][] = (['cpu', 'webgpu', 'cuda'] as const).map((device) => {
    const provider = providers[device];
    const needs = (provider.needs ?? []).filter((library) => library.status !== 'found');
    const state: Cell = !provider.installed ? [device === 'cuda' ? 'not installed' : 'unavailable', warn] : needs.length > 0 ? [`needs ${needs.map((library) => library.name).join(', ')}`, warn] : ['installed', ok];
    const detail = device === 'cuda' ? (provider.installed ? 'libonnxruntime_providers_{cuda,shared}.so beside libonnxruntime' : 'run "toolbench setup cuda"') : device === 'webgpu' ? 'built in; needs Vulkan (libvulkan.so.1) and a GPU' : 'built in';
    const probe: Cell = provider.probe === undefined ? [''] : provider.probe.ok ? [`probe ok (${provider.probe.ms} ms)`, ok] : [`probe failed: ${provider.probe.error ?? ''}`, bad];
    return [[`  ${device}`], state, [detail], probe];
  });
  text += table(providerRows);
  for (const device of ['cpu', 'webgpu', 'cuda'] as const) {
    const note = providers[device].note;
    if (note !== undefined) text += `  ${warn(`${device}: ${note}`)}
`;
  }
  text += `  --device auto runs on ${check.autoDevice}\n`;

  text += heading('GPUs');
  if (gpus.gpus.length === 0) text += `  none found (no nvidia-smi answer, no /proc/driver/nvidia)${gpus.problem !== undefined ? `: ${gpus.problem}` : ''}\n`;
  else text += table(gpus.gpus.map((gpu) => [[`  ${gpu.name}`], [gpu.memory ?? ''], [gpu.driver !== undefined ? `driver ${gpu.driver}` : ''], [`(${gpus.source})`]]));

  text += heading(`CUDA libraries the CUDA provider loads (CUDA ${cudaMajor(check.cudaLibraries)}, cuDNN 9)`);
  text += table(check.cudaLibraries.map((library) => libraryRow(library, { ok, bad, warn })));

  text += heading('Keys (from the environment; values never shown)');
  text += table(Object.entries(keys).map(([name, source]) => [[`  ${name}`], source === undefined ? ['not set', style.dim] : [source === name ? 'set' : `set (as ${source})`, ok]]));

  text += `\n${advice.map((line) => style.bold(line)).join('\n')}\n`;
  return text;
}

type Paint = (text: string) => string;
type Cell = readonly [string, Paint?];

/** Columns padded on the plain text, then painted, so that colour codes do not break the alignment. */
function table(rows: readonly (readonly Cell[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach(([cell], index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows
    .map((row) => {
      const cells = row.map(([cell, paint], index) => {
        const padded = index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0);
        return paint === undefined ? padded : paint(padded);
      });
      return `${cells.join('  ').trimEnd()}\n`;
    })
    .join('');
}

function libraryRow(library: CudaLibraryCheck, paint: { ok: Paint; bad: Paint; warn: Paint }): Cell[] {
  const how = library.how === 'dlopen' ? 'opened at run time' : 'linked';
  const where = library.path === undefined ? '' : library.status === 'found' ? `${library.path} (${viaText(library)})` : `${library.path} (not on the loader's path)`;
  const state: Cell = library.status === 'found' ? ['found', paint.ok] : library.status === 'off-path' ? ['off path', paint.warn] : ['missing', library.how === 'linked' ? paint.bad : paint.warn];
  return [[`  ${library.name}`], [how], state, [where]];
}

function viaText(library: LibraryLocation): string {
  return library.via === 'LD_LIBRARY_PATH' ? 'LD_LIBRARY_PATH' : library.via === 'ldconfig' ? 'ldconfig cache' : 'default folder';
}

function cudaMajor(libraries: readonly CudaLibraryCheck[]): string {
  return libraries.map((library) => /^libcudart\.so\.(\d+)$/.exec(library.name)?.[1]).find((major) => major !== undefined) ?? '13';
}

function dirOf(path: string): string {
  return path.slice(0, Math.max(0, path.lastIndexOf('/'))) || '/';
}

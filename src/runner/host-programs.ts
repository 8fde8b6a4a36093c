/**
 * The programs that the GPU checks and `setup cuda` run (ldconfig, nvidia-smi, tar, npm, node):
 * found on the PATH they are given, run with a time limit, their output captured (or handed to
 * a callback), never inherited, so that `--json` keeps stdout for the one JSON document.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Env } from './providers.js';

/** What execvp searches when there is no PATH, plus the sbin folders where ldconfig lives. */
const FALLBACK_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export interface ProcessResult {
  /** null when it was killed (timeout) or could not start. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** Why it could not start (ENOENT, EACCES). */
  readonly startError?: string;
}

export interface ProcessOptions {
  readonly env: Env;
  readonly timeoutMs: number;
  readonly cwd?: string;
  /** Receives stdout and stderr as they come (they are still captured). */
  readonly onOutput?: (text: string) => void;
}

export function findExecutable(name: string, env: Env, extraDirs: readonly string[] = []): string | undefined {
  const path = env.PATH === undefined ? FALLBACK_PATH : env.PATH.split(delimiter).filter((dir) => dir !== '');
  for (const dir of [...path, ...extraDirs]) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function runProcess(file: string, args: readonly string[], options: ProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const env = Object.fromEntries(Object.entries(options.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const child = spawn(file, [...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      options.onOutput?.(text);
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      options.onOutput?.(text);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, timedOut, startError: error.code ?? error.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? null : code, stdout, stderr, timedOut });
    });
  });
}

/** `ldconfig -p`: the loader's cache; empty when ldconfig is missing or fails. */
export async function readLdconfigCache(env: Env): Promise<string> {
  const ldconfig = findExecutable('ldconfig', env, SBIN);
  if (ldconfig === undefined) return '';
  const result = await runProcess(ldconfig, ['-p'], { env, timeoutMs: 10_000 });
  return result.code === 0 ? result.stdout : '';
}

export interface Gpu {
  readonly name: string;
  /** As the source gives it ("81559 MiB"). */
  readonly memory?: string;
  readonly driver?: string;
}

export interface GpuReport {
  readonly source: 'nvidia-smi' | '/proc/driver/nvidia' | 'none';
  readonly gpus: readonly Gpu[];
  /** Why nvidia-smi gave nothing when it was there (no driver loaded, a timeout). */
  readonly problem?: string;
}

/**
 * NVIDIA GPUs from `nvidia-smi --query-gpu` when it is on the PATH and works, else from the
 * driver's /proc files. None is a normal answer.
 */
export async function detectGpus(env: Env, procRoot = '/proc'): Promise<GpuReport> {
  let problem: string | undefined;
  const smi = findExecutable('nvidia-smi', env);
  if (smi !== undefined) {
    const result = await runProcess(smi, ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { env, timeoutMs: 15_000 });
    if (result.code === 0) return { source: 'nvidia-smi', gpus: parseNvidiaSmi(result.stdout) };
    problem = result.timedOut ? 'nvidia-smi did not answer in 15 s' : `nvidia-smi failed: ${firstLine(result.stdout + result.stderr) || result.startError || `exit ${result.code}`}`;
  }
  const fromProc = readProcGpus(join(procRoot, 'driver', 'nvidia'));
  if (fromProc.length > 0) return { source: '/proc/driver/nvidia', gpus: fromProc, ...(problem !== undefined ? { problem } : {}) };
  return { source: 'none', gpus: [], ...(problem !== undefined ? { problem } : {}) };
}

/**
 * The GPU device files a Vulkan driver would open: DRM render nodes (dri/renderD*: AMD, Intel,
 * Mesa's drivers), NVIDIA's (nvidia0, ...) and WSL2's (dxg), relative to `devDir`. None means a
 * working Vulkan can only be a software one.
 */
export function gpuDeviceNodes(devDir = '/dev'): string[] {
  const list = (dir: string): string[] => {
    try {
      return readdirSync(join(devDir, dir));
    } catch {
      return [];
    }
  };
  return [...list('dri').filter((name) => name.startsWith('renderD')).map((name) => `dri/${name}`), ...list('.').filter((name) => /^nvidia\d+$/.test(name) || name === 'dxg')];
}

/**
 * Why WebGPU here can only run on a software Vulkan adapter (Linux with no GPU device file), or
 * undefined. Other systems reach the GPU otherwise (D3D12, Metal) and have no such files.
 */
export function softwareWebGpuNote(devDir = '/dev', platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform !== 'linux' || gpuDeviceNodes(devDir).length > 0) return undefined;
  return "no GPU device in /dev (no dri/renderD*, nvidia*, dxg): Vulkan can only run on a software adapter such as Mesa's llvmpipe, correct but slower than --device cpu";
}

/** "NVIDIA H100 80GB HBM3, 81559 MiB, 580.65.06" per line. */
export function parseNvidiaSmi(text: string): Gpu[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const fields = line.split(',').map((field) => field.trim());
      if (fields.length < 3) return { name: line };
      const driver = fields.pop() as string;
      const memory = fields.pop() as string;
      return { name: fields.join(', '), memory, driver };
    });
}

function readProcGpus(dir: string): Gpu[] {
  let buses: string[];
  try {
    buses = readdirSync(join(dir, 'gpus')).sort();
  } catch {
    return [];
  }
  const driver = /Kernel Module\s+([\d.]+)/.exec(readText(join(dir, 'version')))?.[1];
  return buses.map((bus) => {
    const model = /^Model:\s*(.+)$/m.exec(readText(join(dir, 'gpus', bus, 'information')))?.[1]?.trim();
    return { name: model ?? `NVIDIA GPU at ${bus}`, ...(driver !== undefined ? { driver } : {}) };
  });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 300) ?? '';
}

/**
 * Installs onnxruntime-node's CUDA provider (model-runner.md, "Execution providers"), from one of:
 *
 * - nuget: ORT's own installer (`script/install.js` of onnxruntime-node), which downloads
 *   Microsoft.ML.OnnxRuntime.Gpu.Linux of the same version from api.nuget.org;
 * - npm: the two libraries inside `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9`, which are
 *   ORT 1.29.0 built for CUDA 13 + cuDNN 9, fetched with `npm pack` or given as a .tgz.
 *
 * Files land beside libonnxruntime by temporary file and rename, the shared bridge first: a
 * crash leaves the old file or the new one, never half of one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { ToolbenchError, usageError } from '../util/errors.js';
import { findExecutable, firstLine, runProcess } from './host-programs.js';
import { CUDA_PROVIDER_FILES, ORT_LIBRARY_DIR_VARIABLE, cudaProviderFiles, ortLibraryDir, ortPackageOf, type Env } from './providers.js';

export const NPM_CUDA_PACKAGE = 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9';
/** From the registry's metadata of that version (`npm view ... dist.integrity`). */
export const NPM_CUDA_PACKAGE_INTEGRITY = 'sha512-FopIhNE/Ng+v2X65wVc9clPCBCvhvA53Hxo2U0Kf5fGdVsC7iCA+mZ0KLWggcQAj7TIZ6pNidR4AC10g74Xo6w==';
export const NPM_CUDA_PACKAGE_URL = 'https://registry.npmjs.org/com.github.asus4.onnxruntime.linux-x64-gpu/-/com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz';
/** The onnxruntime-node version whose native API the npm package's providers were built against. */
export const PAIRED_ORT_VERSION = '1.29.0';

export const CUDA_SOURCES = ['nuget', 'npm'] as const;
export type CudaSource = (typeof CUDA_SOURCES)[number];

const MINUTE = 60_000;

export interface CudaSetupPlan {
  readonly from: CudaSource;
  readonly libraryDir: string;
  readonly ortVersion?: string;
  /** npm: the package spec, or the .tgz given; nuget: ORT's installer script. */
  readonly source: string;
  /** Set when the npm package comes from a file (no download). */
  readonly tarball?: string;
  /** nuget: the node that runs ORT's installer. */
  readonly node?: string;
  /** Both provider files are there already. */
  readonly installed: boolean;
  /** What will run, for --dry-run and the report. */
  readonly steps: readonly string[];
}

export interface PlanOptions {
  readonly from: CudaSource;
  readonly tarball?: string;
  readonly force: boolean;
  readonly env: Env;
  /** `${process.platform}-${process.arch}` */
  readonly platform: string;
  /** The running node (process.execPath), when it is node and not a single executable. */
  readonly node?: string;
}

export interface SetupDeps {
  readonly env: Env;
  readonly info: (message: string) => void;
  readonly warn: (message: string) => void;
  /** What the installer or npm prints, relayed as it comes. */
  readonly output: (text: string) => void;
}

export interface InstalledFile {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
}

/** Checks everything that can be checked before touching anything; throws what is wrong. */
export function planCudaSetup(options: PlanOptions): CudaSetupPlan {
  if (options.tarball !== undefined && options.from !== 'npm') throw usageError('--tarball is the npm package as a file: use it with --from npm');
  if (options.platform !== 'linux-x64') {
    throw new ToolbenchError('setup.unsupported', 1, `the CUDA provider of onnxruntime-node is built for linux-x64 only; this is ${options.platform} (the CPU provider works everywhere)`);
  }
  const libraryDir = ortLibraryDir(options.env);
  if (libraryDir === undefined) throw new ToolbenchError('setup.no-onnxruntime', 1, "onnxruntime-node's native folder (bin/napi-v6/linux/x64) was not found: reinstall toolbench's dependencies (npm ci)");
  if (!existsSync(libraryDir)) throw usageError(`${ORT_LIBRARY_DIR_VARIABLE}=${libraryDir}: no such folder`);
  const ortPackage = ortPackageOf(libraryDir);
  const installed = Object.values(cudaProviderFiles(libraryDir)).every(Boolean);
  const target = `into ${libraryDir}: ${CUDA_PROVIDER_FILES.join(', ')}`;
  if (options.from === 'nuget') {
    const script = ortPackage === undefined ? undefined : join(ortPackage.root, 'script', 'install.js');
    // the installer writes into its own package's bin/napi-v6/<os>/<arch>: only when that is this folder
    const writesHere = ortPackage !== undefined && resolve(ortPackage.root, 'bin', 'napi-v6', 'linux', 'x64') === resolve(libraryDir);
    if (script === undefined || !existsSync(script) || !writesHere) {
      throw new ToolbenchError('setup.no-installer', 1, `no onnxruntime-node installer (script/install.js) writes into ${libraryDir}: use --from npm`);
    }
    const node = options.node ?? findExecutable('node', options.env);
    if (node === undefined) throw new ToolbenchError('setup.no-node', 1, 'ORT\'s installer needs node on the PATH: install Node.js 20 or use --from npm --tarball FILE');
    return { from: 'nuget', libraryDir, ortVersion: ortPackage?.version, source: script, node, installed, steps: [`ONNXRUNTIME_NODE_INSTALL=1 ${node} ${script}  (downloads Microsoft.ML.OnnxRuntime.Gpu.Linux ${ortPackage?.version ?? ''} from api.nuget.org, writes ${target})`] };
  }
  if (ortPackage?.version !== PAIRED_ORT_VERSION) {
    const message = `onnxruntime-node is ${ortPackage?.version ?? 'of unknown version'}; the providers in ${NPM_CUDA_PACKAGE} are ORT ${PAIRED_ORT_VERSION} and load only into onnxruntime-node ${PAIRED_ORT_VERSION}`;
    if (!options.force) throw new ToolbenchError('setup.version-mismatch', 1, `${message}: use --from nuget (the providers of your version), or --force to install them anyway`);
  }
  const tarball = options.tarball === undefined ? undefined : resolve(options.tarball);
  if (tarball !== undefined && !(existsSync(tarball) && statSync(tarball).isFile())) throw usageError(`--tarball ${options.tarball}: no such file`);
  const fetch = tarball === undefined ? [`npm pack ${NPM_CUDA_PACKAGE}  (about 180 MB from the npm registry)`] : [];
  return {
    from: 'npm',
    libraryDir,
    ortVersion: ortPackage?.version,
    source: tarball ?? NPM_CUDA_PACKAGE,
    ...(tarball !== undefined ? { tarball } : {}),
    installed,
    steps: [...fetch, `tar -xzf ${tarball ?? basename(NPM_CUDA_PACKAGE_URL)}  (the two provider libraries only)`, `copy ${target}`],
  };
}

/** Does what the plan says and returns the files now in the native folder. */
export async function installCudaProvider(plan: CudaSetupPlan, deps: SetupDeps): Promise<InstalledFile[]> {
  if (plan.from === 'nuget') await runOrtInstaller(plan, deps);
  else await installFromNpmPackage(plan, deps);
  const files = CUDA_PROVIDER_FILES.map((name) => ({ name, path: join(plan.libraryDir, name) }));
  const absent = files.filter((file) => !existsSync(file.path));
  if (absent.length > 0) throw new ToolbenchError('setup.failed', 1, `the install finished but ${absent.map((file) => file.name).join(' and ')} is not in ${plan.libraryDir}`);
  return files.map((file) => ({ ...file, bytes: statSync(file.path).size }));
}

async function runOrtInstaller(plan: CudaSetupPlan, deps: SetupDeps): Promise<void> {
  // "1" forces the install; the documented "cuda12" is dropped by parseInstallFlag (1.29.0) and then
  // the script does nothing under `npm run`, when npm_config_local_prefix names the package
  const env: Record<string, string | undefined> = { ...deps.env, ONNXRUNTIME_NODE_INSTALL: '1' };
  for (const name of ['ONNXRUNTIME_NODE_INSTALL_CUDA', 'npm_config_onnxruntime_node_install', 'npm_config_onnxruntime_node_install_cuda', 'npm_config_local_prefix', 'npm_package_json']) delete env[name];
  deps.info(`running onnxruntime-node's installer: ${plan.source}`);
  const result = await runProcess(plan.node as string, [plan.source], { env, timeoutMs: 30 * MINUTE, onOutput: deps.output });
  if (result.code !== 0) {
    const why = result.timedOut ? 'no result in 30 minutes' : result.startError ?? `exit ${result.code}: ${lastErrorLine(result.stderr || result.stdout)}`;
    throw new ToolbenchError(
      'setup.failed',
      1,
      `onnxruntime-node's installer failed (${why}). It downloads from api.nuget.org and needs internet; offline or behind a firewall, use --from npm (npm registry), or --from npm --tarball FILE with ${NPM_CUDA_PACKAGE_URL} fetched elsewhere`,
    );
  }
}

async function installFromNpmPackage(plan: CudaSetupPlan, deps: SetupDeps): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'toolbench-cuda-'));
  try {
    const tarball = plan.tarball ?? (await npmPack(scratch, deps));
    if (plan.tarball !== undefined && (await sriOf(tarball)) !== NPM_CUDA_PACKAGE_INTEGRITY) {
      deps.warn(`${tarball} is not ${NPM_CUDA_PACKAGE} as published (its sha512 differs); installing its providers anyway`);
    }
    const tar = findExecutable('tar', deps.env);
    if (tar === undefined) throw new ToolbenchError('setup.no-tar', 1, 'tar was not found on the PATH: it unpacks the npm package');
    const listing = await runProcess(tar, ['-tzf', tarball], { env: deps.env, timeoutMs: 10 * MINUTE });
    if (listing.code !== 0) throw new ToolbenchError('input.invalid', 2, `${tarball}: not a .tgz that tar can read: ${lastErrorLine(listing.stderr)}`);
    const entries = listing.stdout.split('\n').filter((entry) => entry !== '');
    const members = CUDA_PROVIDER_FILES.map((name) => {
      const matches = entries.filter((entry) => entry === name || entry.endsWith(`/${name}`));
      const member = matches.find((entry) => /linux/i.test(entry) && /x64/i.test(entry)) ?? matches[0];
      if (member === undefined) throw new ToolbenchError('input.invalid', 2, `${tarball}: no ${name} inside: expected ${NPM_CUDA_PACKAGE} (package/Plugins/Linux/x64/${name})`);
      return { name, member };
    });
    const unpacked = join(scratch, 'unpacked');
    await mkdir(unpacked);
    deps.info(`unpacking ${members.map((entry) => entry.member).join(', ')}`);
    const extract = await runProcess(tar, ['-xzf', tarball, '-C', unpacked, '--no-same-owner', ...members.map((entry) => entry.member)], { env: deps.env, timeoutMs: 10 * MINUTE });
    if (extract.code !== 0) throw new ToolbenchError('setup.failed', 1, `tar could not unpack ${tarball}: ${lastErrorLine(extract.stderr)}`);
    for (const { name, member } of members) await replaceAtomically(join(unpacked, member), join(plan.libraryDir, name));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function npmPack(scratch: string, deps: SetupDeps): Promise<string> {
  const npm = findExecutable('npm', deps.env);
  if (npm === undefined) throw new ToolbenchError('setup.no-npm', 1, `npm was not found on the PATH: download ${NPM_CUDA_PACKAGE_URL} and pass it with --tarball FILE`);
  deps.info(`downloading ${NPM_CUDA_PACKAGE} (about 180 MB) with npm pack`);
  const result = await runProcess(npm, ['pack', NPM_CUDA_PACKAGE, '--pack-destination', scratch, '--json'], { env: deps.env, cwd: scratch, timeoutMs: 30 * MINUTE });
  const packed = (await readdir(scratch)).find((name) => name.endsWith('.tgz'));
  if (result.code !== 0 || packed === undefined) {
    const why = result.timedOut ? 'no result in 30 minutes' : result.startError ?? (lastErrorLine(result.stderr) || `exit ${result.code}`);
    throw new ToolbenchError('setup.download-failed', 1, `npm pack ${NPM_CUDA_PACKAGE} failed (${why}): check the npm registry is reachable, or fetch ${NPM_CUDA_PACKAGE_URL} another way and pass --tarball FILE`);
  }
  return join(scratch, packed);
}

/** Copies beside the target, then renames over it: readers (a running ORT) see the old file or the new one. */
async function replaceAtomically(source: string, target: string): Promise<void> {
  const temporary = join(target, '..', `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await copyFile(source, temporary);
    await chmod(temporary, 0o755);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ToolbenchError('setup.write-failed', 1, `cannot write ${target} (${code}): run as the user that installed toolbench's dependencies`, { cause: error });
    }
    throw error;
  }
}

/** Subresource-integrity string (sha512-<base64>) of a file, as npm records it. */
async function sriOf(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest('base64')}`;
}

function lastErrorLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return (lines.find((line) => /error/i.test(line)) ?? lines.at(-1) ?? '').slice(0, 300) || firstLine(text);
}

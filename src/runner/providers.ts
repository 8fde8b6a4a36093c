/**
 * Where onnxruntime-node is and which execution providers it has, read from the files on disk
 * (nothing is loaded). The CPU and WebGPU providers are built into libonnxruntime (linux-x64;
 * WebGPU also needs the Vulkan loader); the CUDA provider is two libraries that `toolbench setup
 * cuda` puts beside it, where ORT looks for them (model-runner.md, "Execution providers").
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

/** Points `doctor` and `setup cuda` at another native folder (tests use a scratch one). */
export const ORT_LIBRARY_DIR_VARIABLE = 'TOOLBENCH_ORT_LIBRARY_DIR';

/** The CUDA provider: the shared bridge first, so that a half-done install never has the CUDA library alone. */
export const CUDA_PROVIDER_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const;
export type CudaProviderFile = (typeof CUDA_PROVIDER_FILES)[number];

export interface OrtPackage {
  /** The folder holding onnxruntime-node's package.json (and its script/install.js). */
  readonly root: string;
  readonly version: string;
}

/**
 * Where onnxruntime-node keeps its native libraries: `TOOLBENCH_ORT_LIBRARY_DIR` when set (as
 * given, existing or not), else `bin/napi-v6/<os>/<arch>` of the package Node resolves.
 */
export function ortLibraryDir(env: Env = {}): string | undefined {
  const override = env[ORT_LIBRARY_DIR_VARIABLE];
  if (override !== undefined && override !== '') return override;
  const root = resolvedOrtRoot();
  if (root === undefined) return undefined;
  const dir = join(root, 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(dir) ? dir : undefined;
}

/**
 * The onnxruntime-node package a native folder belongs to: its package.json up to four levels
 * above (bin/napi-v6/<os>/<arch>). None for a folder outside a package: its version is unknown.
 */
export function ortPackageOf(libraryDir: string | undefined): OrtPackage | undefined {
  let dir = libraryDir;
  for (let level = 0; dir !== undefined && level <= 4; level++) {
    const found = readOrtPackage(dir);
    if (found !== undefined) return found;
    const parent = dirname(dir);
    dir = parent === dir ? undefined : parent;
  }
  return undefined;
}

/** Which of the CUDA provider's files the folder has. */
export function cudaProviderFiles(libraryDir: string | undefined): Record<CudaProviderFile, boolean> {
  const present = (file: string) => libraryDir !== undefined && existsSync(join(libraryDir, file));
  return Object.fromEntries(CUDA_PROVIDER_FILES.map((file) => [file, present(file)])) as Record<CudaProviderFile, boolean>;
}

/** Both CUDA provider libraries are beside libonnxruntime (ORT cannot load one without the other). */
export function cudaProviderInstalled(env: Env = {}): boolean {
  return Object.values(cudaProviderFiles(ortLibraryDir(env))).every(Boolean);
}

function resolvedOrtRoot(): string | undefined {
  try {
    const require = createRequire(import.meta.url ?? join(process.cwd(), 'noop.js'));
    return dirname(require.resolve('onnxruntime-node/package.json'));
  } catch {
    return undefined;
  }
}

function readOrtPackage(dir: string): OrtPackage | undefined {
  try {
    const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    return json.name === 'onnxruntime-node' && typeof json.version === 'string' ? { root: dir, version: json.version } : undefined;
  } catch {
    return undefined;
  }
}

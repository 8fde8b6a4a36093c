/**
 * What the runner can use on this machine, for `toolbench doctor` and `setup cuda`: onnxruntime-node
 * and its providers, the GPUs, and the shared libraries the CUDA and WebGPU providers load.
 * Optionally each provider is probed with a one-node model.
 */
import { join } from 'node:path';
import { detectGpus, readLdconfigCache, softwareWebGpuNote, type GpuReport } from './host-programs.js';
import { ortProviders, probeProvider, type ProbeResult } from './provider-probe.js';
import { CUDA_PROVIDER_FILES, cudaProviderFiles, ortLibraryDir, ortPackageOf, type CudaProviderFile, type Env } from './providers.js';
import type { Device } from './session.js';
import { cudaProviderLibraries, findLibrary, ldLibraryPathOf, otherCudaDirs, parseLdconfigCache, type LibraryLocation, type LibrarySearch, type NeededLibrary } from './shared-libraries.js';

export interface ProviderCheck {
  /** Its code is there: built into libonnxruntime, or (CUDA) installed beside it. */
  readonly installed: boolean;
  readonly files?: Readonly<Record<CudaProviderFile, boolean>>;
  /** Shared libraries it loads that are not part of onnxruntime (the Vulkan loader for WebGPU). */
  readonly needs?: readonly LibraryLocation[];
  readonly probe?: ProbeResult;
  /** A caveat (WebGPU with no GPU device: only a software adapter can run it). */
  readonly note?: string;
}

export type CudaLibraryCheck = LibraryLocation & Pick<NeededLibrary, 'how'>;

export interface RunnerCheck {
  readonly onnxruntime: {
    readonly version?: string;
    readonly libraryDir?: string;
    readonly loads: boolean;
    readonly error?: string;
  };
  readonly providers: Readonly<Record<Device, ProviderCheck>>;
  /** Where `--device auto` runs (before a provider fails to load and it falls back to the CPU). */
  readonly autoDevice: Device;
  readonly gpus: GpuReport;
  readonly cudaLibraries: readonly CudaLibraryCheck[];
}

/** Where the loader would find the CUDA provider's libraries (or the list for a CUDA 13 build when none is installed). */
export async function checkCudaLibraries(env: Env, libraryDir: string | undefined, search?: LibrarySearch): Promise<CudaLibraryCheck[]> {
  const where = search ?? (await librarySearch(env));
  const provider = libraryDir === undefined ? undefined : join(libraryDir, 'libonnxruntime_providers_cuda.so');
  return cudaProviderLibraries(provider).map((library) => ({ ...findLibrary(library.name, where), how: library.how }));
}

export async function checkRunner(env: Env, options: { probe: boolean; devDir?: string }): Promise<RunnerCheck> {
  const software = softwareWebGpuNote(options.devDir);
  const libraryDir = ortLibraryDir(env);
  const version = ortPackageOf(libraryDir)?.version;
  let bundled: readonly string[] = [];
  let loadError: string | undefined;
  try {
    bundled = (await ortProviders()).filter((provider) => provider.bundled).map((provider) => provider.name);
  } catch (error) {
    loadError = (error as Error).message;
  }
  const search = await librarySearch(env);
  const files = cudaProviderFiles(libraryDir);
  const cudaInstalled = CUDA_PROVIDER_FILES.every((file) => files[file]);
  const providers: Record<Device, ProviderCheck> = {
    cpu: { installed: loadError === undefined },
    webgpu: {
      installed: bundled.includes('webgpu'),
      ...(process.platform === 'linux' ? { needs: [findLibrary('libvulkan.so.1', search)] } : {}),
      ...(software !== undefined ? { note: software } : {}),
    },
    cuda: { installed: cudaInstalled, files },
  };
  if (options.probe && loadError === undefined) {
    for (const device of ['cpu', 'webgpu', 'cuda'] as const) {
      if (providers[device].installed) providers[device] = { ...providers[device], probe: await probeProvider(device) };
    }
  }
  return {
    onnxruntime: { ...(version !== undefined ? { version } : {}), ...(libraryDir !== undefined ? { libraryDir } : {}), loads: loadError === undefined, ...(loadError !== undefined ? { error: loadError } : {}) },
    providers,
    autoDevice: cudaInstalled ? 'cuda' : 'cpu',
    gpus: await detectGpus(env),
    cudaLibraries: await checkCudaLibraries(env, cudaInstalled ? libraryDir : undefined, search),
  };
}

async function librarySearch(env: Env): Promise<LibrarySearch> {
  return { ldLibraryPath: ldLibraryPathOf(env), ldconfig: parseLdconfigCache(await readLdconfigCache(env)), otherDirs: otherCudaDirs(env) };
}

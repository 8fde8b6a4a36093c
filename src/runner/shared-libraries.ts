/**
 * Which shared libraries a provider needs and where the dynamic loader would find them. The
 * needs come from the provider's own ELF header (its DT_NEEDED entries) plus the libraries it
 * opens itself at run time; the places are the loader's: LD_LIBRARY_PATH, the `ldconfig` cache
 * and the default folders. Copies elsewhere (a CUDA toolkit's lib64, pip's nvidia-* wheels, a
 * conda prefix) are reported as off the path: the loader does not see them until their folder is
 * on LD_LIBRARY_PATH.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Env } from './providers.js';

export interface ElfDynamic {
  readonly needed: readonly string[];
  readonly runpath: readonly string[];
}

export type LibraryNeed = 'linked' | 'dlopen';

export interface NeededLibrary {
  readonly name: string;
  /** linked: the provider does not load without it; dlopen: opened when first used. */
  readonly how: LibraryNeed;
}

export type LibraryStatus = 'found' | 'off-path' | 'missing';

export interface LibraryLocation {
  readonly name: string;
  readonly status: LibraryStatus;
  readonly path?: string;
  /** How the loader finds it (found), or nothing (off-path: the folder is not searched). */
  readonly via?: 'LD_LIBRARY_PATH' | 'ldconfig' | 'default';
}

/**
 * What `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9`'s libonnxruntime_providers_cuda.so
 * (ORT 1.29.0, CUDA 13) links (readelf -d) and opens itself (cuDNN 9 and NVRTC): the list when
 * no provider is installed to read it from. It does not use cuFFT.
 */
export const CUDA13_PROVIDER_LIBRARIES: readonly NeededLibrary[] = [
  { name: 'libcudart.so.13', how: 'linked' },
  { name: 'libcublas.so.13', how: 'linked' },
  { name: 'libcublasLt.so.13', how: 'linked' },
  { name: 'libcurand.so.10', how: 'linked' },
  { name: 'libcuda.so.1', how: 'linked' },
  { name: 'libcudnn.so.9', how: 'dlopen' },
  { name: 'libnvrtc.so.13', how: 'dlopen' },
];

/** Part of every Linux system: not worth reporting. */
const SYSTEM_LIBRARY = /^(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux[\w-]*)\.so/;

/** The folders glibc searches after LD_LIBRARY_PATH and its cache (x86-64 and multiarch). */
const DEFAULT_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'];

/**
 * The CUDA provider's libraries: its DT_NEEDED entries when the file is an ELF (so a NuGet build
 * for another CUDA is reported right), plus cuDNN 9 and the NVRTC of its CUDA runtime.
 */
export function cudaProviderLibraries(providerFile: string | undefined): readonly NeededLibrary[] {
  const dynamic = providerFile === undefined ? undefined : readElfDynamic(providerFile);
  if (dynamic === undefined) return CUDA13_PROVIDER_LIBRARIES;
  const linked = dynamic.needed.filter((name) => !SYSTEM_LIBRARY.test(name));
  const cudaMajor = linked.map((name) => /^libcudart\.so\.(\d+)$/.exec(name)?.[1]).find((major) => major !== undefined) ?? '13';
  return [...linked.map((name) => ({ name, how: 'linked' as const })), { name: 'libcudnn.so.9', how: 'dlopen' }, { name: `libnvrtc.so.${cudaMajor}`, how: 'dlopen' }];
}

/** The DT_NEEDED and DT_RUNPATH entries of a 64-bit little-endian ELF file; undefined for anything else. */
export function readElfDynamic(file: string): ElfDynamic | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const read = (position: number, length: number): Buffer => {
      const buffer = Buffer.alloc(length);
      const bytes = readSync(fd, buffer, 0, length, position);
      return buffer.subarray(0, bytes);
    };
    const header = read(0, 64);
    // \x7fELF, ELFCLASS64, ELFDATA2LSB
    if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return undefined;
    const programHeaders = Number(header.readBigUInt64LE(0x20));
    const entrySize = header.readUInt16LE(0x36);
    const count = header.readUInt16LE(0x38);
    const table = read(programHeaders, entrySize * count);
    const loads: { offset: number; address: number; size: number }[] = [];
    let dynamic: { offset: number; size: number } | undefined;
    for (let index = 0; index < count && (index + 1) * entrySize <= table.length; index++) {
      const at = index * entrySize;
      const type = table.readUInt32LE(at); // p_type; p_offset +8, p_vaddr +16, p_filesz +32
      const segment = { offset: Number(table.readBigUInt64LE(at + 8)), address: Number(table.readBigUInt64LE(at + 16)), size: Number(table.readBigUInt64LE(at + 32)) };
      if (type === 1) loads.push(segment); // PT_LOAD
      if (type === 2) dynamic = segment; // PT_DYNAMIC
    }
    if (dynamic === undefined) return { needed: [], runpath: [] };
    const entries = read(dynamic.offset, dynamic.size);
    const needed: number[] = [];
    const runpath: number[] = [];
    let stringTable = -1;
    let stringSize = 0;
    for (let at = 0; at + 16 <= entries.length; at += 16) {
      const tag = Number(entries.readBigInt64LE(at));
      const value = Number(entries.readBigUInt64LE(at + 8));
      if (tag === 0) break; // DT_NULL
      if (tag === 1) needed.push(value); // DT_NEEDED
      else if (tag === 5) stringTable = value; // DT_STRTAB (an address)
      else if (tag === 10) stringSize = value; // DT_STRSZ
      else if (tag === 29 || tag === 15) runpath.push(value); // DT_RUNPATH, DT_RPATH
    }
    const load = loads.find((segment) => stringTable >= segment.address && stringTable < segment.address + segment.size);
    if (load === undefined) return undefined;
    const strings = read(stringTable - load.address + load.offset, stringSize);
    const text = (offset: number) => strings.toString('latin1', offset, Math.max(offset, strings.indexOf(0, offset)));
    return { needed: needed.map(text), runpath: runpath.flatMap((offset) => text(offset).split(':')).filter((dir) => dir !== '') };
  } finally {
    closeSync(fd);
  }
}

/** `ldconfig -p` output as soname -> path, for this machine's architecture (x86-64 only on x64). */
export function parseLdconfigCache(text: string, arch: string = process.arch): Map<string, string> {
  const cache = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(.+?)\s*$/.exec(line);
    if (match === null) continue;
    const [, name, flags, path] = match as unknown as [string, string, string, string];
    if (arch === 'x64' && !flags.includes('x86-64')) continue;
    if (!cache.has(name)) cache.set(name, path);
  }
  return cache;
}

export interface LibrarySearch {
  readonly ldLibraryPath: readonly string[];
  readonly ldconfig: ReadonlyMap<string, string>;
  /** Searched last, and reported as off the loader's path. */
  readonly otherDirs: readonly string[];
}

export function findLibrary(name: string, search: LibrarySearch): LibraryLocation {
  const inDirs = (dirs: readonly string[]) => dirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
  const fromEnv = inDirs(search.ldLibraryPath);
  if (fromEnv !== undefined) return { name, status: 'found', path: fromEnv, via: 'LD_LIBRARY_PATH' };
  const cached = search.ldconfig.get(name);
  if (cached !== undefined && existsSync(cached)) return { name, status: 'found', path: cached, via: 'ldconfig' };
  const fromDefault = inDirs(DEFAULT_DIRS);
  if (fromDefault !== undefined) return { name, status: 'found', path: fromDefault, via: 'default' };
  const elsewhere = inDirs(search.otherDirs);
  return elsewhere !== undefined ? { name, status: 'off-path', path: elsewhere } : { name, status: 'missing' };
}

export function ldLibraryPathOf(env: Env): string[] {
  return (env.LD_LIBRARY_PATH ?? '').split(delimiter).filter((dir) => dir !== '');
}

/**
 * Where CUDA libraries are often installed without being on the loader's path: CUDA_HOME /
 * CUDA_PATH, /usr/local/cuda*, a conda prefix, and the lib folders of pip's nvidia-* wheels
 * (site-packages/nvidia/<part>/lib) in an active virtualenv or conda env, ~/.local, /usr/local, /usr.
 */
export function otherCudaDirs(env: Env): string[] {
  const dirs: string[] = [];
  for (const home of [env.CUDA_HOME, env.CUDA_PATH]) if (home) dirs.push(join(home, 'lib64'), join(home, 'lib'));
  for (const name of listDir('/usr/local').filter((entry) => /^cuda(-[\d.]+)?$/.test(entry)).sort().reverse()) {
    dirs.push(join('/usr/local', name, 'lib64'), join('/usr/local', name, 'targets', 'x86_64-linux', 'lib'));
  }
  if (env.CONDA_PREFIX) dirs.push(join(env.CONDA_PREFIX, 'lib'));
  const prefixes = [env.VIRTUAL_ENV, env.CONDA_PREFIX, env.HOME && join(env.HOME, '.local'), '/usr/local', '/usr'].filter((prefix): prefix is string => Boolean(prefix));
  for (const prefix of prefixes) {
    for (const python of listDir(join(prefix, 'lib')).filter((entry) => /^python3\.\d+$/.test(entry))) {
      for (const packages of ['site-packages', 'dist-packages']) {
        const nvidia = join(prefix, 'lib', python, packages, 'nvidia');
        for (const part of listDir(nvidia).sort()) dirs.push(join(nvidia, part, 'lib'));
      }
    }
  }
  return [...new Set(dirs)];
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

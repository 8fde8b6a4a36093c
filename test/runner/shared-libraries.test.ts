/**
 * The pieces of `doctor`: the ELF DT_NEEDED reader (on onnxruntime-node's own libraries), the
 * loader's search order, `ldconfig -p` and `nvidia-smi` parsing, the /proc fallback for GPUs and
 * the GPU device files.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { detectGpus, gpuDeviceNodes, parseNvidiaSmi, softwareWebGpuNote } from '../../src/runner/host-programs.js';
import { ortLibraryDir } from '../../src/runner/providers.js';
import { checkRunner } from '../../src/runner/runner-check.js';
import { CUDA13_PROVIDER_LIBRARIES, cudaProviderLibraries, findLibrary, parseLdconfigCache, readElfDynamic } from '../../src/runner/shared-libraries.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-shared-libraries-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const LINUX_X64 = process.platform === 'linux' && process.arch === 'x64' ? false : 'linux-x64 libraries';

describe('readElfDynamic', () => {
  test("reads onnxruntime's DT_NEEDED entries and the binding's $ORIGIN run path", { skip: LINUX_X64 }, () => {
    const dir = ortLibraryDir() as string;
    const library = readElfDynamic(join(dir, 'libonnxruntime.so.1'));
    assert.ok(library !== undefined);
    for (const name of ['libdl.so.2', 'libstdc++.so.6', 'libc.so.6']) assert.ok(library.needed.includes(name), name);
    const binding = readElfDynamic(join(dir, 'onnxruntime_binding.node'));
    assert.ok(binding?.needed.includes('libonnxruntime.so.1'));
    assert.deepEqual(binding?.runpath, ['$ORIGIN/']);
  });

  test('anything but a 64-bit little-endian ELF gives undefined, and the CUDA 13 list is used', () => {
    const text = join(scratch, 'libonnxruntime_providers_cuda.so');
    writeFileSync(text, 'not an ELF file');
    assert.equal(readElfDynamic(text), undefined);
    assert.equal(readElfDynamic(join(scratch, 'missing.so')), undefined);
    assert.deepEqual(cudaProviderLibraries(text), CUDA13_PROVIDER_LIBRARIES);
    assert.deepEqual(cudaProviderLibraries(undefined), CUDA13_PROVIDER_LIBRARIES);
  });

  test('a provider linked against another CUDA is reported with its own libraries (system ones left out)', { skip: LINUX_X64 }, () => {
    // onnxruntime_binding.node links libonnxruntime.so.1 and the C/C++ runtime: only the former is reported
    const libraries = cudaProviderLibraries(join(ortLibraryDir() as string, 'onnxruntime_binding.node'));
    assert.deepEqual(libraries, [
      { name: 'libonnxruntime.so.1', how: 'linked' },
      { name: 'libcudnn.so.9', how: 'dlopen' },
      { name: 'libnvrtc.so.13', how: 'dlopen' },
    ]);
  });
});

describe('findLibrary', () => {
  const dirs = ['first', 'second', 'cache', 'other'].map((name) => {
    const dir = join(scratch, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  });
  const [first, second, cache, other] = dirs as [string, string, string, string];
  writeFileSync(join(second, 'libcudart.so.13'), '');
  writeFileSync(join(cache, 'libcudart.so.13'), '');
  writeFileSync(join(cache, 'libcublas.so.13'), '');
  writeFileSync(join(other, 'libcudnn.so.9'), '');

  test('LD_LIBRARY_PATH in order, then the ldconfig cache, then other folders (off the path), else missing', () => {
    const search = { ldLibraryPath: [first, second], ldconfig: new Map([['libcudart.so.13', join(cache, 'libcudart.so.13')], ['libcublas.so.13', join(cache, 'libcublas.so.13')]]), otherDirs: [other] };
    assert.deepEqual(findLibrary('libcudart.so.13', search), { name: 'libcudart.so.13', status: 'found', path: join(second, 'libcudart.so.13'), via: 'LD_LIBRARY_PATH' });
    assert.deepEqual(findLibrary('libcublas.so.13', search), { name: 'libcublas.so.13', status: 'found', path: join(cache, 'libcublas.so.13'), via: 'ldconfig' });
    assert.deepEqual(findLibrary('libcudnn.so.9', search), { name: 'libcudnn.so.9', status: 'off-path', path: join(other, 'libcudnn.so.9') });
    assert.deepEqual(findLibrary('libtoolbench-none.so.1', search), { name: 'libtoolbench-none.so.1', status: 'missing' });
  });

  test('parseLdconfigCache keeps the first entry of this architecture', () => {
    const text = [
      '524 libs found in cache `/etc/ld.so.cache\'',
      '\tlibcudart.so.13 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.13',
      '\tlibcudart.so.13 (libc6,x86-64) => /opt/other/libcudart.so.13',
      '\tlibcuda.so.1 (libc6) => /usr/lib/i386-linux-gnu/libcuda.so.1',
      '\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1',
    ].join('\n');
    assert.deepEqual([...parseLdconfigCache(text, 'x64')], [
      ['libcudart.so.13', '/usr/local/cuda/lib64/libcudart.so.13'],
      ['libcuda.so.1', '/usr/lib/x86_64-linux-gnu/libcuda.so.1'],
    ]);
  });
});

describe('GPUs', () => {
  test('nvidia-smi CSV lines: the name keeps its commas, memory and driver are the last two fields', () => {
    assert.deepEqual(parseNvidiaSmi('NVIDIA H100 80GB HBM3, 81559 MiB, 580.65.06\nTesla, Weird Name, 16384 MiB, 535.1\n\n'), [
      { name: 'NVIDIA H100 80GB HBM3', memory: '81559 MiB', driver: '580.65.06' },
      { name: 'Tesla, Weird Name', memory: '16384 MiB', driver: '535.1' },
    ]);
  });

  test('without nvidia-smi, the driver files under /proc; none at all is a normal answer', async () => {
    const proc = join(scratch, 'proc');
    mkdirSync(join(proc, 'driver', 'nvidia', 'gpus', '0000:00:1e.0'), { recursive: true });
    writeFileSync(join(proc, 'driver', 'nvidia', 'version'), 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 07:09:44 UTC 2025\n');
    writeFileSync(join(proc, 'driver', 'nvidia', 'gpus', '0000:00:1e.0', 'information'), 'Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 42\nBus Location: \t 0000:00:1e.0\n');
    const noPath = { PATH: join(scratch, 'empty-bin') };
    assert.deepEqual(await detectGpus(noPath, proc), { source: '/proc/driver/nvidia', gpus: [{ name: 'NVIDIA H100 80GB HBM3', driver: '580.65.06' }] });
    assert.deepEqual(await detectGpus(noPath, join(scratch, 'no-proc')), { source: 'none', gpus: [] });
  });

  test('GPU device files: DRM render nodes and NVIDIA devices count; card nodes, nvidiactl and a missing /dev do not', async () => {
    const dev = join(scratch, 'dev');
    mkdirSync(join(dev, 'dri'), { recursive: true });
    for (const name of ['dri/card0', 'dri/renderD128', 'nvidia0', 'nvidia1', 'nvidiactl', 'nvidia-uvm', 'null', 'dxg']) writeFileSync(join(dev, name), '');
    assert.deepEqual(gpuDeviceNodes(dev).sort(), ['dri/renderD128', 'dxg', 'nvidia0', 'nvidia1']);
    assert.deepEqual(gpuDeviceNodes(join(scratch, 'no-dev')), []);
    // doctor notes that WebGPU can only be a software adapter without them
    const bare = join(scratch, 'bare-dev');
    mkdirSync(bare);
    const withoutGpu = await checkRunner({}, { probe: false, devDir: bare });
    const withGpu = await checkRunner({}, { probe: false, devDir: dev });
    assert.equal(withGpu.providers.webgpu.note, undefined);
    if (process.platform === 'linux') assert.match(withoutGpu.providers.webgpu.note ?? '', /software adapter/);
    // elsewhere the GPU is reached without such files: no note
    assert.equal(softwareWebGpuNote(bare, 'darwin'), undefined);
    assert.equal(softwareWebGpuNote(bare, 'win32'), undefined);
    assert.match(softwareWebGpuNote(bare, 'linux') ?? '', /llvmpipe/);
    assert.equal(softwareWebGpuNote(dev, 'linux'), undefined);
  });
});

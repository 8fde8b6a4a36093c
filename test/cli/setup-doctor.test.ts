/**
 * `toolbench setup cuda` and `toolbench doctor`, offline: a scratch onnxruntime-node package
 * (TOOLBENCH_ORT_LIBRARY_DIR) stands in for the real one, a .tgz laid out as the npm package
 * com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (package/Plugins/Linux/x64/*.so) for the
 * download, a script for ORT's NuGet installer, and a shell script for nvidia-smi.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runToolbench } from '../helpers/cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-setup-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const LINUX_X64 = process.platform === 'linux' && process.arch === 'x64';
const SKIP = LINUX_X64 ? false : 'the CUDA provider is linux-x64 only';
const PROVIDERS = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
const PATH = process.env.PATH ?? '/usr/bin:/bin';

let packages = 0;
/** A scratch onnxruntime-node package; returns its native folder. */
function fakeOrt(options: { version?: string; installer?: string } = {}): string {
  const root = join(scratch, `ort-${packages++}`, 'onnxruntime-node');
  const dir = join(root, 'bin', 'napi-v6', 'linux', 'x64');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'onnxruntime-node', version: options.version ?? '1.29.0' }));
  if (options.installer !== undefined) {
    mkdirSync(join(root, 'script'));
    writeFileSync(join(root, 'script', 'install.js'), options.installer);
  }
  return dir;
}

/** A .tgz with the npm package's layout (or another, to test a wrong file). */
function fakeTarball(name: string, layout = 'Plugins/Linux/x64'): string {
  const source = join(scratch, `tarball-${name}`);
  mkdirSync(join(source, 'package', layout), { recursive: true });
  writeFileSync(join(source, 'package', 'package.json'), JSON.stringify({ name: 'com.github.asus4.onnxruntime.linux-x64-gpu', version: '0.4.9' }));
  for (const file of [...PROVIDERS, 'libonnxruntime_providers_tensorrt.so']) writeFileSync(join(source, 'package', layout, file), `fake ${file} from ${name}`);
  const tarball = join(scratch, `${name}.tgz`);
  execFileSync('tar', ['-czf', tarball, '-C', source, 'package']);
  return tarball;
}

const envFor = (dir: string, extra: Record<string, string> = {}) => ({ TOOLBENCH_ORT_LIBRARY_DIR: dir, PATH, ...extra });

describe('toolbench setup cuda --from npm', { skip: SKIP }, () => {
  test('--tarball: the two provider libraries are copied beside libonnxruntime, and doctor then reports the CUDA provider installed', async () => {
    const dir = fakeOrt();
    const tarball = fakeTarball('good');
    const result = await runToolbench(['setup', 'cuda', '--from', 'npm', '--tarball', tarball, '--json'], envFor(dir));
    assert.equal(result.code, 0, result.stderr);
    for (const file of PROVIDERS) assert.equal(readFileSync(join(dir, file), 'utf8'), `fake ${file} from good`);
    assert.deepEqual(readdirSync(dir).sort(), [...PROVIDERS].sort(), 'nothing else written: no tensorrt, no temporary files');
    const report = JSON.parse(result.stdout);
    assert.deepEqual(
      { ...report, cuda_libraries: undefined, missing_libraries: undefined, steps: undefined },
      {
        from: 'npm',
        source: tarball,
        library_dir: dir,
        onnxruntime_version: '1.29.0',
        dry_run: false,
        already_installed: false,
        installed: PROVIDERS.map((name) => ({ name, path: join(dir, name), bytes: `fake ${name} from good`.length })),
        cuda_libraries: undefined,
        missing_libraries: undefined,
        steps: undefined,
      },
    );
    assert.ok(report.cuda_libraries.some((library: { name: string }) => library.name === 'libcudart.so.13'));
    assert.match(result.stderr, /is not com\.github\.asus4\.onnxruntime\.linux-x64-gpu@0\.4\.9 as published \(its sha512 differs\)/);

    const doctor = await runToolbench(['doctor', '--json'], envFor(dir));
    assert.equal(doctor.code, 0, doctor.stderr);
    const check = JSON.parse(doctor.stdout);
    assert.deepEqual(check.providers.cuda, { installed: true, files: { 'libonnxruntime_providers_shared.so': true, 'libonnxruntime_providers_cuda.so': true } });
    assert.equal(check.auto_device, 'cuda');
    assert.equal(check.onnxruntime.library_dir, dir);
  });

  test('installed already: nothing is written without --force; --force reinstalls', async () => {
    const dir = fakeOrt();
    assert.equal((await runToolbench(['setup', 'cuda', '--tarball', fakeTarball('first')], envFor(dir))).code, 0);
    const again = await runToolbench(['setup', 'cuda', '--tarball', fakeTarball('second'), '--json'], envFor(dir));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).already_installed, true);
    assert.deepEqual(JSON.parse(again.stdout).installed, []);
    assert.match(again.stderr, /installed already .* \(--force reinstalls it\)/);
    assert.equal(readFileSync(join(dir, PROVIDERS[1] as string), 'utf8'), `fake ${PROVIDERS[1]} from first`);
    const forced = await runToolbench(['setup', 'cuda', '--tarball', fakeTarball('third'), '--force'], envFor(dir));
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(join(dir, PROVIDERS[1] as string), 'utf8'), `fake ${PROVIDERS[1]} from third`);
    assert.match(forced.stdout, /^installed .*libonnxruntime_providers_shared\.so \(/m);
  });

  test('--dry-run writes nothing and lists the steps', async () => {
    const dir = fakeOrt();
    const result = await runToolbench(['setup', 'cuda', '--from', 'npm', '--dry-run', '--json'], envFor(dir));
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.dry_run, true);
    assert.match(report.steps[0], /^npm pack com\.github\.asus4\.onnxruntime\.linux-x64-gpu@0\.4\.9/);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('onnxruntime-node other than 1.29.0 is refused (exit 1) unless --force, which warns', async () => {
    const dir = fakeOrt({ version: '1.28.0' });
    const tarball = fakeTarball('mismatch');
    const refused = await runToolbench(['setup', 'cuda', '--tarball', tarball], envFor(dir));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /onnxruntime-node is 1\.28\.0; the providers in .* are ORT 1\.29\.0 .*--force/);
    assert.deepEqual(readdirSync(dir), []);
    const forced = await runToolbench(['setup', 'cuda', '--tarball', tarball, '--force'], envFor(dir));
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /warning: onnxruntime-node is 1\.28\.0, not 1\.29\.0: installing anyway/);
    assert.ok(PROVIDERS.every((file) => existsSync(join(dir, file))));
  });

  test('the libraries are found by name wherever the tarball keeps them', async () => {
    const dir = fakeOrt();
    const result = await runToolbench(['setup', 'cuda', '--tarball', fakeTarball('other-layout', 'runtimes/linux-x64/native')], envFor(dir));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(join(dir, PROVIDERS[1] as string), 'utf8'), `fake ${PROVIDERS[1]} from other-layout`);
  });

  test('bad input: a tarball without the providers, a missing tarball, --tarball with nuget, a missing native folder', async () => {
    const dir = fakeOrt();
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [['--tarball', join(scratch, 'none.tgz')], envFor(dir), 2, /--tarball .*none\.tgz: no such file/],
      [['--from', 'nuget', '--tarball', fakeTarball('nuget')], envFor(dir), 2, /--tarball is the npm package as a file: use it with --from npm/],
      [['--from', 'npm', '--tarball', fakeTarball('no-dir')], envFor(join(scratch, 'no-such-dir')), 2, /TOOLBENCH_ORT_LIBRARY_DIR=.*no-such-dir: no such folder/],
      [['--from', 'pip'], envFor(dir), 2, /argument 'pip' is invalid\. Allowed choices are nuget, npm/],
    ];
    for (const [args, env, code, pattern] of cases) {
      const result = await runToolbench(['setup', 'cuda', ...args], env);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern, args.join(' '));
    }
    assert.deepEqual(readdirSync(dir), []);
    const empty = join(scratch, 'empty-package');
    mkdirSync(join(empty, 'package'), { recursive: true });
    writeFileSync(join(empty, 'package', 'README.md'), 'no libraries');
    execFileSync('tar', ['-czf', join(scratch, 'empty.tgz'), '-C', empty, 'package']);
    const other = fakeOrt();
    const result = await runToolbench(['setup', 'cuda', '--tarball', join(scratch, 'empty.tgz')], envFor(other));
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /empty\.tgz: no libonnxruntime_providers_shared\.so inside: expected com\.github\.asus4/);
    assert.deepEqual(readdirSync(other), []);
  });
});

describe('toolbench setup cuda --from nuget', { skip: SKIP }, () => {
  /** Stands in for onnxruntime-node's script/install.js: writes the providers as ORT's does (into ../bin/napi-v6/<os>/<arch>). */
  const INSTALLER = `
const fs = require('fs');
const path = require('path');
console.log('Downloading https://api.nuget.org/v3-flatcontainer/microsoft.ml.onnxruntime.gpu.linux/1.29.0/x.nupkg');
if (process.env.ONNXRUNTIME_NODE_INSTALL !== '1' || process.env.npm_config_local_prefix !== undefined) process.exit(7);
if (process.env.FAKE_FAIL) { console.error('Error: getaddrinfo ENOTFOUND api.nuget.org'); process.exit(1); }
const dir = path.join(__dirname, '..', 'bin/napi-v6', process.platform + '/' + process.arch);
for (const file of ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so']) fs.writeFileSync(path.join(dir, file), 'from nuget');
`;

  test("the default: ORT's installer runs forced, its output goes to stderr, and the providers are checked afterwards", async () => {
    const dir = fakeOrt({ installer: INSTALLER });
    const result = await runToolbench(['setup', 'cuda', '--json'], envFor(dir, { npm_config_local_prefix: scratch }));
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.from, 'nuget');
    assert.match(report.source, /script[/\\]install\.js$/);
    assert.deepEqual(report.installed.map((file: { name: string }) => file.name), PROVIDERS);
    assert.match(result.stderr, /Downloading https:\/\/api\.nuget\.org/);
    assert.doesNotMatch(result.stdout, /Downloading/);
  });

  test('a failing installer: exit 1, and the message points at --from npm', async () => {
    const dir = fakeOrt({ installer: INSTALLER });
    const result = await runToolbench(['setup', 'cuda', '--from', 'nuget'], envFor(dir, { FAKE_FAIL: '1' }));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error: onnxruntime-node's installer failed \(exit 1: Error: getaddrinfo ENOTFOUND api\.nuget\.org\)\. .*--from npm/);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a native folder outside an onnxruntime-node package has no installer to run', async () => {
    const dir = join(scratch, 'bare-native-dir');
    mkdirSync(dir);
    const result = await runToolbench(['setup', 'cuda'], envFor(dir));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no onnxruntime-node installer \(script\/install\.js\) writes into .*bare-native-dir: use --from npm/);
    assert.doesNotMatch(result.stderr, /running/, 'no installer ran');
  });
});

describe('toolbench doctor', () => {
  test('--json: one object with node, onnxruntime, providers, GPUs, CUDA libraries, keys and advice', async () => {
    const dir = fakeOrt();
    const result = await runToolbench(['doctor', '--json'], envFor(dir));
    assert.equal(result.code, 0, result.stderr);
    const check = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(check), ['toolbench', 'node', 'onnxruntime', 'providers', 'auto_device', 'gpus', 'cuda_libraries', 'keys', 'advice']);
    assert.deepEqual(check.node, { version: process.version, platform: process.platform, arch: process.arch });
    assert.deepEqual(check.onnxruntime, { version: '1.29.0', library_dir: dir, loads: true });
    assert.equal(check.providers.cpu.installed, true);
    assert.equal(typeof check.providers.webgpu.installed, 'boolean');
    assert.deepEqual(check.providers.cuda, { installed: false, files: { 'libonnxruntime_providers_shared.so': false, 'libonnxruntime_providers_cuda.so': false } });
    assert.equal(check.auto_device, 'cpu');
    assert.ok(['nvidia-smi', '/proc/driver/nvidia', 'none'].includes(check.gpus.source));
    assert.deepEqual(
      check.cuda_libraries.map((library: { name: string; how: string }) => `${library.name} ${library.how}`),
      ['libcudart.so.13 linked', 'libcublas.so.13 linked', 'libcublasLt.so.13 linked', 'libcurand.so.10 linked', 'libcuda.so.1 linked', 'libcudnn.so.9 dlopen', 'libnvrtc.so.13 dlopen'],
    );
    assert.deepEqual(check.keys, { OPENAI_API_KEY: false, TOOLBENCH_KEY: false, RAPIDAPI_KEY: false, API_POOL_FILE: false });
    assert.match(check.advice.at(-1), /toolbench setup cuda/);
  });

  test('a CUDA library in an LD_LIBRARY_PATH folder is found there; one in CUDA_HOME/lib64 is off the path', async () => {
    const libraries = join(scratch, 'ld-library-path');
    const cudaHome = join(scratch, 'cuda-home');
    mkdirSync(libraries);
    mkdirSync(join(cudaHome, 'lib64'), { recursive: true });
    writeFileSync(join(libraries, 'libcudart.so.13'), 'fake');
    writeFileSync(join(cudaHome, 'lib64', 'libnvrtc.so.13'), 'fake');
    const env = envFor(fakeOrt(), { LD_LIBRARY_PATH: [join(scratch, 'nothing-here'), libraries].join(delimiter), CUDA_HOME: cudaHome });
    const check = JSON.parse((await runToolbench(['doctor', '--json'], env)).stdout);
    const byName = new Map(check.cuda_libraries.map((library: { name: string }) => [library.name, library]));
    assert.deepEqual(byName.get('libcudart.so.13'), { name: 'libcudart.so.13', status: 'found', path: join(libraries, 'libcudart.so.13'), via: 'LD_LIBRARY_PATH', how: 'linked' });
    const nvrtc = byName.get('libnvrtc.so.13') as { status: string; path?: string };
    if (nvrtc.status !== 'found') assert.deepEqual(nvrtc, { name: 'libnvrtc.so.13', status: 'off-path', path: join(cudaHome, 'lib64', 'libnvrtc.so.13'), how: 'dlopen' });
  });

  test('GPUs from nvidia-smi on the PATH; a failing nvidia-smi is reported as the problem', async () => {
    const bin = join(scratch, 'fake-bin');
    mkdirSync(bin);
    const smi = join(bin, 'nvidia-smi');
    writeFileSync(smi, '#!/bin/sh\necho "NVIDIA H100 80GB HBM3, 81559 MiB, 580.65.06"\necho "NVIDIA H200, 143771 MiB, 580.65.06"\n');
    chmodSync(smi, 0o755);
    const env = envFor(fakeOrt(), { PATH: `${bin}${delimiter}${PATH}` });
    const check = JSON.parse((await runToolbench(['doctor', '--json'], env)).stdout);
    assert.deepEqual(check.gpus, {
      source: 'nvidia-smi',
      devices: [
        { name: 'NVIDIA H100 80GB HBM3', memory: '81559 MiB', driver: '580.65.06' },
        { name: 'NVIDIA H200', memory: '143771 MiB', driver: '580.65.06' },
      ],
    });
    assert.match(check.advice[0], /CUDA provider not installed: run "toolbench setup cuda"/);
    const text = await runToolbench(['doctor'], env);
    assert.match(text.stdout, /^ {2}NVIDIA H100 80GB HBM3 {2}81559 MiB {3}driver 580\.65\.06 {2}\(nvidia-smi\)$/m);

    writeFileSync(smi, '#!/bin/sh\necho "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."\nexit 9\n');
    const failing = JSON.parse((await runToolbench(['doctor', '--json'], env)).stdout);
    assert.match(failing.gpus.problem, /^nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate/);
  });

  test('keys: set or not, upstream aliases count, values never printed', async () => {
    const secret = 'sk-test-0123456789abcdef';
    const env = envFor(fakeOrt(), { OPENAI_KEY: secret, RAPIDAPI_KEY: `rapid-${secret}`, TOOLBENCH_KEY: '' });
    const json = await runToolbench(['doctor', '--json'], env);
    assert.deepEqual(JSON.parse(json.stdout).keys, { OPENAI_API_KEY: true, TOOLBENCH_KEY: false, RAPIDAPI_KEY: true, API_POOL_FILE: false });
    const text = await runToolbench(['doctor'], env);
    assert.match(text.stdout, /^ {2}OPENAI_API_KEY {2}set \(as OPENAI_KEY\)$/m);
    assert.match(text.stdout, /^ {2}TOOLBENCH_KEY {3}not set$/m);
    for (const output of [json.stdout, json.stderr, text.stdout, text.stderr]) assert.ok(!output.includes(secret));
  });

  test('text: aligned sections and the advice last; colour only when asked (NO_COLOR honoured)', async () => {
    const env = envFor(fakeOrt());
    const plain = await runToolbench(['doctor'], env);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^toolbench \S+, node v\d+/);
    for (const heading of ['Execution providers', 'GPUs', 'CUDA libraries the CUDA provider loads (CUDA 13, cuDNN 9)', 'Keys (from the environment; values never shown)']) {
      assert.match(plain.stdout, new RegExp(`^${heading.replace(/[()]/g, '\\$&')}$`, 'm'));
    }
    assert.match(plain.stdout, /^ {2}cpu {5}installed {6}built in$/m);
    assert.match(plain.stdout, /^ {2}cuda {4}not installed {2}run "toolbench setup cuda"$/m);
    assert.match(plain.stdout.trimEnd().split('\n').at(-1) ?? '', /toolbench setup cuda/);
    assert.doesNotMatch(plain.stdout, /\x1b\[/);
    const coloured = await runToolbench(['doctor'], { ...env, NO_COLOR: '', FORCE_COLOR: '1' });
    assert.match(coloured.stdout, /\x1b\[/);
    assert.equal(coloured.stdout.replace(/\x1b\[\d+m/g, ''), plain.stdout);
  });

  test('--probe runs a one-node model on each installed provider (the CPU one works)', async () => {
    const check = JSON.parse((await runToolbench(['doctor', '--probe', '--json'], envFor(fakeOrt()))).stdout);
    assert.equal(check.providers.cpu.probe.ok, true);
    assert.ok(check.providers.cpu.probe.ms >= 0);
    assert.equal(check.providers.cuda.probe, undefined, 'not installed: not probed');
    if (check.providers.webgpu.installed) assert.equal(typeof check.providers.webgpu.probe.ok, 'boolean');
  });
});

describe('--help', () => {
  test('setup cuda and doctor have help with examples', async () => {
    for (const args of [['setup', 'cuda', '--help'], ['doctor', '--help'], ['setup', '--help']]) {
      const result = await runToolbench(args);
      assert.equal(result.code, 0, args.join(' '));
      assert.match(result.stdout, /Examples:|toolbench setup cuda --help/, args.join(' '));
    }
    const setup = await runToolbench(['setup', 'cuda', '--help']);
    for (const flag of ['--from <source>', '--tarball <file>', '--force', '--dry-run', '--json']) assert.ok(setup.stdout.includes(flag), flag);
  });
});

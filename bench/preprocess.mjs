// Preprocessing benchmark: `preprocess toolllama` over 10,000 synthetic answer trees made from the
// real ones (ToolBench's data_example/answer, else the fixtures) by varying ids and texts, and
// `preprocess retriever` over a synthetic instruction file.
//
//   node --import tsx bench/preprocess.mjs      (BENCH_TREES changes the tree count)
//
// toolllama runs as users run it: the built program (built here first) in its own process, whose
// time includes start-up and worker threads, with the default thread count and with --threads 1.
// Targets: at least 2,000 trees/s; peak memory independent of the number of trees (the peak RSS
// of a run over a fifth of the trees against the full run).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { preprocessRetriever } from '../src/preprocess/retriever.ts';

const DATA = resolve(process.env.TOOLBENCH_DATA ?? '../shared/data/toolbench');
const TREES = Number(process.env.BENCH_TREES ?? 10_000);
const fmt = (value, digits = 1) => Number(value.toFixed(digits));

function templates() {
  const roots = [join(DATA, 'toolbench/data_example/answer'), resolve('fixtures/answers/hello-dfs')];
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.json') && name.includes('DFS_woFilter_w2')) files.push(path);
    }
  };
  for (const root of roots) {
    try {
      walk(root);
    } catch {
      // not here
    }
    if (files.length > 0) break;
  }
  return files.map((file) => readFileSync(file, 'utf8')).filter((text) => JSON.parse(text).answer_generation?.valid_data);
}

/** Writes `count` trees: each template with its query text and numbers varied. */
function writeTrees(dir, count, sources) {
  mkdirSync(dir, { recursive: true });
  let bytes = 0;
  for (let index = 0; index < count; index++) {
    const source = sources[index % sources.length];
    const text = source.replaceAll('I\'m', `I'm (case ${index})`).replace(/"query_id": ?\d+/, `"query_id": ${100000 + index}`);
    writeFileSync(join(dir, `${100000 + index}_ChatGPT_DFS_woFilter_w2.json`), text);
    bytes += text.length;
  }
  return bytes;
}

async function measure(run) {
  let peak = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  return { result, seconds, peakMb: peak / 2 ** 20 };
}

// the program's peak RSS, printed on exit by a preloaded module
const REPORT_RSS = 'data:text/javascript,process.on("exit",()=>process.stderr.write(`maxrss ${process.resourceUsage().maxRSS}\\n`))';

function runToolllama(answers, threads) {
  const args = ['--import', REPORT_RSS, 'bin/toolbench', 'preprocess', 'toolllama', '--answers', answers, '--out', join(dir, 'sft.json'), '--json', '--threads', String(threads)];
  const started = performance.now();
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`preprocess toolllama failed (${run.status}): ${run.stderr}`);
  return { counts: JSON.parse(run.stdout), seconds, peakRssMb: Number(/maxrss (\d+)/.exec(run.stderr)[1]) / 1024 };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-preprocess-'));
try {
  const sources = templates();
  if (sources.length === 0) throw new Error('no template answer trees found');
  const small = Math.max(1, Math.floor(TREES / 5));
  const smallBytes = writeTrees(join(dir, 'small'), small, sources);
  const fullBytes = writeTrees(join(dir, 'full'), TREES, sources);
  execFileSync(process.execPath, ['esbuild.config.mjs'], { stdio: 'inherit' });
  const threads = Math.min(8, availableParallelism());
  runToolllama(join(dir, 'small'), threads); // warm-up: file cache
  const runSmall = runToolllama(join(dir, 'small'), threads);
  const runFull = runToolllama(join(dir, 'full'), threads);
  const runOneThread = runToolllama(join(dir, 'full'), 1);

  // the retriever: an instruction file of 20,000 queries over a pool of 2,000 APIs
  const apis = Array.from({ length: 2000 }, (_, index) => ({
    category_name: `Category ${index % 40}`, tool_name: `Tool ${index % 500}`, api_name: `api_${index}`, api_description: `Does thing ${index}.`,
    required_parameters: [{ name: 'q', type: 'STRING', description: 'query', default: 'x' }], optional_parameters: [], method: 'GET', template_response: { result: 'str' },
  }));
  const queries = Array.from({ length: 20_000 }, (_, index) => {
    const list = [apis[index % 2000], apis[(index * 7) % 2000], apis[(index * 13) % 2000]];
    return { api_list: list, query: `Question ${index} about ${list[0].api_name}?`, query_id: index, 'relevant APIs': [[list[0].tool_name, list[0].api_name], [list[1].tool_name, list[1].api_name]] };
  });
  const queryFile = join(dir, 'queries.json');
  writeFileSync(queryFile, JSON.stringify(queries));
  const testIds = new Set(Array.from({ length: 2000 }, (_, index) => index * 10));
  const retriever = await measure(() => preprocessRetriever({ queries: queryFile, testIds, out: join(dir, 'retrieval') }, () => {}));

  console.log(JSON.stringify({
    templates: sources.length,
    toolllama: {
      trees: TREES,
      input_mb: fmt(fullBytes / 2 ** 20),
      instances: runFull.counts.instances,
      threads,
      seconds: fmt(runFull.seconds, 2),
      trees_per_s: Math.round(TREES / runFull.seconds),
      target: 'trees_per_s >= 2000',
      one_thread: { seconds: fmt(runOneThread.seconds, 2), trees_per_s: Math.round(TREES / runOneThread.seconds) },
      peak_rss_mb: { [`${small}_trees`]: fmt(runSmall.peakRssMb), [`${TREES}_trees`]: fmt(runFull.peakRssMb), [`${TREES}_trees_one_thread`]: fmt(runOneThread.peakRssMb) },
      peak_rss_ratio_full_over_fifth: fmt(runFull.peakRssMb / runSmall.peakRssMb, 2),
      small_input_mb: fmt(smallBytes / 2 ** 20),
    },
    retriever: {
      queries: queries.length,
      input_mb: fmt(statSync(queryFile).size / 2 ** 20),
      seconds: fmt(retriever.seconds, 2),
      queries_per_s: Math.round(queries.length / retriever.seconds),
      pairs: retriever.result.train_pairs + retriever.result.test_pairs,
      peak_heap_mb: fmt(retriever.peakMb),
    },
  }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

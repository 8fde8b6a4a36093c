// Registry benchmark (issue 2): the function list for each of the 765 real test queries
// against the ToolEnv2404 tools, warm and cold, and peak memory; then the cold start of
// `toolbench tools functions` for one query, against `node -e 0` measured in the same run.
//
//   npm run bench:registry            (needs the shared data: TOOLBENCH_DATA, default ../shared/data/toolbench)
//
// Targets: < 2 ms per query warm; < 1 s cold start for one query.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readQueryFile } from '../src/registry/query-file.ts';
import { functionsFromEnvironment, functionsFromQuery } from '../src/registry/query-functions.ts';
import { ToolEnvironment } from '../src/registry/tool-environment.ts';

const root = resolve(import.meta.dirname, '..');
const data = resolve(root, process.env.TOOLBENCH_DATA ?? '../shared/data/toolbench');
const tools = join(data, 'external/trishamaturi__DynamicToolBench/tools/toolenv2404_filtered');
const sets = ['G1_instruction', 'G1_category', 'G1_tool', 'G2_instruction', 'G2_category', 'G3_instruction'];
const queryFile = (set) => join(data, 'stabletoolbench/solvable_queries/test_instruction', `${set}.json`);
if (!existsSync(tools)) {
  console.error(`bench/registry: no data at ${data} (set TOOLBENCH_DATA)`);
  process.exit(2);
}

const ms = (start) => performance.now() - start;
const fixed = (value, digits = 3) => value.toFixed(digits);

// 1. In-process: load the query files, then build every function list twice (cold caches, then warm).
let start = performance.now();
const queries = sets.flatMap((set) => readQueryFile(queryFile(set)));
const readQueriesMs = ms(start);
const environment = ToolEnvironment.open(tools);
const pass = (build) => {
  const begin = performance.now();
  let functions = 0;
  for (const query of queries) functions += build(query).functions.length;
  return { ms: ms(begin), functions };
};
const coldPass = pass((query) => functionsFromEnvironment(query, environment));
const warmPasses = Array.from({ length: 5 }, () => pass((query) => functionsFromEnvironment(query, environment)));
const warm = warmPasses.map((run) => run.ms).sort((a, b) => a - b)[2];
const fromQuery = Array.from({ length: 5 }, () => pass((query) => functionsFromQuery(query))).map((run) => run.ms).sort((a, b) => a - b)[2];
start = performance.now();
const all = ToolEnvironment.open(tools).loadAll();
const loadAllMs = ms(start);

// 2. Cold start of the built program for one query, against bare node startup.
const bin = join(root, 'bin', 'toolbench');
const median = (command, args, runs = 7) => {
  const times = [];
  for (let run = 0; run < runs; run++) {
    const begin = performance.now();
    const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    times.push(ms(begin));
    if (result.status !== 0 && result.status !== 3) throw new Error(`${args.join(' ')}: exit ${result.status}: ${result.stderr}`);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
};
const nodeBaseline = median(process.execPath, ['-e', '0']);
const coldOne = median(process.execPath, [bin, 'tools', 'functions', '--queries', queryFile('G1_instruction'), '--id', '588', '--tools', tools, '--json']);
const coldList = median(process.execPath, [bin, 'tools', 'list', '--tools', tools, '--json'], 3);

console.log(`queries: ${queries.length} (read and checked in ${fixed(readQueriesMs, 1)} ms); tools: ${all.tools.length} files, ${all.tools.reduce((sum, tool) => sum + tool.apis.length, 0)} APIs`);
console.log(`function lists from --tools, first pass (tool files parsed on demand): ${fixed(coldPass.ms, 1)} ms = ${fixed(coldPass.ms / queries.length)} ms/query (${coldPass.functions} functions)`);
console.log(`function lists from --tools, warm (median of 5): ${fixed(warm, 1)} ms = ${fixed(warm / queries.length)} ms/query   [target < 2 ms/query]`);
console.log(`function lists from the query api_list, warm (median of 5): ${fixed(fromQuery, 1)} ms = ${fixed(fromQuery / queries.length)} ms/query`);
console.log(`parsing every tool file (loadAll): ${fixed(loadAllMs, 1)} ms`);
console.log(`peak RSS in process: ${fixed(process.resourceUsage().maxRSS / 1024, 1)} MiB`);
console.log(`cold start, toolbench tools functions (1 query, --tools): ${fixed(coldOne, 1)} ms; node -e 0: ${fixed(nodeBaseline, 1)} ms; ratio ${fixed(coldOne / nodeBaseline, 2)}   [target < 1000 ms]`);
console.log(`cold start, toolbench tools list --json (all ${all.tools.length} files): ${fixed(coldList, 1)} ms`);

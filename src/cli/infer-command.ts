/**
 * `toolbench infer`: query files in, one upstream answer file per query out
 * (`<out>/<query_id>_<method>.json`), searched with CoT@N, DFSDT or DFS with ranking. Resumes by
 * skipping answered queries; runs `--workers` queries at a time; `--json` streams events.
 *
 * Exit codes: 0 every query answered (or answered before), 3 some answered and some failed, 1 none
 * answered and some failed, 2 bad usage or a query source that breaks, 130 interrupted.
 */
import type { Command } from 'commander';
import { createToolEnv } from '../env/create-env.js';
import type { ToolEnv } from '../env/tool-call.js';
import { createDirectorySink, createLinesSink, FAILURES_FILE } from '../infer/answer-sink.js';
import { encodeInferEvent, type InferEvent } from '../infer/infer-events.js';
import { selectJobs, type InferJob } from '../infer/infer-job.js';
import { resolveInferSettings, type InferFlags, type InferSettings } from '../infer/infer-settings.js';
import { formatSummary } from '../infer/infer-summary.js';
import { startProgressBar, type ProgressBar } from '../infer/progress-bar.js';
import { jobsOfQueries, readQuerySources, STDIN, type ByteStream } from '../infer/query-source.js';
import { replayJobs } from '../infer/replay-jobs.js';
import { errorMessage, runInfer } from '../infer/run-infer.js';
import { loadPriceTable } from '../llm/prices.js';
import type { Query } from '../registry/query-file.js';
import type { DenseRetriever } from '../retriever/dense-retriever.js';
import { openDomainQuery } from '../retriever/open-domain.js';
import { ToolEnvironment } from '../registry/tool-environment.js';
import { parseMethod } from '../search/method.js';
import { openRecordedRun } from '../search/replay.js';
import { runSearch } from '../search/run-search.js';
import { buildSearchTask } from '../search/task.js';
import { closeAll } from '../util/close-all.js';
import { ToolbenchError } from '../util/errors.js';
import type { EnvConfig } from '../config/env-config.js';
import { addEnvOptions, collect, envConfigOf, envDeps } from './env-options.js';
import { addSearchOptions, createSearchBackbone, openRetriever } from './search-options.js';
import { createReporter, type CliIo, type Reporter } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { PROCESS_STOP_SIGNALS, type StopSignals } from './serve-tools.js';

/** Standard input, when the io passed in has one (tests); the process's otherwise. */
type InferStdin = ByteStream & { readonly isTTY?: boolean; destroy?(): unknown };
type InferIo = CliIo & { readonly stdin?: InferStdin };

/** What `--seed` does for infer (the shared flag text speaks of the tool environment only). */
const SEED_HELP = "seeds the random compression draw, the reported give-up choice, and (when given) the model's sampling (default 0)";

export function registerInferCommand(program: Command, io: CliIo, outcome: CommandOutcome, signals: StopSignals = PROCESS_STOP_SIGNALS): void {
  const command = program
    .command('infer')
    .description('answer queries with a tool-use search (CoT@N, DFSDT): one upstream answer file per query')
    .option('--queries <file>', 'query file: a JSON array (ToolBench layout) or JSON lines; - for standard input (repeatable)', collect)
    .option('--out <dir>', 'folder for <query_id>_<method>.json answer files; - for one JSON answer a line on standard output')
    .option('--workers <n>', 'queries searched at the same time (default 1)')
    .option('--shard <i/n>', 'run shard i of n: the queries at positions p (from 0, over all --queries) with p mod n = i-1')
    .option('--ids <list>', 'only these query ids, comma-separated')
    .option('--max-cost <usd>', 'start no more queries once the LLM calls of this run have cost this many US dollars (needs a price for --model)')
    .option('--overwrite', 'search queries again even when their answer file exists')
    .option('--json', 'one JSON event a line on standard output: run_start, query_start, llm, tool, node, query_end, query_error, run_end');
  addSearchOptions(command);
  addEnvOptions(command);
  const seed = command.options.find((option) => option.long === '--seed');
  if (seed !== undefined) seed.description = SEED_HELP;
  command
    .addHelpText(
      'after',
      `
Answers are written atomically as <out>/<query_id>_<method>.json (pyjson, as upstream), and a
query whose file exists is skipped, so an interrupted run resumes where it stopped. A query that
fails, or an item of the query file that is not a valid query, is reported on stderr and the run
goes on: exit 3 at the end, or 1 when no query was answered. With --out DIR the failures are also
listed in DIR/${FAILURES_FILE}; with --out - they are on stderr only. A query file that cannot
be read or is not well-formed JSON stops new queries from starting; those in flight finish (exit
2). Ctrl-C stops the queries in flight, writes nothing partial and exits 130. --shard splits by
position, so the shards' answer folders merge by file name. From --queries -, JSON lines are
searched as they arrive; a JSON array is read whole first.

Examples:
  $ toolbench infer --queries data/test_instruction/G1_instruction.json --tools data/toolenv/tools \\
      --cache tool_response_cache --model gpt-4o-mini --out answers/G1_instruction --workers 8
  $ toolbench infer --queries G1_instruction.json --backbone toolllama --model ToolBench/ToolLLaMA-2-7b-v2 \\
      --base-url http://localhost:8000/v1 --method CoT@1 --out answers --shard 1/4
  $ toolbench infer --backbone replay --env replay --replay-from data/answer/G1_answer --method DFS_woFilter_w2 --out rerun
  $ jq -c '.[]' G1_instruction.json | toolbench infer --queries - --out - --model gpt-4o-mini --env replay --replay-from cache/ | jq .win
  $ toolbench infer --queries G1_instruction.json --out answers --model gpt-4o-mini --json --max-cost 5 | jq -c 'select(.event == "query_end")'
  $ toolbench infer --queries G1_instruction.json --tools data/toolenv/tools --env virtual --model gpt-4o-mini \
      --retriever retriever_model --corpus retrieval/G1/corpus.tsv --top-k 5 --out answers/open_domain`,
    )
    .action(async (_flags: unknown, self: Command) => {
      await inferCommand(self, io as InferIo, outcome, signals);
    });
}

async function inferCommand(command: Command, io: InferIo, outcome: CommandOutcome, signals: StopSignals): Promise<void> {
  const flags = command.optsWithGlobals() as InferFlags & { color?: boolean };
  let bar: ProgressBar | undefined;
  // messages go above the progress bar while it is shown
  const messageIo: CliIo = { ...io, stderr: { isTTY: io.stderr.isTTY, write: (text) => (bar === undefined ? io.stderr.write(text) : bar.log(text)) } };
  const reporter = createReporter(messageIo, { color: flags.color });
  const settings = resolveInferSettings(flags, io.env);
  const envConfig = envConfigOf(command, io, reporter);
  const showBar = !settings.json && io.stderr.isTTY === true && io.env.TERM !== 'dumb';

  const controller = new AbortController();
  let interruptedBy: string | undefined;
  const unlisten = signals.listen((signal) => {
    if (interruptedBy !== undefined) return;
    interruptedBy = signal;
    reporter.warn(`${signal}: stopping the queries in flight; finished answers are on disk (again to quit at once)`);
    controller.abort(new ToolbenchError('interrupted', 130, `interrupted (${signal})`));
    unlisten(); // a second Ctrl-C gets the default behaviour: quit at once
  });
  let resources: Resources;
  try {
    resources = await openResources(settings, envConfig, reporter, io, controller.signal);
  } catch (error) {
    unlisten();
    throw error;
  }
  const emit = (event: InferEvent): void => {
    if (settings.json) io.stdout.write(encodeInferEvent(event));
    bar?.onEvent(event);
  };
  try {
    // standard input is read once, by the run: its queries are not counted in advance
    const total = showBar && !settings.queries.includes(STDIN) ? await countJobs(resources.jobs, controller.signal) : undefined;
    emit({
      event: 'run_start',
      method: settings.method.name,
      backbone: settings.backbone,
      ...(settings.model === undefined ? {} : { model: settings.model }),
      out: settings.out,
      workers: settings.workers,
      ...(flags.shard === undefined ? {} : { shard: flags.shard }),
      ...(settings.maxCost === undefined ? {} : { max_cost: settings.maxCost }),
      ...(total === undefined ? {} : { total }),
    });
    if (showBar) bar = startProgressBar(io.stderr as NodeJS.WritableStream, total);
    const summary = await runInfer(resources.jobs(reporter.warn), {
      method: settings.method,
      maxDepth: settings.maxDepth,
      maxQueryCount: settings.maxQueryCount,
      seed: envConfig.seed,
      compat: settings.compat,
      workers: settings.workers,
      maxCost: settings.maxCost,
      overwrite: settings.overwrite,
      sink: settings.out === '-' ? createLinesSink(io.stdout) : createDirectorySink(settings.out, settings.method.name),
      search: runSearch,
      signal: controller.signal,
      onEvent: emit,
      warn: reporter.warn,
      now: Date.now,
    });
    bar?.stop();
    bar = undefined;
    const { fatal, stoppedBy, ...counts } = summary;
    emit({ event: 'run_end', ...counts, stopped_by: stoppedBy, ...(fatal === undefined ? {} : { error: errorMessage(fatal) }) });
    if (!settings.json || stoppedBy !== 'completed') {
      const failuresFile = settings.out === '-' ? undefined : `${settings.out}/${FAILURES_FILE}`;
      reporter.info(formatSummary(summary, { out: settings.out, maxCost: settings.maxCost, failuresFile }));
    }
    if (summary.fatal !== undefined) throw summary.fatal;
    if (stoppedBy === 'interrupted') throw new ToolbenchError('interrupted', 130, `interrupted (${interruptedBy ?? 'SIGINT'}): ${summary.done} answers were written; run the same command again to resume`);
    if (summary.failed > 0) {
      // exit 3 says that some results were written; with none at all, the run failed
      if (summary.done === 0 && summary.skipped === 0) throw new ToolbenchError('infer.failed', 1, `every query failed (${summary.failed}); no answer was written`);
      outcome.partial = true;
    }
  } finally {
    unlisten();
    bar?.stop();
    await resources.close();
  }
}

interface Resources {
  /** A fresh job stream each call (the progress bar counts one, the run reads another). */
  readonly jobs: (warn: (message: string) => void) => AsyncIterable<InferJob>;
  close(): Promise<void>;
}

/** The run's jobs, with the backbone and tool environment they share (none for replay). */
async function openResources(settings: InferSettings, envConfig: EnvConfig, reporter: Reporter, io: InferIo, signal: AbortSignal): Promise<Resources> {
  const selection = (warn: (message: string) => void) => ({ shard: settings.shard, ids: settings.ids, warn });
  if (settings.backbone === 'replay') {
    if (envConfig.replayFrom.length === 0) throw new ToolbenchError('usage.invalid', 2, '--backbone replay needs --replay-from DIR: the recorded answer files to run again');
    if (envConfig.kind !== 'replay' && envConfig.origins.kind !== 'default') {
      reporter.warn(`--backbone replay answers tool calls from the recordings; --env ${envConfig.kind} is not used`);
    }
    const candidates = replayJobs(envConfig.replayFrom, settings.method.name, openReplayJob, reporter.warn);
    return { jobs: (warn) => selectJobs(iterate(candidates), selection(warn)), close: async () => {} };
  }
  const prices = loadPriceTable(settings.pricesFile);
  const backbone = createSearchBackbone(settings, envConfig, settings.workers, prices);
  if (settings.maxCost !== undefined && settings.model !== undefined && prices.priceOf(settings.model) === undefined) {
    reporter.warn(`--max-cost has no effect: no price for model ${settings.model}; give one with --prices FILE`);
  }
  // one open tool folder serves the function lists and the environment
  let tools: ToolEnvironment | undefined;
  let env: ToolEnv | undefined;
  let retriever: DenseRetriever | undefined;
  try {
    tools = envConfig.tools === undefined ? undefined : ToolEnvironment.open(envConfig.tools);
    env = createToolEnv(envConfig, { ...envDeps(reporter), ...(tools === undefined ? {} : { tools }) });
    if (settings.retriever !== undefined) {
      if (tools === undefined) throw new ToolbenchError('usage.invalid', 2, '--retriever needs --tools DIR: the retrieved APIs are looked up in the tool files');
      retriever = await openRetriever(settings.retriever, io.env, reporter, signal);
    }
  } catch (error) {
    await closeAll([() => env?.close(), () => backbone.close?.()]).catch(() => undefined); // the error that stopped the start is the one to report
    throw error;
  }
  const openEnv = env;
  let input: InferStdin | undefined;
  const stdin = (): ByteStream => {
    input = io.stdin ?? process.stdin;
    if (input.isTTY === true) reporter.info('reading queries from the terminal: end with Ctrl-D');
    return input;
  };
  const topK = settings.retriever?.topK ?? 0;
  const open = async (query: Query) => {
    const chosen = retriever === undefined ? query : await openDomainQuery(retriever, query, topK, tools as ToolEnvironment);
    return { task: buildSearchTask(chosen, { tools, finish: settings.finish, warn: reporter.warn }), backbone, env: openEnv };
  };
  return {
    jobs: (warn) => selectJobs(jobsOfQueries(readQuerySources(settings.queries, stdin), open), selection(warn)),
    async close() {
      input?.destroy?.(); // a pipe still open (the run was interrupted or stopped early) must not keep the process waiting
      await closeAll([() => openEnv.close(), () => backbone.close?.(), () => retriever?.release()]);
    },
  };
}

function openReplayJob(file: string) {
  const run = openRecordedRun(file);
  return {
    task: run.task,
    backbone: run.backbone,
    env: run.env,
    method: parseMethod(run.method),
    maxDepth: run.maxDepth,
    maxQueryCount: run.maxQueryCount,
    async close() {
      await run.env.close();
      await run.backbone.close?.();
    },
  };
}

/**
 * The jobs the run will look at, for the progress bar; undefined when the count was cut short by
 * an interrupt or an error (the run reports the error itself, after the queries before it).
 */
async function countJobs(jobs: Resources['jobs'], signal: AbortSignal): Promise<number | undefined> {
  let count = 0;
  try {
    for await (const _job of jobs(() => undefined)) {
      // query files are read synchronously: let a Ctrl-C through now and then
      if (++count % 1000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal.aborted) return undefined;
    }
  } catch {
    return undefined;
  }
  return count;
}

async function* iterate<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

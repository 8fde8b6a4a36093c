/**
 * `toolbench preprocess retriever | toolllama`: training data from ToolBench data, as upstream's
 * preprocessing scripts write it (preprocess-and-train.md §1, §4).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { preprocessRetriever } from '../preprocess/retriever.js';
import { defaultThreadCount, preprocessToolllama } from '../preprocess/toolllama-files.js';
import { readTestIds } from '../registry/query-file.js';
import { inputError, usageError } from '../util/errors.js';
import { listenForInterrupt, type Interrupt } from './interrupt.js';
import { createReporter, type CliIo } from './io.js';
import type { CommandOutcome } from './outcome.js';
import { PROCESS_STOP_SIGNALS, type StopSignals } from './serve-tools.js';

interface RetrieverFlags {
  queries: string;
  testIds: string;
  out: string;
  datasetName?: string;
  json?: boolean;
  color?: boolean;
}

interface ToolllamaFlags {
  answers: string;
  method: string;
  out: string;
  evalOut?: string;
  evalRatio: string;
  seed: string;
  threads?: string;
  json?: boolean;
  color?: boolean;
}

export function registerPreprocessCommand(program: Command, io: CliIo, outcome: CommandOutcome, signals: StopSignals = PROCESS_STOP_SIGNALS): void {
  const preprocess = program
    .command('preprocess')
    .description('training data from ToolBench data: retriever corpus and pairs, ToolLLaMA conversations')
    .addHelpText('after', '\nRun "toolbench preprocess <command> --help" for the options and examples of each command.');

  preprocess
    .command('retriever')
    .description('retriever data from an instruction file (preprocess_retriever_data.py): corpus.tsv, query files, qrels, train/test splits')
    .requiredOption('--queries <file>', 'instruction file: a JSON array of queries with api_list (and "relevant APIs")')
    .requiredOption('--test-ids <file>', 'test-id file {"<query_id>": 0, ...}: those queries form the test split')
    .requiredOption('--out <dir>', 'output folder')
    .option('--dataset-name <name>', 'accepted for compatibility (upstream ignores it too)')
    .option('--json', 'print the counts as JSON')
    .addHelpText(
      'after',
      `
Writes train.json, test.json, corpus.tsv (one row per API occurrence, ids from first sight, train
queries first), train.query.txt, test.query.txt, qrels.train.tsv and qrels.test.tsv, byte for byte
as upstream (pairs shuffled with NumPy's legacy RandomState(42)). The query file is streamed, so
multi-GB files work. Queries that cannot be used are reported and skipped, and an empty train or
test split is reported (exit 3). Ctrl-C writes nothing: outputs appear only when complete.

Examples:
  $ toolbench preprocess retriever --queries data/instruction/G1_query.json --test-ids data/test_query_ids/G1_instruction_test_query_ids.json --out data/retrieval/G1
  $ toolbench preprocess retriever --queries G1_query.json --test-ids G1_test_ids.json --out retrieval/G1 --json | jq .test_pairs`,
    )
    .action(async (_flags: unknown, self: Command) => retriever(self.optsWithGlobals() as RetrieverFlags, io, outcome, signals));

  preprocess
    .command('toolllama')
    .description('ToolLLaMA fine-tuning conversations from answer trees (preprocess_toolllama_data.py)')
    .requiredOption('--answers <dir>', 'folder of answer files <query_id>_<method>.json')
    .option('--method <method>', 'only files whose name contains it', 'DFS_woFilter_w2')
    .requiredOption('--out <file>', 'the training data: a JSON array of {"id", "conversations": [{"from", "value"}]}')
    .option('--eval-out <file>', 'also write an eval file: a seeded share (--eval-ratio) of the instances goes there instead')
    .option('--eval-ratio <r>', 'share of instances for --eval-out (upstream\'s training script splits 2% when no eval file is given)', '0.02')
    .option('--seed <n>', 'seed of the eval split', '0')
    .option('--threads <n>', `worker threads converting answer files (default: one per CPU, at most 8, here ${defaultThreadCount()}); 1 converts on the main thread`)
    .option('--json', 'print the counts as JSON')
    .addHelpText(
      'after',
      `
One instance per assistant step of every valid answer (train_messages), with the ToolLLaMA system
prompt and ReAct turns, each as upstream writes it (see docs/preprocess.md for what upstream drops).
Files (*.json whose name contains --method) are converted on worker threads and written in name
order (upstream: directory order), so the output does not depend on --threads. Ctrl-C writes
nothing: outputs appear only when complete. Invalid answers (valid_data false), unreadable files
and files missing a field are reported and skipped (exit 3 when any was skipped).

Examples:
  $ toolbench preprocess toolllama --answers data/answer/G1_answer --out data/toolllama_G1_dfs.json
  $ toolbench preprocess toolllama --answers answers --out train.json --eval-out eval.json --eval-ratio 0.02 --seed 1`,
    )
    .action(async (_flags: unknown, self: Command) => toolllama(self.optsWithGlobals() as ToolllamaFlags, io, outcome, signals));
}

async function retriever(flags: RetrieverFlags, io: CliIo, outcome: CommandOutcome, signals: StopSignals): Promise<void> {
  const reporter = createReporter(io, { color: flags.color });
  // the file is read twice (train queries first, then test queries): a pipe would be empty the second time
  if (existsSync(flags.queries) && !statSync(flags.queries).isFile()) throw usageError(`--queries ${flags.queries}: expected a regular file (it is read twice), not a pipe or a folder`);
  const testIds = new Set(
    readTestIds(flags.testIds).map((key) => {
      // upstream converts every key with int()
      if (!/^\s*[+-]?\d+\s*$/.test(key)) throw inputError(flags.testIds, JSON.stringify(key), 'an integer query id as key');
      return Number(key);
    }),
  );
  const progress = progressLine(io, flags.json, (read: number) => `queries read: ${read}`);
  const interrupt = listenForInterrupt(signals, reporter, 'no output is written');
  const counts = await finishing(interrupt, (signal) =>
    preprocessRetriever({ queries: flags.queries, testIds, out: flags.out, signal, onProgress: progress.update }, (skipped) => {
      progress.clear();
      reporter.warn(`skipped: ${flags.queries}: $[${skipped.index}]${skipped.reason.startsWith('.') ? '' : ': '}${skipped.reason}`);
    }),
  );
  progress.clear();
  if (counts.skipped > 0) outcome.partial = true;
  if (counts.train_pairs === 0 || counts.test_pairs === 0) {
    outcome.partial = true; // retriever training cannot use an empty split
    reporter.warn(`no ${counts.train_pairs === 0 ? 'train' : 'test'} pairs: check the test ids and the queries' "relevant APIs" (upstream fails here)`);
  }
  if (flags.json) io.stdout.write(`${JSON.stringify(counts)}\n`);
  else {
    reporter.info(
      `${counts.queries} queries (${counts.train} train, ${counts.test} test, ${counts.skipped} skipped): ${counts.documents} corpus rows ` +
        `(${counts.distinct_documents} APIs), ${counts.train_pairs} train and ${counts.test_pairs} test pairs -> ${flags.out}`,
    );
  }
}

async function toolllama(flags: ToolllamaFlags, io: CliIo, outcome: CommandOutcome, signals: StopSignals): Promise<void> {
  const reporter = createReporter(io, { color: flags.color });
  if (flags.evalOut !== undefined && resolve(flags.evalOut) === resolve(flags.out)) throw usageError(`--eval-out ${flags.evalOut}: the same file as --out`);
  const evalRatio = Number(flags.evalRatio);
  if (!(evalRatio >= 0 && evalRatio <= 1)) throw usageError(`--eval-ratio ${flags.evalRatio}: expected a number from 0 to 1`);
  const seed = Number(flags.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw usageError(`--seed ${flags.seed}: expected a non-negative integer`);
  const threads = flags.threads === undefined ? undefined : Number(flags.threads);
  if (threads !== undefined && !(Number.isSafeInteger(threads) && threads >= 1)) throw usageError(`--threads ${flags.threads}: expected a whole number, 1 or more`);
  const progress = progressLine(io, flags.json, (read: number, total: number) => `answer files: ${read}/${total}`);
  const interrupt = listenForInterrupt(signals, reporter, 'no output is written');
  const counts = await finishing(interrupt, (signal) =>
    preprocessToolllama(
      { answers: flags.answers, method: flags.method, out: flags.out, ...(flags.evalOut !== undefined ? { evalOut: flags.evalOut } : {}), evalRatio, seed, threads, signal, onProgress: progress.update },
      (file, reason) => {
        progress.clear();
        reporter.warn(`skipped: ${file}: ${reason}`);
      },
    ),
  );
  progress.clear();
  if (counts.skipped > 0) outcome.partial = true;
  if (counts.files === 0) reporter.warn(`--answers ${flags.answers}: no *.json file names contain ${flags.method}`);
  if (flags.json) io.stdout.write(`${JSON.stringify(counts)}\n`);
  else {
    const evaluation = flags.evalOut === undefined ? '' : `, ${counts.eval_instances} to ${flags.evalOut}`;
    reporter.info(`${counts.files} answer files (${counts.converted} converted, ${counts.skipped} skipped): ${counts.instances} instances to ${flags.out}${evaluation}`);
  }
}

/** One status line on a TTY, redrawn at most 5 times a second; nothing otherwise. */
function progressLine<A extends unknown[]>(io: CliIo, json: boolean | undefined, text: (...args: A) => string): { update: (...args: A) => void; clear: () => void } {
  const shown = !json && io.stderr.isTTY === true && io.env.TERM !== 'dumb';
  let last = 0;
  let visible = false;
  return {
    update: (...args) => {
      if (!shown || Date.now() - last < 200) return;
      last = Date.now();
      visible = true;
      io.stderr.write(`\r${text(...args)}\u001b[K`);
    },
    clear: () => {
      if (!visible) return;
      visible = false;
      io.stderr.write('\r\u001b[K');
    },
  };
}

/** Runs `work` under the interrupt's signal, and stops listening when it settles. */
async function finishing<T>(interrupt: Interrupt, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  try {
    return await work(interrupt.signal);
  } finally {
    interrupt.stop();
  }
}

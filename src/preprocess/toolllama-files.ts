/**
 * Runs `preprocess toolllama` over a folder of answer files: converts them in batches on worker
 * threads (or on this thread), and streams the instances into the output arrays in file-name
 * order, so the output is the same whatever the thread count. Only the batches in flight are held,
 * never the folder. A seeded share of the instances can go to an eval file instead (upstream's
 * training script otherwise splits 98/2 at random, unseeded).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { listAnswerFiles } from '../util/answer-files.js';
import { createThreadPool, workerModule } from '../util/thread-pool.js';
import { breathe, createOutputSet, type OutputFile } from './output-files.js';
import { convertBatch, type ConvertBatch, type ConvertedFile } from './toolllama-convert.js';

export interface ToolllamaOptions {
  readonly answers: string;
  readonly method: string;
  readonly out: string;
  /** A share of the instances, written to `evalOut` instead of `out`. */
  readonly evalOut?: string;
  readonly evalRatio: number;
  readonly seed: number;
  /** Worker threads converting files; 0 or 1 converts on this thread. Default: one per CPU, at most 8. */
  readonly threads?: number;
  readonly onProgress?: (filesRead: number, files: number) => void;
  readonly signal?: AbortSignal;
}

export interface ToolllamaCounts {
  readonly files: number;
  readonly converted: number;
  readonly skipped: number;
  readonly instances: number;
  readonly eval_instances: number;
}

/** Files per task sent to a thread: enough to make messaging cheap, few enough to keep threads even. */
const BATCH_FILES = 16;

export function defaultThreadCount(): number {
  return Math.min(8, availableParallelism());
}

export async function preprocessToolllama(options: ToolllamaOptions, report: (file: string, reason: string) => void): Promise<ToolllamaCounts> {
  const names = listAnswerFiles(options.answers, options.method);
  const split = { seed: options.seed, ratio: options.evalOut === undefined ? 0 : options.evalRatio };
  const batches: ConvertBatch[] = [];
  for (let start = 0; start < names.length; start += BATCH_FILES) batches.push({ answers: options.answers, names: names.slice(start, start + BATCH_FILES), split });
  const converter = createConverter(Math.min(options.threads ?? defaultThreadCount(), batches.length));
  const outputs = createOutputSet();
  try {
    const train = arrayWriter(outputs.open(options.out));
    const evaluation = options.evalOut === undefined ? undefined : arrayWriter(outputs.open(options.evalOut));
    const counts = { files: names.length, converted: 0, skipped: 0, instances: 0, eval_instances: 0 };
    // a few batches per thread in flight keep the threads busy while this one writes
    const inFlight: Promise<ConvertedFile[]>[] = [];
    let next = 0;
    let filesDone = 0;
    while (next < batches.length || inFlight.length > 0) {
      while (next < batches.length && inFlight.length < converter.depth) inFlight.push(converter.convert(batches[next++] as ConvertBatch));
      const batch = batches[next - inFlight.length] as ConvertBatch;
      const converted = await (inFlight.shift() as Promise<ConvertedFile[]>);
      options.signal?.throwIfAborted();
      converted.forEach((file, position) => {
        if ('skipped' in file) {
          report(join(options.answers, batch.names[position] as string), file.skipped);
          counts.skipped++;
          return;
        }
        counts.converted++;
        train.add(file.train, file.trainCount);
        evaluation?.add(file.eval, file.evalCount);
        counts.instances += file.trainCount;
        counts.eval_instances += file.evalCount;
      });
      filesDone += batch.names.length;
      options.onProgress?.(filesDone, names.length);
    }
    train.end();
    evaluation?.end();
    outputs.commit();
    return counts;
  } catch (error) {
    outputs.discard();
    throw error;
  } finally {
    await converter.close();
  }
}

interface Converter {
  /** Batches to keep in flight. */
  readonly depth: number;
  convert(batch: ConvertBatch): Promise<ConvertedFile[]>;
  close(): Promise<void>;
}

function createConverter(threads: number): Converter {
  // the worker module is a file beside this one (or the bundle); a single executable has none
  const entry = threads > 1 ? workerModule('toolllama-worker', import.meta.url) : undefined;
  if (entry === undefined) {
    return {
      depth: 1,
      // yielding between batches lets Ctrl-C and the progress bar in
      convert: async (batch) => {
        await breathe();
        return convertBatch(batch);
      },
      close: async () => {},
    };
  }
  const pool = createThreadPool<ConvertBatch, ConvertedFile[]>(entry, threads);
  return { depth: threads * 3, convert: (batch) => pool.run(batch), close: () => pool.close() };
}

/** Writes the items of a JSON array laid out as `json.dump(indent=4)` does, as they come. */
function arrayWriter(output: OutputFile): { add(items: string, count: number): void; end(): void } {
  let total = 0;
  return {
    add(items, count) {
      if (count === 0) return;
      output.write(`${total === 0 ? '[\n' : ',\n'}${items}`);
      total += count;
    },
    end() {
      output.write(total === 0 ? '[]' : '\n]');
    },
  };
}

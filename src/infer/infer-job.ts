/**
 * The unit of work of `infer`: one query to search, opened only when a worker starts it. Jobs come
 * from query files (one shared backbone and tool environment) or from recorded answer files
 * (`--backbone replay`: each brings its own); `selectJobs` applies `--shard` and `--ids` to either.
 */
import type { Backbone } from '../llm/backbone.js';
import type { ToolEnv } from '../env/tool-call.js';
import type { SearchMethod, SearchTask } from '../search/types.js';
import { inShard, type Shard } from './shard.js';

export interface OpenedJob {
  readonly task: SearchTask;
  readonly backbone: Backbone;
  readonly env: ToolEnv;
  /** What a recording was made with (replay), in place of the run's settings. */
  readonly method?: SearchMethod;
  readonly maxDepth?: number;
  readonly maxQueryCount?: number;
  /** Releases what the job opened for itself (replay); shared backbones and environments stay open. */
  close?(): Promise<void>;
}

export interface InferJob {
  /** The id that names the answer file, as text. */
  readonly queryId: string;
  /** Position in the combined input, from 0 (what `--shard` splits on). */
  readonly position: number;
  /** Where the job comes from, for messages: `file: $[3]`. */
  readonly origin: string;
  /** Set when the item could not be read as a query: the job fails with this error without being opened. */
  readonly invalid?: Error;
  /** Builds the task (and, for replay, its backbone and environment). Throwing fails this query only. */
  open(): Promise<OpenedJob>;
}

export interface JobSelection {
  readonly shard?: Shard;
  /** `--ids`: only these query ids (compared as text). */
  readonly ids?: ReadonlySet<string>;
  readonly warn: (message: string) => void;
}

/**
 * The jobs of this shard and id list; a query id seen before is skipped with a warning (both would
 * write one file). Invalid items are kept whatever their id: they write no answer file, and an id
 * they borrowed from their index must not hide a query that really has it.
 */
export async function* selectJobs(jobs: AsyncIterable<InferJob>, selection: JobSelection): AsyncGenerator<InferJob> {
  const seen = new Map<string, string>();
  const invalid = new Set<string>();
  for await (const job of jobs) {
    if (!inShard(job.position, selection.shard)) continue;
    if (selection.ids !== undefined && !selection.ids.has(job.queryId)) continue;
    if (job.invalid !== undefined) {
      invalid.add(job.queryId);
      yield job;
      continue;
    }
    const first = seen.get(job.queryId);
    if (first !== undefined) {
      selection.warn(`${job.origin}: query id ${job.queryId} already came from ${first}; skipped (both would write the same answer file)`);
      continue;
    }
    seen.set(job.queryId, job.origin);
    yield job;
  }
  if (selection.ids !== undefined) {
    const missing = [...selection.ids].filter((id) => !seen.has(id) && !invalid.has(id));
    if (missing.length > 0) selection.warn(`--ids: no query with id ${missing.join(', ')}${selection.shard === undefined ? '' : ' in this shard'}`);
  }
}

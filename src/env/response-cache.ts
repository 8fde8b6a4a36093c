/**
 * The StableToolBench response cache (spec formats.md §13.1): one JSON object per API in
 * `<root>/<Category>/<tool>_for_<Category>/<api>.json`, mapping the Python `str()` of the parsed
 * arguments to the stored reply, written as `json.dumps(indent=4)`. The published cache can be
 * used unchanged, and files we write can be read by the Python server.
 *
 * Upstream reads, modifies and rewrites a file without locking, so simultaneous misses lose
 * entries (formats.md quirk 8). Here writes to one file are queued and merged in-process, then
 * applied under a lock file between processes, re-reading the file inside the lock and replacing
 * it atomically. An entry, once stored, is never replaced: the first reply for a key wins.
 * Lookups are served from memory; a key missing in memory re-reads the file if it changed on disk,
 * so entries written by other processes are found.
 */
import { mkdir, rename, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { withFileLock } from '../util/file-lock.js';
import { pyJsonParse } from '../util/pyjson-parse.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { isPyObject, orderedKeys, orderedObject, type PyValue } from '../util/py-value.js';
import { pyStr } from '../util/pyrepr.js';
import { isSafeSegment } from '../util/path-segment.js';

/** One cache file: the API `api` of the tool folder `toolDir` (`<tool>_for_<Category>`). */
export interface CacheLocation {
  readonly category: string;
  readonly toolDir: string;
  readonly api: string;
}

export type CacheProblem = { readonly file: string; readonly message: string };

export interface ResponseCacheOptions {
  /** Told about files that cannot be read or parsed (they are then treated as empty). */
  readonly warn?: (message: string) => void;
}

interface LoadedFile {
  readonly entries: Map<string, PyValue>;
  /** Identity of the file on disk when it was read; `missing` when there was none. */
  readonly stamp: string;
}

interface PendingWrite {
  readonly key: string;
  readonly reply: PyValue;
  readonly settle: (added: boolean) => void;
  readonly fail: (error: unknown) => void;
}

/** The cache key of a parsed tool input: Python `str(tool_input)` (formats.md §13.1 step 4). */
export function cacheKey(toolInput: PyValue): string {
  return pyStr(toolInput);
}

export class ResponseCache {
  private readonly files = new Map<string, LoadedFile>();
  private readonly loading = new Map<string, Promise<LoadedFile>>();
  private readonly pending = new Map<string, PendingWrite[]>();
  private readonly flushing = new Map<string, Promise<void>>();
  private readonly warned = new Set<string>();

  constructor(
    readonly root: string,
    private readonly options: ResponseCacheOptions = {},
  ) {}

  /** The file of an API; throws on names that would leave the cache folder. */
  fileOf(location: CacheLocation): string {
    for (const segment of [location.category, location.toolDir]) assertSafeSegment(segment);
    assertSafeSegment(`${location.api}.json`);
    return join(this.root, location.category, location.toolDir, `${location.api}.json`);
  }

  async lookup(location: CacheLocation, key: string): Promise<PyValue | undefined> {
    const file = this.fileOf(location);
    const known = this.files.get(file);
    if (known?.entries.has(key)) return known.entries.get(key);
    return (await this.refresh(file)).entries.get(key);
  }

  /** Every entry of one API in file order (the simulator shows the first ones as examples). */
  async entries(location: CacheLocation): Promise<readonly (readonly [string, PyValue])[]> {
    return [...(await this.refresh(this.fileOf(location))).entries];
  }

  /** Adds an entry; resolves `false` when the key was already stored (the stored reply is kept). */
  store(location: CacheLocation, key: string, reply: PyValue): Promise<boolean> {
    const file = this.fileOf(location);
    return new Promise((settle, fail) => {
      const queue = this.pending.get(file);
      if (queue === undefined) this.pending.set(file, [{ key, reply, settle, fail }]);
      else queue.push({ key, reply, settle, fail });
      // flush() removes itself from `flushing` in the same step that finds the queue empty,
      // so a write queued at any moment is either seen by the running flush or starts a new one
      if (!this.flushing.has(file)) this.flushing.set(file, this.flush(file));
    });
  }

  /** Resolves when every store() made so far has reached the disk. */
  async settled(): Promise<void> {
    while (this.flushing.size > 0) await Promise.allSettled([...this.flushing.values()]);
  }

  /** Applies the queued writes of one file, batch after batch, each batch under one lock. */
  private async flush(file: string): Promise<void> {
    for (;;) {
      const batch = this.pending.get(file);
      if (batch === undefined || batch.length === 0) {
        this.pending.delete(file);
        this.flushing.delete(file);
        return;
      }
      this.pending.set(file, []);
      try {
        await mkdir(dirname(file), { recursive: true }); // the lock file lives beside the cache file
        const outcomes = await withFileLock(file, () => this.merge(file, batch));
        batch.forEach((write, index) => write.settle(outcomes[index] as boolean));
      } catch (error) {
        for (const write of batch) write.fail(error);
      }
    }
  }

  /** Inside the lock: re-read the file, add the new keys, replace it atomically. */
  private async merge(file: string, batch: readonly PendingWrite[]): Promise<boolean[]> {
    const current = await this.read(file, { preserveCorrupt: true });
    const entries = new Map(current.entries);
    const outcomes = batch.map((write) => {
      if (entries.has(write.key)) return false;
      entries.set(write.key, write.reply);
      return true;
    });
    if (outcomes.some(Boolean)) {
      await writeFileAtomic(file, pyJsonDumps(orderedObject(entries), { indent: 4 }));
      this.files.set(file, { entries, stamp: await stampOf(file) });
    } else {
      this.files.set(file, current);
    }
    return outcomes;
  }

  /** The file as it is on disk now, re-read only when it changed since we last read it. */
  private async refresh(file: string): Promise<LoadedFile> {
    const known = this.files.get(file);
    if (known !== undefined && known.stamp === (await stampOf(file))) return known;
    let loading = this.loading.get(file);
    if (loading === undefined) {
      loading = this.read(file, { preserveCorrupt: false }).finally(() => this.loading.delete(file));
      this.loading.set(file, loading);
    }
    const loaded = await loading;
    this.files.set(file, loaded);
    return loaded;
  }

  /**
   * Reads and parses one file. A missing file is empty. A corrupt one is reported and read as
   * empty; before a write replaces it, it is moved aside to `<file>.corrupt-<time>` so nothing
   * that was in it is lost.
   */
  private async read(file: string, options: { preserveCorrupt: boolean }): Promise<LoadedFile> {
    const stamp = await stampOf(file);
    if (stamp === 'missing') return { entries: new Map(), stamp };
    let problem: string;
    try {
      return { entries: parseCacheFile(await readFile(file, 'utf8')), stamp };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: new Map(), stamp: 'missing' };
      problem = error instanceof Error ? error.message : String(error);
    }
    if (options.preserveCorrupt) {
      const aside = `${file}.corrupt-${Date.now()}`;
      await rename(file, aside);
      this.options.warn?.(`${file}: unreadable cache file (${problem}); moved to ${aside}`);
      return { entries: new Map(), stamp: 'missing' };
    }
    if (!this.warned.has(file)) {
      this.warned.add(file);
      this.options.warn?.(`${file}: unreadable cache file, treated as empty (${problem})`);
    }
    return { entries: new Map(), stamp };
  }
}

/** A cache file's entries in file order; throws when it is not a JSON object. */
export function parseCacheFile(text: string): Map<string, PyValue> {
  const value = text.trim() === '' ? undefined : pyJsonParse(text);
  if (!isPyObject(value)) throw new Error('expected a JSON object of cache entries');
  return new Map(orderedKeys(value).map((key) => [key, value[key] as PyValue]));
}

async function stampOf(file: string): Promise<string> {
  try {
    const stats = await stat(file, { bigint: true });
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}


function assertSafeSegment(segment: string): void {
  if (!isSafeSegment(segment)) throw new RangeError(`unsafe path segment in a cache location: ${JSON.stringify(segment)}`);
}

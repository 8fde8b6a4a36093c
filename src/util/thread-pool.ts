/**
 * A small pool of worker threads that run one kind of task: the caller sends inputs, each idle
 * thread takes the next one, and every input's promise settles with its own output. A thread that
 * dies fails its task and every task after it; nothing is retried, as the tasks are the caller's
 * work and a crash there is a bug to report.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parentPort, Worker } from 'node:worker_threads';

export interface ThreadPool<I, O> {
  run(input: I): Promise<O>;
  /** Stops the threads; tasks not yet finished are rejected. */
  close(): Promise<void>;
}

interface Task<I, O> {
  readonly input: I;
  readonly resolve: (output: O) => void;
  readonly reject: (error: Error) => void;
}

type Reply<O> = { readonly output: O } | { readonly error: { readonly message: string; readonly stack?: string } };

export function createThreadPool<I, O>(entry: URL, size: number): ThreadPool<I, O> {
  const queue: Task<I, O>[] = [];
  const idle: Worker[] = [];
  const running = new Map<Worker, Task<I, O>>();
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
    for (const task of [...running.values(), ...queue]) task.reject(failure);
    running.clear();
    queue.length = 0;
  };
  const dispatch = (): void => {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop() as Worker;
      const task = queue.shift() as Task<I, O>;
      running.set(worker, task);
      worker.postMessage(task.input);
    }
  };
  const workers = Array.from({ length: Math.max(1, size) }, () => {
    const worker = startWorker(entry);
    worker.on('message', (reply: Reply<O>) => {
      const task = running.get(worker);
      running.delete(worker);
      idle.push(worker);
      if (task !== undefined) {
        if ('output' in reply) task.resolve(reply.output);
        else task.reject(Object.assign(new Error(reply.error.message), { stack: reply.error.stack }));
      }
      dispatch();
    });
    worker.on('error', (error) => fail(error));
    worker.on('exit', (code) => fail(new Error(`a worker thread stopped (exit code ${code})`)));
    idle.push(worker);
    return worker;
  });
  return {
    run(input) {
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise<O>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        dispatch();
      });
    },
    async close() {
      fail(new Error('the thread pool is closed'));
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

/**
 * Node 20 does not run `--import` hooks on worker threads, so a TypeScript worker module (tests and
 * benchmarks run the sources through tsx, a development dependency) is loaded after registering
 * tsx on the thread itself. The bundle's workers are plain JavaScript.
 */
function startWorker(entry: URL): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry);
  const load = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(load, { eval: true });
}

/** The thread side: answers each input with `work`'s output, or with the error it threw. */
export function serveThreadTasks<I, O>(work: (input: I) => O): void {
  const port = parentPort;
  if (port === null) throw new Error('serveThreadTasks runs on a worker thread');
  port.on('message', (input: I) => {
    let reply: Reply<O>;
    try {
      reply = { output: work(input) };
    } catch (error) {
      reply = { error: { message: (error as Error).message ?? String(error), stack: (error as Error).stack } };
    }
    port.postMessage(reply);
  });
}

/**
 * The URL of a worker module named `name`, found next to the module at `from` (its
 * `import.meta.url`): `name.ts` beside a TypeScript source file, `name.mjs` beside the bundle.
 * Undefined where there is no such file (a single executable, whose program is not on disk).
 */
export function workerModule(name: string, from: string | undefined): URL | undefined {
  if (from === undefined || !from.startsWith('file:')) return undefined;
  const url = new URL(`./${name}${from.endsWith('.ts') ? '.ts' : '.mjs'}`, from);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

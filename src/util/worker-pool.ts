/**
 * Runs `work` over `items` with at most `workers` at a time, pulling lazily so that a long list
 * is never materialised. Stops taking new items once `signal` aborts; an error thrown by `work`
 * stops the pool and is re-thrown after the items in flight have settled.
 */
export async function runPool<T>(items: Iterable<T>, workers: number, work: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && !signal?.aborted) {
      const next = iterator.next();
      if (next.done) return;
      try {
        await work(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * An abort signal of its own that follows a parent's. The `openai` package (and tools) leave one
 * abort listener per request on the signal they are given; handing them a short-lived signal
 * keeps those listeners off the long-lived one, where they would pile up for the whole run.
 */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
  /** Stops following the parent (call it when the work under the signal is over). */
  unlink(): void;
}

export function linkSignal(parent: AbortSignal | undefined): LinkedSignal {
  const own = new AbortController();
  const forward = (): void => own.abort(parent?.reason);
  if (parent?.aborted) forward();
  else parent?.addEventListener('abort', forward, { once: true });
  return {
    signal: own.signal,
    abort: (reason) => own.abort(reason),
    unlink: () => parent?.removeEventListener('abort', forward),
  };
}

/** Runs `task` under a linked signal, unlinked when it settles. */
export async function withLinkedSignal<T>(parent: AbortSignal | undefined, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const linked = linkSignal(parent);
  try {
    return await task(linked.signal);
  } finally {
    linked.unlink();
  }
}

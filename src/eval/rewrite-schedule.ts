/**
 * When to rewrite a result file during a run: every 2 s at most, and never more than 5% of the
 * time. Upstream rewrites after every job; a large file rewritten that often would hold up the
 * judge calls of every worker (the text is built synchronously).
 */
const MIN_INTERVAL_MS = 2000;
const MAX_SHARE = 0.05;

export interface RewriteSchedule {
  /** True when a rewrite may start now; the next one is then not due for a while. */
  due(): boolean;
  /** Runs a rewrite and spaces the next one by its duration. */
  timed(write: () => Promise<void>): Promise<void>;
}

export function createRewriteSchedule(now: () => number = Date.now): RewriteSchedule {
  let next = now() + MIN_INTERVAL_MS;
  let interval = MIN_INTERVAL_MS;
  return {
    due() {
      if (now() < next) return false;
      next = Number.POSITIVE_INFINITY; // until the rewrite has run
      return true;
    },
    async timed(write) {
      const started = now();
      try {
        await write();
      } finally {
        interval = Math.max(MIN_INTERVAL_MS, (now() - started) / MAX_SHARE);
        next = now() + interval;
      }
    },
  };
}

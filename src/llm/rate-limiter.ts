/**
 * One limiter shared by every request to a model endpoint: at most `concurrency` tasks in
 * flight, at most `requestsPerMinute` starts in any sliding 60 s window, first come first
 * served, and a shared cool-down (`pause`) after the server says "too many requests".
 */
import { sleep as defaultSleep } from '../util/sleep.js';

export interface RateLimiterStats {
  /** Tasks started since creation. */
  readonly started: number;
  readonly waitingNow: number;
  readonly runningNow: number;
}

export interface RateLimiter {
  /**
   * Runs `task` when the limits allow. An abort while waiting removes the task from the queue
   * and rejects with the signal's reason; once started, the task alone handles the signal.
   */
  schedule<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Holds new starts for `ms` from now (never shortens a pause already in force). */
  pause(ms: number): void;
  readonly stats: RateLimiterStats;
}

export interface RateLimiterOptions {
  /** Tasks in flight at once; unlimited when absent. */
  readonly concurrency?: number;
  /** Starts in any 60 s window; unlimited when absent. */
  readonly requestsPerMinute?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const WINDOW_MS = 60_000;

interface Waiter {
  readonly start: () => void;
  readonly cancel: () => void;
}

export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const concurrency = options.concurrency ?? Number.POSITIVE_INFINITY;
  const requestsPerMinute = options.requestsPerMinute ?? Number.POSITIVE_INFINITY;
  for (const [name, value] of [['concurrency', concurrency], ['requestsPerMinute', requestsPerMinute]] as const) {
    if (value !== Number.POSITIVE_INFINITY && (!Number.isInteger(value) || value < 1)) {
      throw new RangeError(`rate limiter ${name} must be a positive integer, got ${value}`);
    }
  }
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? defaultSleep;

  const queue: Waiter[] = [];
  const recentStarts: number[] = []; // start times inside the current window, oldest first
  let running = 0;
  let started = 0;
  let pausedUntil = Number.NEGATIVE_INFINITY;
  let wake: AbortController | undefined; // the pending sleep until the next start is allowed

  /** Milliseconds until the next start is allowed (0: now). */
  function delayBeforeStart(time: number): number {
    while (recentStarts.length > 0 && (recentStarts[0] as number) <= time - WINDOW_MS) recentStarts.shift();
    let delay = pausedUntil - time;
    // never more than requestsPerMinute entries: the oldest must leave the window first
    if (recentStarts.length >= requestsPerMinute) delay = Math.max(delay, (recentStarts[0] as number) + WINDOW_MS - time);
    return Math.max(0, delay);
  }

  function pump(): void {
    while (queue.length > 0 && running < concurrency) {
      const time = now();
      const delay = delayBeforeStart(time);
      if (delay > 0) {
        if (wake === undefined) sleepThenPump(delay);
        return;
      }
      const waiter = queue.shift() as Waiter;
      running++;
      started++;
      recentStarts.push(time);
      waiter.start();
    }
  }

  function sleepThenPump(ms: number): void {
    const controller = new AbortController();
    wake = controller;
    sleep(ms, controller.signal).then(
      () => {
        if (wake === controller) wake = undefined;
        pump();
      },
      () => {
        if (wake === controller) wake = undefined;
      },
    );
  }

  /** Nobody is waiting: drop the pending sleep so that it keeps no timer (and no process) alive. */
  function cancelWakeIfIdle(): void {
    if (queue.length > 0 || wake === undefined) return;
    wake.abort();
    wake = undefined;
  }

  return {
    schedule<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<T>((resolve, reject) => {
        const onAbort = (): void => waiter.cancel();
        const waiter: Waiter = {
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            const finish = (): void => {
              running--;
              pump();
            };
            new Promise<T>((resolveTask) => resolveTask(task())).then(
              (value) => {
                finish();
                resolve(value);
              },
              (error: unknown) => {
                finish();
                reject(error);
              },
            );
          },
          cancel: () => {
            const index = queue.indexOf(waiter);
            if (index < 0) return;
            queue.splice(index, 1);
            cancelWakeIfIdle();
            reject(signal?.reason);
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(waiter);
        pump();
      });
    },
    pause(ms: number): void {
      if (!(ms > 0)) return;
      pausedUntil = Math.max(pausedUntil, now() + ms);
    },
    get stats(): RateLimiterStats {
      return { started, waitingNow: queue.length, runningNow: running };
    },
  };
}

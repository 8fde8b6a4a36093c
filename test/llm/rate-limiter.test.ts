import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRateLimiter } from '../../src/llm/rate-limiter.js';

/** A clock that moves only when told; sleeps resolve when the clock passes their end. */
function fakeClock() {
  let time = 0;
  const sleepers: { until: number; resolve: () => void; reject: (reason: unknown) => void }[] = [];
  const requested: number[] = [];
  return {
    now: () => time,
    requested,
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      requested.push(ms);
      return new Promise((resolve, reject) => {
        const sleeper = { until: time + ms, resolve, reject };
        sleepers.push(sleeper);
        signal?.addEventListener('abort', () => {
          sleepers.splice(sleepers.indexOf(sleeper), 1);
          reject(signal.reason);
        });
      });
    },
    get pendingSleeps(): number {
      return sleepers.length;
    },
    async advance(ms: number): Promise<void> {
      time += ms;
      for (const sleeper of sleepers.filter((entry) => entry.until <= time)) {
        sleepers.splice(sleepers.indexOf(sleeper), 1);
        sleeper.resolve();
      }
      await settle();
    },
  };
}

/** Lets promise callbacks run. */
async function settle(): Promise<void> {
  for (let round = 0; round < 10; round++) await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
}

/** A task that finishes when the test says so. */
function gate<T = string>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

describe('rate limiter', () => {
  test('no more than `concurrency` tasks run at once, and waiting tasks start in arrival order', async () => {
    const limiter = createRateLimiter({ concurrency: 2 });
    const gates = [gate(), gate(), gate(), gate()];
    const order: number[] = [];
    let running = 0;
    let maxRunning = 0;
    const results = gates.map((entry, index) =>
      limiter.schedule(async () => {
        order.push(index);
        running++;
        maxRunning = Math.max(maxRunning, running);
        const value = await entry.promise;
        running--;
        return value;
      }),
    );
    await settle();
    assert.deepEqual(limiter.stats, { started: 2, waitingNow: 2, runningNow: 2 });
    gates[1]?.open('b');
    await settle();
    assert.deepEqual(order, [0, 1, 2]);
    gates[0]?.open('a');
    gates[2]?.open('c');
    gates[3]?.open('d');
    assert.deepEqual(await Promise.all(results), ['a', 'b', 'c', 'd']);
    assert.deepEqual(order, [0, 1, 2, 3]);
    assert.equal(maxRunning, 2);
    assert.deepEqual(limiter.stats, { started: 4, waitingNow: 0, runningNow: 0 });
  });

  test('a failing task frees its slot and rejects its caller', async () => {
    const limiter = createRateLimiter({ concurrency: 1 });
    const failed = limiter.schedule(() => Promise.reject(new Error('boom')));
    const next = limiter.schedule(async () => 'next');
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 'next');
    const thrown = limiter.schedule(() => {
      throw new Error('sync');
    });
    await assert.rejects(thrown, /sync/);
    assert.equal(limiter.stats.runningNow, 0);
  });

  test('no more than `requestsPerMinute` starts in any sliding 60 s window', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ requestsPerMinute: 2, now: clock.now, sleep: clock.sleep });
    const startedAt: number[] = [];
    const task = async () => void startedAt.push(clock.now());
    const first = limiter.schedule(task);
    await clock.advance(10_000);
    const rest = [limiter.schedule(task), limiter.schedule(task), limiter.schedule(task)];
    await settle();
    assert.deepEqual(startedAt, [0, 10_000]);
    assert.deepEqual(clock.requested, [50_000]); // the first start leaves the window at 60 s
    await clock.advance(49_999);
    assert.deepEqual(startedAt, [0, 10_000]);
    await clock.advance(1);
    assert.deepEqual(startedAt, [0, 10_000, 60_000]);
    await clock.advance(10_000);
    assert.deepEqual(startedAt, [0, 10_000, 60_000, 70_000]);
    await Promise.all([first, ...rest]);
    assert.deepEqual(limiter.stats, { started: 4, waitingNow: 0, runningNow: 0 });
  });

  test('pause holds new starts until it ends and never shortens a longer pause', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ concurrency: 4, now: clock.now, sleep: clock.sleep });
    const startedAt: number[] = [];
    limiter.pause(5_000);
    limiter.pause(1_000);
    const done = [limiter.schedule(async () => void startedAt.push(clock.now())), limiter.schedule(async () => void startedAt.push(clock.now()))];
    await settle();
    assert.deepEqual(startedAt, []);
    assert.equal(limiter.stats.waitingNow, 2);
    await clock.advance(4_999);
    assert.deepEqual(startedAt, []);
    await clock.advance(1);
    assert.deepEqual(startedAt, [5_000, 5_000]);
    await Promise.all(done);
  });

  test('a pause that starts while a wait is pending extends it', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ now: clock.now, sleep: clock.sleep });
    limiter.pause(1_000);
    const startedAt: number[] = [];
    const done = limiter.schedule(async () => void startedAt.push(clock.now()));
    await settle();
    limiter.pause(3_000);
    await clock.advance(1_000);
    assert.deepEqual(startedAt, []);
    await clock.advance(2_000);
    assert.deepEqual(startedAt, [3_000]);
    await done;
  });

  test('an abort removes a waiting task and rejects it with the reason; the others keep their turn', async () => {
    const limiter = createRateLimiter({ concurrency: 1 });
    const blocker = gate();
    const running = limiter.schedule(() => blocker.promise);
    const controller = new AbortController();
    let abortedTaskRan = false;
    const aborted = limiter.schedule(async () => {
      abortedTaskRan = true;
    }, controller.signal);
    const after = limiter.schedule(async () => 'after');
    await settle();
    assert.equal(limiter.stats.waitingNow, 2);
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(aborted, (error) => error === reason);
    assert.equal(limiter.stats.waitingNow, 1);
    blocker.open('done');
    assert.equal(await running, 'done');
    assert.equal(await after, 'after');
    assert.equal(abortedTaskRan, false);
  });

  test('an already aborted signal rejects at once without running the task', async () => {
    const limiter = createRateLimiter({});
    const reason = new Error('already');
    let ran = false;
    await assert.rejects(
      limiter.schedule(async () => void (ran = true), AbortSignal.abort(reason)),
      (error) => error === reason,
    );
    assert.equal(ran, false);
    assert.equal(limiter.stats.started, 0);
  });

  test('when the last waiting task is aborted the pending sleep is cancelled', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ now: clock.now, sleep: clock.sleep });
    limiter.pause(60_000);
    const controller = new AbortController();
    const waiting = limiter.schedule(async () => 'never', controller.signal);
    await settle();
    assert.equal(clock.pendingSleeps, 1);
    controller.abort(new Error('ctrl-c'));
    await assert.rejects(waiting, /ctrl-c/);
    await settle();
    assert.equal(clock.pendingSleeps, 0);
  });

  test('invalid limits are refused', () => {
    assert.throws(() => createRateLimiter({ concurrency: 0 }), RangeError);
    assert.throws(() => createRateLimiter({ requestsPerMinute: 1.5 }), RangeError);
  });
});

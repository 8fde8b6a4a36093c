import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { sleep } from '../../src/util/sleep.js';

test('sleep waits about the time given', async () => {
  const started = performance.now();
  await sleep(30);
  assert.ok(performance.now() - started >= 25);
});

test('an abort during the wait rejects at once with the reason', async () => {
  const controller = new AbortController();
  const reason = new Error('stop');
  const started = performance.now();
  setTimeout(() => controller.abort(reason), 10);
  await assert.rejects(sleep(10_000, controller.signal), (error) => error === reason);
  assert.ok(performance.now() - started < 1_000);
});

test('an already aborted signal rejects without waiting', async () => {
  const reason = new Error('before');
  await assert.rejects(sleep(10_000, AbortSignal.abort(reason)), (error) => error === reason);
});

test('a finished wait leaves no listener on the signal', async () => {
  const controller = new AbortController();
  const waiting = sleep(1, controller.signal);
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
  await waiting;
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
});

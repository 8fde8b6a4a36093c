/** Narrows a model's KV cache to one the test can read (not left in GPU buffers). */
import assert from 'node:assert/strict';
import type { HostKvCache, KvCache } from '../../src/runner/causal-lm.js';
import { DeviceKvCache } from '../../src/runner/device-kv-cache.js';

export function onHost(cache: KvCache): HostKvCache {
  assert.ok(!(cache instanceof DeviceKvCache), 'a cache in GPU buffers cannot be read on the host');
  return cache;
}

/**
 * The KV cache kept in the GPU's memory (WebGPU): the present.N.key|value tensors of the last run,
 * which onnxruntime-node leaves in GPU buffers when the session asks for them there
 * (`preferredOutputLocation: 'gpu-buffer'`), fed back as the next run's past_key_values. No step
 * copies the cache between the host and the device; only the logits come back.
 *
 * Two things onnxruntime-node 1.29 does not do, which shape this class:
 * - it has no way to read such a tensor back: its native download throws a C string, which
 *   aborts the whole process, so `getData()` must never be called on one. The cache is only ever
 *   fed to sessions (sliced by one, CausalLm.sliceCache), never read in JavaScript.
 * - the garbage collector does not see GPU memory, so a dropped cache would hold its buffers until
 *   some later collection. Whoever owns a cache releases it (`release`) when done with it.
 */
import type { Tensor } from 'onnxruntime-common';

export class DeviceKvCache {
  private released = false;

  constructor(
    /** past_key_values.N.key|value -> [batch, kvHeads, length, headDim]: GPU buffers, or empty host tensors for an empty cache. */
    private readonly tensors: ReadonlyMap<string, Tensor>,
  ) {}

  /** The cache the session's outputs hold (present.N.key|value of `layers` layers). */
  static fromOutputs(outputs: Readonly<Record<string, unknown>>, layers: number, outputPrefix = 'present'): DeviceKvCache {
    return new DeviceKvCache(cacheTensors(outputs, layers, outputPrefix));
  }

  get length(): number {
    return (this.tensors.get('past_key_values.0.key')?.dims[2] as number | undefined) ?? 0;
  }

  get batch(): number {
    return (this.tensors.get('past_key_values.0.key')?.dims[0] as number | undefined) ?? 0;
  }

  /** The past_key_values feeds of a run; a released cache has none to give. */
  feeds(): Record<string, Tensor> {
    if (this.released) throw new Error('the KV cache was released: its GPU buffers are gone');
    return Object.fromEntries(this.tensors);
  }

  /** Frees the GPU buffers now (idempotent). Host tensors (an empty cache) are left to the collector. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const tensor of this.tensors.values()) if (tensor.location === 'gpu-buffer') tensor.dispose();
  }
}

/** A run's cache outputs `${outputPrefix}.N.key|value` as the next run's past_key_values.N.key|value feeds. */
export function cacheTensors(outputs: Readonly<Record<string, unknown>>, layers: number, outputPrefix = 'present'): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>();
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ['key', 'value']) tensors.set(`past_key_values.${layer}.${kind}`, outputs[`${outputPrefix}.${layer}.${kind}`] as Tensor);
  }
  return tensors;
}

/**
 * The KV cache of a generated graph in the append layout (llama-graph-parts.ts `CacheLayout`): per
 * layer and kind one preallocated buffer of capacity [capacity, batch, kvHeads, headDim],
 * time-major, whose first `length` positions are the cache. The graph reads the prefix in place (a
 * view, no copy) and returns only the new positions, which are appended with one `set`: no step
 * allocates or copies the whole cache in JavaScript.
 *
 * Several caches share one storage: the cache a step returns and the one it was given are views of
 * different lengths. A step appends past its cache's end only when nothing was written there yet
 * (the storage's `written` mark equals the cache's length); otherwise another cache uses those
 * positions (a kept prefix that a later call continues, or a cache continued twice), and the step
 * first copies its cache's positions into a storage of its own (copy on reuse). A cache's
 * positions are therefore never overwritten while it is reachable.
 */
import type { Tensor } from 'onnxruntime-common';

type Ort = typeof import('onnxruntime-node');

type CacheArray = Float32Array | Uint16Array;

export interface AppendCacheShape {
  readonly layers: number;
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly floatType: 'float32' | 'float16';
}

class CacheStorage {
  /** Positions written from 0, by whichever cache last appended. */
  written = 0;

  constructor(
    readonly ort: Ort,
    readonly shape: AppendCacheShape,
    readonly capacity: number,
    /** [layer * 2 + (key 0 | value 1)] -> [capacity, batch, kvHeads, headDim]. */
    readonly buffers: readonly CacheArray[],
  ) {}

  static allocate(ort: Ort, shape: AppendCacheShape, capacity: number): CacheStorage {
    const size = capacity * shape.batch * shape.kvHeads * shape.headDim;
    const buffers = Array.from({ length: shape.layers * 2 }, () => (shape.floatType === 'float16' ? new Uint16Array(size) : new Float32Array(size)));
    return new CacheStorage(ort, shape, capacity, buffers);
  }
}

export class AppendKvCache {
  private constructor(
    private readonly storage: CacheStorage,
    /** Positions in the cache. */
    readonly length: number,
  ) {}

  /** An empty cache with room for `capacity` positions before it grows. */
  static empty(ort: Ort, shape: AppendCacheShape, capacity: number): AppendKvCache {
    return new AppendKvCache(CacheStorage.allocate(ort, shape, Math.max(1, capacity)), 0);
  }

  get batch(): number {
    return this.storage.shape.batch;
  }

  get floatType(): 'float32' | 'float16' {
    return this.storage.shape.floatType;
  }

  /** Room for positions before the storage grows (tests). */
  get capacity(): number {
    return this.storage.capacity;
  }

  /** The first `length` positions: a view of the same storage, no copy. */
  truncated(length: number): AppendKvCache {
    if (!Number.isInteger(length) || length < 0 || length > this.length) throw new RangeError(`cannot take the first ${length} positions of a cache of ${this.length}`);
    return new AppendKvCache(this.storage, length);
  }

  /** past_append.N.key|value: [length, batch, kvHeads, headDim] views of the buffers. */
  feeds(): Record<string, Tensor> {
    const ort = this.storage.ort;
    const { layers, batch, kvHeads, headDim, floatType } = this.storage.shape;
    const dims = [this.length, batch, kvHeads, headDim];
    const end = this.length * batch * kvHeads * headDim;
    const feeds: Record<string, Tensor> = {};
    for (let layer = 0; layer < layers; layer++) {
      (['key', 'value'] as const).forEach((kind, index) => {
        const view = (this.storage.buffers[layer * 2 + index] as CacheArray).subarray(0, end);
        feeds[`past_append.${layer}.${kind}`] = floatType === 'float16' ? new ort.Tensor('float16', view as Uint16Array, dims) : new ort.Tensor('float32', view as Float32Array, dims);
      });
    }
    return feeds;
  }

  /**
   * This cache and `sequence` new positions from the step's new.N.key|value outputs
   * ([sequence, batch, kvHeads, headDim] each): appended in place where the positions are free,
   * else into a copy; the storage doubles when full.
   */
  appended(outputs: Readonly<Record<string, Tensor>>, sequence: number): AppendKvCache {
    const { layers, batch, kvHeads, headDim } = this.storage.shape;
    const total = this.length + sequence;
    let storage = this.storage;
    if (storage.written !== this.length || total > storage.capacity) {
      // positions past this cache belong to another cache, or there is no room: copy once
      const grown = CacheStorage.allocate(storage.ort, storage.shape, total > storage.capacity ? Math.max(total, storage.capacity * 2) : storage.capacity);
      const end = this.length * batch * kvHeads * headDim;
      grown.buffers.forEach((buffer, index) => buffer.set((storage.buffers[index] as CacheArray).subarray(0, end)));
      storage = grown;
    }
    const offset = this.length * batch * kvHeads * headDim;
    for (let layer = 0; layer < layers; layer++) {
      (['key', 'value'] as const).forEach((kind, index) => {
        const tensor = outputs[`new.${layer}.${kind}`];
        if (tensor === undefined || tensor.dims[0] !== sequence) throw new RangeError(`new.${layer}.${kind}: expected ${sequence} new positions, got [${tensor?.dims.join(', ') ?? ''}]`);
        const data = tensor.data as CacheArray;
        // float16 as its bits, whether ORT hands it out as a Uint16Array or a Float16Array
        const values = tensor.type === 'float16' ? new Uint16Array(data.buffer, data.byteOffset, data.length) : data;
        (storage.buffers[layer * 2 + index] as CacheArray).set(values, offset);
      });
    }
    storage.written = total;
    return new AppendKvCache(storage, total);
  }

  /** One layer's key or value in Optimum's layout [batch, kvHeads, length, headDim], copied (inspection and tests). */
  get(name: string): Tensor | undefined {
    const match = /^past_key_values\.(\d+)\.(key|value)$/.exec(name);
    const { layers, batch, kvHeads, headDim, floatType } = this.storage.shape;
    const layer = Number(match?.[1]);
    if (match === null || layer >= layers) return undefined;
    const source = this.storage.buffers[layer * 2 + (match[2] === 'key' ? 0 : 1)] as CacheArray;
    const copy = floatType === 'float16' ? new Uint16Array(batch * kvHeads * this.length * headDim) : new Float32Array(batch * kvHeads * this.length * headDim);
    // [length, batch, kvHeads, headDim] -> [batch, kvHeads, length, headDim]
    for (let position = 0; position < this.length; position++) {
      for (let row = 0; row < batch * kvHeads; row++) {
        const from = (position * batch * kvHeads + row) * headDim;
        copy.set(source.subarray(from, from + headDim), (row * this.length + position) * headDim);
      }
    }
    const dims = [batch, kvHeads, this.length, headDim];
    return copy instanceof Uint16Array ? new this.storage.ort.Tensor('float16', copy, dims) : new this.storage.ort.Tensor('float32', copy, dims);
  }

  *[Symbol.iterator](): IterableIterator<[string, Tensor]> {
    for (let layer = 0; layer < this.storage.shape.layers; layer++) {
      for (const kind of ['key', 'value']) {
        const name = `past_key_values.${layer}.${kind}`;
        yield [name, this.get(name) as Tensor];
      }
    }
  }
}

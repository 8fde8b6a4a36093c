/**
 * A LLaMA-family decoder on onnxruntime: one `forward` over a batch of token rows with the KV
 * cache of the previous call. Built from a Hugging Face checkpoint (or GGUF weights) by our graph
 * builder, or an Optimum-exported model.onnx with the same I/O names.
 *
 * Generated graphs keep the cache in the append layout by default (append-kv-cache.ts: buffers the
 * graph reads in place, to which each step appends only its new positions); an Optimum model.onnx
 * (and a graph built with `cacheLayout: 'optimum'`) takes and returns the whole cache as tensors.
 */
import type { Tensor } from 'onnxruntime-common';
import { ToolbenchError } from '../util/errors.js';
import { findCheckpoint, readModelConfig } from './checkpoint.js';
import { AppendKvCache } from './append-kv-cache.js';
import { halfToFloat32 } from './float16.js';
import { buildLlamaGraph, type LlamaGraphKind } from './llama-graph.js';
import type { CacheLayout } from './llama-graph-parts.js';
import type { FloatType } from './onnx-graph.js';
import type { LlamaConfig } from './model-config.js';
import { readCheckpointTensors } from './safetensors.js';
import { loadOrt, openSession, type Device, type OrtSession, type SessionSettings } from './session.js';
import { safetensorsWeights, type WeightSource } from './weights.js';

export interface CausalLmOptions extends SessionSettings {
  readonly floatType?: FloatType;
  /** The graph built from weights (llama-graph.ts); not used for an Optimum model.onnx. */
  readonly graph?: LlamaGraphKind;
  /** Wraps the checkpoint's weights (LoRA merging). */
  readonly adaptWeights?: (weights: WeightSource) => WeightSource;
  /** The KV-cache I/O of a graph built from weights: `append` unless told. */
  readonly cacheLayout?: CacheLayout;
}

/**
 * The cache of the positions so far: the present.N.key|value tensors of the last call, fed back as
 * past_key_values (the Optimum layout), or an AppendKvCache (the append layout). Either gives each
 * layer's key and value as [batch, kvHeads, length, headDim] tensors by `get` and iteration (the
 * append cache copies them out).
 */
export type KvCache = ReadonlyMap<string, Tensor> | AppendKvCache;

/** Positions in a cache. */
export function cacheLength(cache: KvCache): number {
  if (cache instanceof AppendKvCache) return cache.length;
  return (cache.get('past_key_values.0.key')?.dims[2] as number | undefined) ?? 0;
}

/** Rows of a cache. */
export function cacheBatch(cache: KvCache): number {
  if (cache instanceof AppendKvCache) return cache.batch;
  return (cache.get('past_key_values.0.key')?.dims[0] as number | undefined) ?? 0;
}

export interface ForwardInput {
  /** [batch][sequence] token ids: the new tokens only when a cache is given. */
  readonly ids: readonly (readonly number[])[];
  /** [batch][past + sequence]: 1 for tokens, 0 for padding. */
  readonly attentionMask: readonly (readonly number[])[];
  /** [batch][sequence]. */
  readonly positionIds: readonly (readonly number[])[];
}

export interface ForwardOutput {
  /** [batch, sequence, vocab] row-major. */
  readonly logits: Float32Array;
  readonly sequence: number;
  readonly cache: KvCache;
}

export interface LoadedWeights {
  readonly config: LlamaConfig;
  readonly weights: WeightSource;
}

export class CausalLm {
  private constructor(
    readonly config: LlamaConfig,
    private readonly session: OrtSession,
    readonly device: Device,
    readonly fallbacks: readonly string[],
    readonly floatType: FloatType,
    /** Bytes of weights read per decoding step (for the bandwidth bound); 0 when unknown. */
    readonly weightBytes: number,
    readonly cacheLayout: CacheLayout,
    /** Some Optimum exports compute positions from the attention mask and take none. */
    private readonly takesPositionIds = true,
  ) {}

  static async load(path: string, options: CausalLmOptions): Promise<CausalLm> {
    const layout = findCheckpoint(path);
    if (layout.format === 'onnx') {
      const config = llamaConfigOf(readModelConfig(layout.configFile), layout.configFile);
      const opened = await openSession(layout.modelFile, options);
      const inputs = new Set(opened.session.inputNames);
      for (const name of ['input_ids', 'attention_mask', 'past_key_values.0.key']) {
        if (!inputs.has(name)) throw new ToolbenchError('model.unsupported', 2, `${layout.modelFile}: no input "${name}": export the decoder with its KV cache (optimum-cli export onnx --task text-generation-with-past)`);
      }
      const pastType = opened.session.inputMetadata.find((meta) => meta.name === 'past_key_values.0.key');
      const floatType: FloatType = pastType?.isTensor === true && pastType.type === 'float16' ? 'float16' : 'float32';
      return new CausalLm(config, opened.session, opened.device, opened.fallbacks, floatType, 0, 'optimum', inputs.has('position_ids'));
    }
    if (layout.format === 'gguf') {
      const { loadGgufLlamaWeights } = await import('./gguf-weights.js');
      return CausalLm.fromWeights(loadGgufLlamaWeights(layout.file), options);
    }
    const config = llamaConfigOf(readModelConfig(layout.configFile), layout.configFile);
    return CausalLm.fromWeights({ config, weights: safetensorsWeights(layout.dir, readCheckpointTensors(layout.dir)) }, options);
  }

  static async fromWeights(loaded: LoadedWeights, options: CausalLmOptions): Promise<CausalLm> {
    const floatType = options.floatType ?? 'float32';
    const weights = options.adaptWeights?.(loaded.weights) ?? loaded.weights;
    const cacheLayout = options.cacheLayout ?? 'append';
    const built = buildLlamaGraph(loaded.config, weights, { floatType, cacheLayout, ...(options.graph !== undefined ? { graph: options.graph } : {}) });
    const opened = await openSession(built, options);
    return new CausalLm(loaded.config, opened.session, opened.device, opened.fallbacks, floatType, built.weightBytes, cacheLayout);
  }

  /** An empty cache for `batch` rows (the first call); an append cache has room for `capacity` positions before it grows. */
  async emptyCache(batch: number, capacity = 64): Promise<KvCache> {
    const ort = await loadOrt();
    if (this.cacheLayout === 'append') {
      const { layers, kvHeads, headDim } = this.config;
      return AppendKvCache.empty(ort, { layers, batch, kvHeads, headDim, floatType: this.floatType }, capacity);
    }
    const cache = new Map<string, Tensor>();
    const dims = [batch, this.config.kvHeads, 0, this.config.headDim];
    for (let layer = 0; layer < this.config.layers; layer++) {
      for (const kind of ['key', 'value']) {
        const tensor = this.floatType === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
        cache.set(`past_key_values.${layer}.${kind}`, tensor);
      }
    }
    return cache;
  }

  async forward(input: ForwardInput, cache: KvCache): Promise<ForwardOutput> {
    const ort = await loadOrt();
    const batch = input.ids.length;
    const sequence = input.ids[0]?.length ?? 0;
    const int64 = (rows: readonly (readonly number[])[]): Tensor => {
      const width = rows[0]?.length ?? 0;
      const data = new BigInt64Array(rows.length * width);
      rows.forEach((row, index) => row.forEach((value, column) => (data[index * width + column] = BigInt(value))));
      return new ort.Tensor('int64', data, [rows.length, width]);
    };
    const feeds: Record<string, Tensor> = {
      input_ids: int64(input.ids),
      attention_mask: int64(input.attentionMask),
    };
    if (this.takesPositionIds) feeds['position_ids'] = int64(input.positionIds);
    if ((cache instanceof AppendKvCache) !== (this.cacheLayout === 'append')) throw new RangeError(`a cache of the wrong layout for this model (${this.cacheLayout})`);
    if (cache instanceof AppendKvCache) Object.assign(feeds, cache.feeds());
    else for (const [name, tensor] of cache) feeds[name] = tensor;
    const outputs = await this.session.run(feeds);
    let next: KvCache;
    if (cache instanceof AppendKvCache) next = cache.appended(outputs, sequence);
    else {
      const tensors = new Map<string, Tensor>();
      for (let layer = 0; layer < this.config.layers; layer++) {
        for (const kind of ['key', 'value']) tensors.set(`past_key_values.${layer}.${kind}`, outputs[`present.${layer}.${kind}`] as Tensor);
      }
      next = tensors;
    }
    const logits = outputs['logits'] as Tensor;
    if (logits.dims[0] !== batch || logits.dims[1] !== sequence) throw new ToolbenchError('runner.failed', 1, `the model returned logits of shape [${logits.dims.join(', ')}] for ${batch}×${sequence} tokens`);
    // our graphs cast logits to float32; an Optimum fp16 export may not
    const values = logits.type === 'float16' ? halfToFloat32(logits.data as Uint16Array) : (logits.data as Float32Array);
    return { logits: values, sequence, cache: next };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The first `length` positions of a batch-1 cache: a prefix of a cached sequence to start another
 * sequence from. The keys carry RoPE at their absolute positions, so the prefix is only valid for
 * a sequence that begins with the same `length` tokens. Optimum tensors are copied into new ones;
 * an append cache gives a view, which the first step on it copies if the positions after it are
 * still another cache's (AppendKvCache, copy on reuse).
 */
export async function sliceCache(cache: KvCache, length: number): Promise<KvCache> {
  if (cache instanceof AppendKvCache) {
    if (cache.batch !== 1) throw new RangeError(`cannot take the first ${length} positions of a cache of ${cache.batch} rows (batch 1 only)`);
    return cache.truncated(length);
  }
  const ort = await loadOrt();
  const sliced = new Map<string, Tensor>();
  for (const [name, tensor] of cache) {
    const [batch, heads, total, headDim] = tensor.dims as [number, number, number, number];
    if (tensor.dims.length !== 4 || batch !== 1 || !Number.isInteger(length) || length < 0 || length > total) {
      throw new RangeError(`${name}: cannot take the first ${length} positions of a cache of shape [${tensor.dims.join(', ')}] (batch 1 only)`);
    }
    // float16 as its bits, whether ORT hands it out as a Uint16Array or a Float16Array
    const source = tensor.data as Float32Array | Uint16Array;
    const data = tensor.type === 'float16' ? new Uint16Array(source.buffer, source.byteOffset, source.length) : (source as Float32Array);
    const copy = tensor.type === 'float16' ? new Uint16Array(heads * length * headDim) : new Float32Array(heads * length * headDim);
    // [1, heads, total, headDim] -> [1, heads, length, headDim]: each head's first length * headDim values
    for (let head = 0; head < heads; head++) copy.set(data.subarray(head * total * headDim, (head * total + length) * headDim), head * length * headDim);
    const dims = [1, heads, length, headDim];
    sliced.set(name, copy instanceof Uint16Array ? new ort.Tensor('float16', copy, dims) : new ort.Tensor('float32', copy, dims));
  }
  return sliced;
}

function llamaConfigOf(config: ReturnType<typeof readModelConfig>, file: string): LlamaConfig {
  if (config.kind !== 'llama') throw new ToolbenchError('usage.invalid', 2, `${file}: a BERT encoder, not a decoder: use "toolbench model embed"`);
  return config;
}

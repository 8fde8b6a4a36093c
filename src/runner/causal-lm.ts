/**
 * A LLaMA-family decoder on onnxruntime: one `forward` over a batch of token rows with the KV
 * cache of the previous call. Built from a Hugging Face checkpoint (or GGUF weights) by our graph
 * builder, or an Optimum-exported model.onnx with the same I/O names.
 *
 * Where the cache lives depends on the device:
 * - CPU and CUDA, generated graphs: the append layout (append-kv-cache.ts: buffers the graph reads
 *   in place, to which each step appends only its new positions).
 * - WebGPU: the Optimum layout, its tensors left in GPU buffers between steps (device-kv-cache.ts),
 *   for generated graphs and Optimum exports alike; the graph's attention in standard operators,
 *   which that provider has (llama-fused-graph.ts FusedAttention).
 * - An Optimum model.onnx elsewhere (and a graph built with `cacheLayout: 'optimum'`) takes and
 *   returns the whole cache as host tensors.
 * onnxruntime-node binds outputs on the device for WebGPU only: with CUDA every output comes back
 * to the host, which the append layout keeps to the new positions.
 */
import type { Tensor } from 'onnxruntime-common';
import { ToolbenchError } from '../util/errors.js';
import { findCheckpoint, readModelConfig } from './checkpoint.js';
import { AppendKvCache } from './append-kv-cache.js';
import { cacheTensors, DeviceKvCache } from './device-kv-cache.js';
import { halfToFloat32 } from './float16.js';
import { buildLlamaGraph, type LlamaGraphKind } from './llama-graph.js';
import type { CacheLayout } from './llama-graph-parts.js';
import { GraphBuilder, type FloatType } from './onnx-graph.js';
import { DataType } from './onnx-proto.js';
import type { LlamaConfig } from './model-config.js';
import { readCheckpointTensors, type StoredTensor } from './safetensors.js';
import { loadOrt, openSession, type Device, type OrtSession, type SessionSettings } from './session.js';
import { safetensorsWeights, type WeightSource } from './weights.js';

/**
 * The graph's float type, or `auto`: float16 on a GPU (CUDA, WebGPU) for weights stored in 16 bits
 * or fewer (F16, BF16, GGUF quants); float32 otherwise, and always on the CPU, whose provider has
 * no float16 GEMM on x86 (slower, not faster). BF16 weights then compute in float16, not bfloat16
 * as transformers' torch_dtype="auto" would (ORT's GPU kernels are float16): a note says so, since
 * a model trained in bfloat16 can overflow float16 activations.
 */
export type FloatRequest = FloatType | 'auto';
export type WeightStorage = 'float32' | 'float16' | 'bfloat16' | 'quantized';
export const FLOAT_REQUESTS: readonly FloatRequest[] = ['auto', 'float32', 'float16'];

export interface CausalLmOptions extends SessionSettings {
  /** `auto` unless told (FloatRequest). */
  readonly floatType?: FloatRequest;
  /** The graph built from weights (llama-graph.ts); not used for an Optimum model.onnx. */
  readonly graph?: LlamaGraphKind;
  /** Wraps the checkpoint's weights (LoRA merging). */
  readonly adaptWeights?: (weights: WeightSource) => WeightSource;
  /** The KV-cache I/O of a graph built from weights: `append`, or `optimum` on WebGPU, unless told. */
  readonly cacheLayout?: CacheLayout;
  /** Keep an Optimum-layout cache in GPU buffers on WebGPU (the default); false copies it to the host every step (for comparison). */
  readonly cacheOnDevice?: boolean;
}

/**
 * The cache of the positions so far: the present.N.key|value tensors of the last call, fed back as
 * past_key_values (the Optimum layout), on the host (a Map) or in GPU buffers (DeviceKvCache), or
 * an AppendKvCache (the append layout). A Map and an AppendKvCache give each layer's key and value
 * as [batch, kvHeads, length, headDim] tensors by `get` and iteration (the append cache copies
 * them out); a DeviceKvCache cannot be read on the host.
 */
export type KvCache = HostKvCache | DeviceKvCache;
/** A cache whose tensors JavaScript can read. */
export type HostKvCache = ReadonlyMap<string, Tensor> | AppendKvCache;

/** Positions in a cache. */
export function cacheLength(cache: KvCache): number {
  if (cache instanceof AppendKvCache || cache instanceof DeviceKvCache) return cache.length;
  return (cache.get('past_key_values.0.key')?.dims[2] as number | undefined) ?? 0;
}

/** Rows of a cache. */
export function cacheBatch(cache: KvCache): number {
  if (cache instanceof AppendKvCache || cache instanceof DeviceKvCache) return cache.batch;
  return (cache.get('past_key_values.0.key')?.dims[0] as number | undefined) ?? 0;
}

/** Frees what a cache holds outside the JavaScript heap (a DeviceKvCache's GPU buffers); a no-op for host caches. */
export function releaseCache(cache: KvCache): void {
  if (cache instanceof DeviceKvCache) cache.release();
}

export interface ForwardInput {
  /** [batch][sequence] token ids: the new tokens only when a cache is given. */
  readonly ids: readonly (readonly number[])[];
  /** [batch][past + sequence]: 1 for tokens, 0 for padding. */
  readonly attentionMask: readonly (readonly number[])[];
  /** [batch][sequence]. */
  readonly positionIds: readonly (readonly number[])[];
  /**
   * Compute the logits of the last position only (what sampling needs): a prefill's output head is
   * then one row, not `sequence` (graphs built here; an Optimum export gives all rows regardless).
   */
  readonly lastLogitsOnly?: boolean;
}

export interface ForwardOutput {
  /** [batch, logitRows, vocab] row-major: the last `logitRows` positions of each row. */
  readonly logits: Float32Array;
  readonly sequence: number;
  /** `sequence`, or 1 when only the last position's logits were computed. */
  readonly logitRows: number;
  readonly cache: KvCache;
}

export interface LoadedWeights {
  readonly config: LlamaConfig;
  readonly weights: WeightSource;
  /** How the linear weights are stored: 16 bits or fewer (F16, BF16, block quants) make `auto` compute in float16 on a GPU. */
  readonly storage?: WeightStorage;
}

export class CausalLm {
  private constructor(
    readonly config: LlamaConfig,
    private readonly session: OrtSession,
    readonly device: Device,
    readonly deviceNotes: readonly string[],
    readonly floatType: FloatType,
    /** Bytes of weights read per decoding step (for the bandwidth bound); 0 when unknown. */
    readonly weightBytes: number,
    readonly cacheLayout: CacheLayout,
    /** The cache stays in GPU buffers between calls (DeviceKvCache). */
    readonly cacheOnDevice: boolean,
    /** Some Optimum exports compute positions from the attention mask and take none. */
    private readonly takesPositionIds = true,
  ) {
    this.takesLogitsFrom = session.inputNames.includes('logits_from');
  }

  /** Graphs built here take the first position to compute logits for (`logits_from`); an Optimum export gives all. */
  private readonly takesLogitsFrom: boolean;

  /** A slicing session on the model's device, for caches in GPU buffers (sliceCache). */
  private slicer: Promise<OrtSession> | undefined;

  static async load(path: string, options: CausalLmOptions): Promise<CausalLm> {
    const layout = findCheckpoint(path);
    if (layout.format === 'onnx') {
      const config = llamaConfigOf(readModelConfig(layout.configFile), layout.configFile);
      const modelFile = layout.modelFile;
      const opened = await openSession((device) => ({ model: modelFile, deviceOutputs: keepsCacheOnDevice(device, 'optimum', options) ? presentNames(config.layers) : [] }), options);
      const inputs = new Set(opened.session.inputNames);
      for (const name of ['input_ids', 'attention_mask', 'past_key_values.0.key']) {
        if (!inputs.has(name)) throw new ToolbenchError('model.unsupported', 2, `${layout.modelFile}: no input "${name}": export the decoder with its KV cache (optimum-cli export onnx --task text-generation-with-past)`);
      }
      const pastType = opened.session.inputMetadata.find((meta) => meta.name === 'past_key_values.0.key');
      const floatType: FloatType = pastType?.isTensor === true && pastType.type === 'float16' ? 'float16' : 'float32';
      return new CausalLm(config, opened.session, opened.device, opened.deviceNotes, floatType, 0, 'optimum', keepsCacheOnDevice(opened.device, 'optimum', options), inputs.has('position_ids'));
    }
    if (layout.format === 'gguf') {
      const { loadGgufLlamaWeights } = await import('./gguf-weights.js');
      return CausalLm.fromWeights(loadGgufLlamaWeights(layout.file), options);
    }
    const config = llamaConfigOf(readModelConfig(layout.configFile), layout.configFile);
    const tensors = readCheckpointTensors(layout.dir);
    return CausalLm.fromWeights({ config, weights: safetensorsWeights(layout.dir, tensors), storage: storageOf(tensors) }, options);
  }

  static async fromWeights(loaded: LoadedWeights, options: CausalLmOptions): Promise<CausalLm> {
    const weights = options.adaptWeights?.(loaded.weights) ?? loaded.weights;
    const plans = new Map<Device, { floatType: FloatType; cacheLayout: CacheLayout; weightBytes: number }>();
    const opened = await openSession((device) => {
      const floatType = resolveFloatType(options.floatType ?? 'auto', device, loaded.storage);
      const cacheLayout = options.cacheLayout ?? (device === 'webgpu' ? 'optimum' : 'append');
      const attention = device === 'webgpu' ? 'decomposed' : 'operator';
      const built = buildLlamaGraph(loaded.config, weights, { floatType, cacheLayout, attention, ...(options.graph !== undefined ? { graph: options.graph } : {}) });
      plans.set(device, { floatType, cacheLayout, weightBytes: built.weightBytes });
      return { model: built, deviceOutputs: keepsCacheOnDevice(device, cacheLayout, options) ? presentNames(loaded.config.layers) : [] };
    }, options);
    const plan = plans.get(opened.device) as { floatType: FloatType; cacheLayout: CacheLayout; weightBytes: number };
    const onDevice = keepsCacheOnDevice(opened.device, plan.cacheLayout, options);
    const notes = [...opened.deviceNotes];
    if ((options.floatType ?? 'auto') === 'auto' && plan.floatType === 'float16' && loaded.storage === 'bfloat16') {
      notes.push(`${opened.device}: bfloat16 weights compute in float16 here (onnxruntime's GPU kernels are float16); if the output looks broken (float16 overflow), use --dtype float32`);
    }
    return new CausalLm(loaded.config, opened.session, opened.device, notes, plan.floatType, plan.weightBytes, plan.cacheLayout, onDevice);
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
    // the first call feeds these empty host tensors; its outputs are GPU buffers
    return this.cacheOnDevice ? new DeviceKvCache(cache) : cache;
  }

  /**
   * The first `length` positions of a batch-1 cache (see the free sliceCache); a cache in GPU
   * buffers is sliced by a small session on the same device, so it never comes to the host.
   */
  async sliceCache(cache: KvCache, length: number): Promise<KvCache> {
    if (!(cache instanceof DeviceKvCache)) return sliceCache(cache, length);
    if (cache.batch !== 1 || !Number.isInteger(length) || length < 0 || length > cache.length) {
      throw new RangeError(`cannot take the first ${length} positions of a cache of ${cache.batch} rows and ${cache.length} positions (batch 1 only)`);
    }
    // a slicer that failed to open is not kept: the next call tries again
    this.slicer ??= openCacheSlicer(this.config.layers, this.floatType, this.device).catch((error: unknown) => {
      this.slicer = undefined;
      throw error;
    });
    const ort = await loadOrt();
    const outputs = await (await this.slicer).run({ ...cache.feeds(), length: new ort.Tensor('int64', BigInt64Array.of(BigInt(length)), [1]) });
    return DeviceKvCache.fromOutputs(outputs, this.config.layers, 'sliced');
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
    const lastOnly = input.lastLogitsOnly === true && this.takesLogitsFrom;
    if (this.takesLogitsFrom) feeds['logits_from'] = new ort.Tensor('int64', BigInt64Array.of(BigInt(lastOnly ? sequence - 1 : 0)), [1]);
    if ((cache instanceof AppendKvCache) !== (this.cacheLayout === 'append') || (cache instanceof DeviceKvCache) !== this.cacheOnDevice) {
      throw new RangeError(`a cache of the wrong kind for this model (${this.cacheLayout}${this.cacheOnDevice ? ', on the device' : ''})`);
    }
    if (cache instanceof AppendKvCache || cache instanceof DeviceKvCache) Object.assign(feeds, cache.feeds());
    else for (const [name, tensor] of cache) feeds[name] = tensor;
    const outputs = await this.session.run(feeds);
    let next: KvCache;
    if (cache instanceof AppendKvCache) next = cache.appended(outputs, sequence);
    else if (cache instanceof DeviceKvCache) next = DeviceKvCache.fromOutputs(outputs, this.config.layers);
    else next = cacheTensors(outputs, this.config.layers);
    const logits = outputs['logits'] as Tensor;
    const logitRows = lastOnly ? 1 : sequence;
    if (logits.dims[0] !== batch || logits.dims[1] !== logitRows) {
      releaseCache(next);
      throw new ToolbenchError('runner.failed', 1, `the model returned logits of shape [${logits.dims.join(', ')}] for ${batch}×${logitRows} positions`);
    }
    // our graphs cast logits to float32; an Optimum fp16 export may not
    const values = logits.type === 'float16' ? halfToFloat32(logits.data as Uint16Array) : (logits.data as Float32Array);
    return { logits: values, sequence, logitRows, cache: next };
  }

  async release(): Promise<void> {
    const slicer = await this.slicer?.catch(() => undefined);
    await slicer?.release();
    await this.session.release();
  }
}

/** How a checkpoint stores its linear weights, judged by the first layer's query projection (embeddings are sometimes kept wider). */
export function storageOf(tensors: ReadonlyMap<string, StoredTensor>): WeightStorage {
  const dtype = (tensors.get('model.layers.0.self_attn.q_proj.weight') ?? tensors.get('model.embed_tokens.weight'))?.dtype;
  return dtype === 'F16' ? 'float16' : dtype === 'BF16' ? 'bfloat16' : 'float32';
}

/** The float type a graph for `device` computes in (FloatRequest). */
export function resolveFloatType(request: FloatRequest, device: Device, storage: WeightStorage = 'float32'): FloatType {
  if (request !== 'auto') return request;
  return device !== 'cpu' && storage !== 'float32' ? 'float16' : 'float32';
}

/** present.N.key|value of every layer: the outputs a device-resident cache keeps on the device. */
function presentNames(layers: number): string[] {
  return Array.from({ length: layers }, (_, layer) => [`present.${layer}.key`, `present.${layer}.value`]).flat();
}

/** Whether a cache of this layout stays in GPU buffers on this device (WebGPU, Optimum layout, unless turned off). */
function keepsCacheOnDevice(device: Device, cacheLayout: CacheLayout, options: CausalLmOptions): boolean {
  return device === 'webgpu' && cacheLayout === 'optimum' && options.cacheOnDevice !== false;
}

/**
 * A session that takes a cache's first `length` positions on the device: past_key_values.N.key|value
 * and `length` in, sliced.N.key|value out, left in GPU buffers.
 */
async function openCacheSlicer(layers: number, floatType: FloatType, device: Device): Promise<OrtSession> {
  const g = new GraphBuilder('slice-cache', floatType);
  const length = g.input('length', DataType.INT64, [1]);
  const outputs: string[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ['key', 'value']) {
      const name = `sliced.${layer}.${kind}`;
      const past = g.input(`past_key_values.${layer}.${kind}`, g.floatDataType, ['batch', 'kv_heads', 'past', 'head_dim']);
      g.output(name, g.floatDataType, ['batch', 'kv_heads', 'length', 'head_dim']);
      g.op('Slice', [past, g.ints([0]), length, g.ints([2])], {}, { names: [name] });
      outputs.push(name);
    }
  }
  const opened = await openSession(() => ({ model: g.build({ '': 17 }), deviceOutputs: outputs }), { device });
  if (opened.device !== device) {
    await opened.session.release();
    throw new ToolbenchError('runner.failed', 1, `the KV cache is on ${device}, but a session to slice it opened on ${opened.device}: ${opened.deviceNotes.join('; ')}`);
  }
  return opened.session;
}

/**
 * The first `length` positions of a batch-1 cache: a prefix of a cached sequence to start another
 * sequence from. The keys carry RoPE at their absolute positions, so the prefix is only valid for
 * a sequence that begins with the same `length` tokens. Optimum tensors are copied into new ones;
 * an append cache gives a view, which the first step on it copies if the positions after it are
 * still another cache's (AppendKvCache, copy on reuse).
 */
export async function sliceCache(cache: HostKvCache, length: number): Promise<HostKvCache> {
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

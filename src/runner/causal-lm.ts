/**
 * A LLaMA-family decoder on onnxruntime: one `forward` over a batch of token rows with the KV
 * cache of the previous call. Built from a Hugging Face checkpoint (or GGUF weights) by our graph
 * builder, or an Optimum-exported model.onnx with the same I/O names.
 */
import type { Tensor } from 'onnxruntime-common';
import { ToolbenchError } from '../util/errors.js';
import { findCheckpoint, readModelConfig } from './checkpoint.js';
import { halfToFloat32 } from './float16.js';
import { buildLlamaGraph, type LlamaGraphKind } from './llama-graph.js';
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
}

/** The present.N.key|value tensors of the last call, fed back as past_key_values. */
export type KvCache = ReadonlyMap<string, Tensor>;

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
      return new CausalLm(config, opened.session, opened.device, opened.fallbacks, floatType, 0, inputs.has('position_ids'));
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
    const built = buildLlamaGraph(loaded.config, weights, { floatType, ...(options.graph !== undefined ? { graph: options.graph } : {}) });
    const opened = await openSession(built, options);
    return new CausalLm(loaded.config, opened.session, opened.device, opened.fallbacks, floatType, built.weightBytes);
  }

  /** An empty cache for `batch` rows (the first call). */
  async emptyCache(batch: number): Promise<KvCache> {
    const ort = await loadOrt();
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
    for (const [name, tensor] of cache) feeds[name] = tensor;
    const outputs = await this.session.run(feeds);
    const next = new Map<string, Tensor>();
    for (let layer = 0; layer < this.config.layers; layer++) {
      for (const kind of ['key', 'value']) next.set(`past_key_values.${layer}.${kind}`, outputs[`present.${layer}.${kind}`] as Tensor);
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
 * The first `length` positions of a batch-1 cache, copied into new tensors: a prefix of a cached
 * sequence to start another sequence from. The keys carry RoPE at their absolute positions, so
 * the prefix is only valid for a sequence that begins with the same `length` tokens.
 */
export async function sliceCache(cache: KvCache, length: number): Promise<KvCache> {
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

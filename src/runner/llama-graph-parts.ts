/**
 * What the unfused and fused LLaMA graphs share: the KV-cache I/O (Optimum's or the append
 * layout), the RoPE tables, the attention pattern of a left-padded batch and the LoRA side branch
 * of a linear layer.
 */
import { ToolbenchError } from '../util/errors.js';
import { DataType } from './onnx-proto.js';
import { attr, type GraphBuilder } from './onnx-graph.js';
import { ropeInverseFrequencies, type LlamaConfig } from './model-config.js';
import type { WeightSource } from './weights.js';

/**
 * The KV-cache I/O of a generated graph. `optimum`: past_key_values.N.key|value
 * [batch, kvHeads, past, headDim] in, the whole cache present.N.key|value [batch, kvHeads, total,
 * headDim] out (Optimum's names, for export). `append`: past_append.N.key|value
 * [past, batch, kvHeads, headDim] in (time-major, a view of the caller's buffer) and only the new
 * positions new.N.key|value [sequence, batch, kvHeads, headDim] out, which the caller appends:
 * onnxruntime-node copies every output into a fresh JS buffer, and the whole cache each step cost
 * more than the model's run. Decode step, SmolLM2-135M Q4_1, fused graph, 2 threads, batch 8:
 * 512-token context 183 ms Optimum against 103 ms append; 128 tokens 78 against 55 ms.
 */
export type CacheLayout = 'optimum' | 'append';

export interface LlamaIo {
  readonly inputIds: string;
  readonly attentionMask: string;
  readonly positionIds: string;
  /** `logits_from`, int64 [1]: the first position whose logits are computed (0: all of them). */
  readonly logitsFrom: string;
  /** [layer] -> [past key, past value], each [batch, kvHeads, past, headDim] (transposed from the input in the append layout). */
  readonly past: readonly (readonly [string, string])[];
  readonly cacheLayout: CacheLayout;
}

/** `input_ids`, `attention_mask`, `position_ids` and the past cache in; `logits` and the cache out (see CacheLayout). */
export function declareLlamaIo(g: GraphBuilder, config: LlamaConfig, cacheLayout: CacheLayout = 'optimum'): LlamaIo {
  const float = g.floatDataType;
  const { kvHeads, headDim } = config;
  const inputIds = g.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  // generation feeds sequence - 1 to compute the last position's logits only. (An input with a
  // default, an initializer of its name, would keep Optimum's inputs, but onnxruntime leaves such
  // an input out of the session's inputs and did not take it as a feed.)
  const logitsFrom = g.input('logits_from', DataType.INT64, [1]);
  const past = Array.from({ length: config.layers }, (_, layer) => {
    const [key, value] = (['key', 'value'] as const).map((kind) =>
      cacheLayout === 'optimum'
        ? g.input(`past_key_values.${layer}.${kind}`, float, ['batch_size', kvHeads, 'past_sequence_length', headDim])
        : g.op('Transpose', [g.input(`past_append.${layer}.${kind}`, float, ['past_sequence_length', 'batch_size', kvHeads, headDim])], { perm: attr.ints([1, 2, 0, 3]) }),
    );
    return [key, value] as [string, string];
  });
  g.output('logits', DataType.FLOAT, ['batch_size', 'logits_length', config.vocabSize]);
  for (let layer = 0; layer < config.layers; layer++) {
    for (const kind of ['key', 'value']) {
      if (cacheLayout === 'optimum') g.output(`present.${layer}.${kind}`, float, ['batch_size', kvHeads, 'total_sequence_length', headDim]);
      else g.output(`new.${layer}.${kind}`, float, ['sequence_length', 'batch_size', kvHeads, headDim]);
    }
  }
  return { inputIds, attentionMask, positionIds, logitsFrom, past, cacheLayout };
}

/** The positions of [batch, sequence, ...] from `logits_from` on: what the output head sees. */
export function fromLogitsStart(g: GraphBuilder, io: LlamaIo, x: string): string {
  return g.op('Slice', [x, io.logitsFrom, g.ints([Number.MAX_SAFE_INTEGER]), g.ints([1])]);
}

/** In the append layout, names the new positions of a layer's key or value, given as [batch, kvHeads, sequence, headDim], as the output new.N.kind [sequence, batch, kvHeads, headDim]. */
export function emitNewPositions(g: GraphBuilder, layer: number, kind: 'key' | 'value', x: string): void {
  g.op('Transpose', [x], { perm: attr.ints([2, 0, 1, 3]) }, { names: [`new.${layer}.${kind}`] });
}

/**
 * cos and sin of position * inverse frequency, [maxPositions, headDim / 2] (linear scaling
 * divides the positions); `repeatHalves` gives [maxPositions, headDim], each half repeated, the
 * rotate-half layout for an elementwise product.
 */
export function ropeTables(config: LlamaConfig, repeatHalves: boolean): { readonly cos: Float32Array; readonly sin: Float32Array } {
  const frequencies = ropeInverseFrequencies(config);
  const positionScale = config.ropeScaling?.type === 'linear' ? 1 / config.ropeScaling.factor : 1;
  const half = config.headDim / 2;
  const width = repeatHalves ? config.headDim : half;
  const cos = new Float32Array(config.maxPositions * width);
  const sin = new Float32Array(config.maxPositions * width);
  for (let position = 0; position < config.maxPositions; position++) {
    for (let index = 0; index < half; index++) {
      const angle = position * positionScale * (frequencies[index] as number);
      for (const at of repeatHalves ? [index, index + half] : [index]) {
        cos[position * width + at] = Math.cos(angle);
        sin[position * width + at] = Math.sin(angle);
      }
    }
  }
  return { cos, sin };
}

/**
 * Which keys each query attends to, bool [batch, 1, sequence, total]: causal over the whole
 * sequence (the new tokens are the last `sequence` of `total`) and not padding. A padding query
 * of a left-padded row would see no key, so it sees itself: no softmax row is empty. ORT's CPU
 * kernels survive an empty row (a false becomes a finite filter value), but a kernel that masks
 * with -inf makes it NaN, which the next layer's cache would carry into real rows as 0 * NaN
 * (transformers unmasks such rows for SDPA for the same reason). Real tokens never attend to
 * padding, so their logits do not depend on this; padding rows' logits mean nothing either way.
 */
export function attendedKeys(g: GraphBuilder, io: LlamaIo): string {
  const ints = (values: number[]): string => g.ints(values);
  const total = g.op('Gather', [g.op('Shape', [io.attentionMask]), g.ints([1], [])], { axis: attr.int(0) });
  const sequence = g.op('Gather', [g.op('Shape', [io.inputIds]), g.ints([1], [])], { axis: attr.int(0) });
  const queryPositions = g.op('Unsqueeze', [g.op('Range', [g.op('Sub', [total, sequence]), total, g.ints([1], [])]), ints([1])]);
  const keyPositions = g.op('Unsqueeze', [g.op('Range', [g.ints([0], []), total, g.ints([1], [])]), ints([0])]);
  const causal = g.op('LessOrEqual', [keyPositions, queryPositions]);
  const itself = g.op('Equal', [keyPositions, queryPositions]);
  const notPadding = g.op('Unsqueeze', [g.op('Cast', [io.attentionMask], { to: attr.int(DataType.BOOL) }), ints([1, 2])]);
  return g.op('And', [causal, g.op('Or', [notPadding, itself])]);
}

/** The additive attention bias, float32 [batch, 1, sequence, total]: 0 where attendedKeys, -1e9 elsewhere. */
export function attentionBias(g: GraphBuilder, io: LlamaIo): string {
  return g.op('Where', [attendedKeys(g, io), g.op('Constant', [], { value_float: attr.float(0) }), g.op('Constant', [], { value_float: attr.float(-1e9) })]);
}

/** [batch, sequence, count * headDim] -> [batch, count, sequence, headDim]. */
export function splitHeads(g: GraphBuilder, x: string, count: number, headDim: number): string {
  return g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, count, headDim])])], { perm: attr.ints([0, 2, 1, 3]) });
}

/**
 * One layer's attention in standard operators (MatMul, Softmax; every provider has them): query
 * [batch, heads, sequence, headDim], key and value [batch, kvHeads, sequence, headDim], already
 * rotated; the past joined on, the new positions (or the whole cache, in the Optimum layout) named
 * as the layer's cache outputs; the scores and the softmax in float32. Gives the context
 * [batch, sequence, heads * headDim].
 */
export function standardAttention(g: GraphBuilder, config: LlamaConfig, io: LlamaIo, layer: number, heads: { query: string; key: string; value: string }, bias: string): string {
  const { heads: headCount, kvHeads, headDim } = config;
  const floatType = g.floatDataType;
  const toFloat32 = (x: string): string => (floatType === DataType.FLOAT ? x : g.op('Cast', [x], { to: attr.int(DataType.FLOAT) }));
  const fromFloat32 = (x: string): string => (floatType === DataType.FLOAT ? x : g.op('Cast', [x], { to: attr.int(floatType) }));
  const [pastKey, pastValue] = io.past[layer] as [string, string];
  const optimum = io.cacheLayout === 'optimum';
  const presentKey = g.op('Concat', [pastKey, heads.key], { axis: attr.int(2) }, optimum ? { names: [`present.${layer}.key`] } : {});
  const presentValue = g.op('Concat', [pastValue, heads.value], { axis: attr.int(2) }, optimum ? { names: [`present.${layer}.value`] } : {});
  if (!optimum) {
    emitNewPositions(g, layer, 'key', heads.key);
    emitNewPositions(g, layer, 'value', heads.value);
  }
  const groups = headCount / kvHeads;
  const shareKv = (x: string): string =>
    groups === 1 ? x : g.op('Reshape', [g.op('Expand', [g.op('Unsqueeze', [x, g.ints([2])]), g.ints([1, 1, groups, 1, 1])]), g.ints([0, headCount, -1, headDim])]);
  const scale = g.floats([1 / Math.sqrt(headDim)], []);
  const keysT = g.op('Transpose', [shareKv(presentKey)], { perm: attr.ints([0, 1, 3, 2]) });
  const scores = g.op('Add', [toFloat32(g.op('Mul', [g.op('MatMul', [heads.query, keysT]), scale])), bias]);
  const probabilities = fromFloat32(g.op('Softmax', [scores], { axis: attr.int(-1) }));
  const context = g.op('MatMul', [probabilities, shareKv(presentValue)]);
  return g.op('Reshape', [g.op('Transpose', [context], { perm: attr.ints([0, 2, 1, 3]) }), g.ints([0, 0, headCount * headDim])]);
}

/** The output head: `lm_head.weight`, or the input embeddings when they are tied (or the head is absent). */
export function headWeightName(config: LlamaConfig, has: (name: string) => boolean): string {
  return config.tieWordEmbeddings || !has('lm_head.weight') ? 'model.embed_tokens.weight' : 'lm_head.weight';
}

/**
 * y + (x @ A^T) @ B^T where the source has a LoRA branch for the linear weight `name` [out, inner]
 * (WeightSource.lora), else y: two products r wide on float weights of the graph's type, beside
 * the base product (which may run on the weight's quants), rather than W + B·A merged at load.
 */
export function addLoraBranch(g: GraphBuilder, weights: WeightSource, x: string, y: string, name: string, out: number, inner: number): string {
  const branch = weights.lora?.(name);
  if (branch === undefined) return y;
  const { a, b, rank } = branch;
  if (a.length !== rank * inner || b.length !== out * rank) {
    throw new ToolbenchError('model.invalid', 2, `${weights.origin}: the LoRA branch of ${name} has ${a.length} and ${b.length} values, not [${rank}, ${inner}] and [${out}, ${rank}]`);
  }
  const transposed = (weight: string): string => g.op('Transpose', [weight], { perm: attr.ints([1, 0]) });
  const down = g.op('MatMul', [x, transposed(g.weight(`${name}.lora_A`, [rank, inner], a))]); // [batch, seq, rank]
  return g.op('Add', [y, g.op('MatMul', [down, transposed(g.weight(`${name}.lora_B`, [out, rank], b))])]);
}

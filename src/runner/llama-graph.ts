/**
 * The ONNX graph of a LLaMA-family decoder (Hugging Face `LlamaForCausalLM` semantics), with
 * Optimum's KV-cache I/O: `input_ids`, `attention_mask`, `position_ids`,
 * `past_key_values.N.key|value` in, `logits` and `present.N.key|value` out. GQA, RoPE (linear or
 * llama3 scaling), RMSNorm, SwiGLU, tied or untied output embeddings. With `cacheLayout: 'append'`
 * the cache goes in time-major and only the new positions come out (llama-graph-parts.ts
 * CacheLayout); CausalLm builds that one, Optimum's stays the default here, for export.
 *
 * Two graphs with that contract: `unfused` (here) has standard opset-17 operators only, and is
 * the reference the other is tested against; `fused` (llama-fused-graph.ts) uses onnxruntime's
 * fused operators and block-quantised weights. In float16 graphs the norms and the softmax run in
 * float32, as HF does.
 */
import { DataType } from './onnx-proto.js';
import { attr, GraphBuilder, type BuiltModel, type FloatType } from './onnx-graph.js';
import type { LlamaConfig } from './model-config.js';
import { buildFusedLlamaGraph, type FusedAttention } from './llama-fused-graph.js';
import { addLoraBranch, attentionBias, declareLlamaIo, fromLogitsStart, headWeightName, ropeTables, splitHeads, standardAttention, type CacheLayout } from './llama-graph-parts.js';
import { addWeight, type WeightSource } from './weights.js';

export type LlamaGraphKind = 'fused' | 'unfused';
export const LLAMA_GRAPH_KINDS: readonly LlamaGraphKind[] = ['fused', 'unfused'];
/**
 * fused: as exact as unfused (|Δ logits| under 1e-5 in float32 on the tests' checkpoints) and
 * faster on the CPU provider in float32. Decode step, 1 thread, random SmolLM2-135M-shaped model:
 * batch 1 39.4 ms against 42.7, batch 8 75.0 against 85.3; SmolLM2-135M Q4_1 GGUF (4-bit quants on
 * MatMulNBits): batch 1 24.9 ms against 41.6 with float32 weights, and 186 MB of weights, not 517.
 */
export const DEFAULT_LLAMA_GRAPH: LlamaGraphKind = 'fused';

export interface LlamaGraphOptions {
  readonly floatType: FloatType;
  readonly graph?: LlamaGraphKind;
  /** The KV-cache I/O (llama-graph-parts.ts): Optimum's names by default, for export. */
  readonly cacheLayout?: CacheLayout;
  /** The fused graph's attention (llama-fused-graph.ts FusedAttention): the `Attention` operator unless told. */
  readonly attention?: FusedAttention;
}

export function buildLlamaGraph(config: LlamaConfig, weights: WeightSource, options: LlamaGraphOptions): BuiltModel {
  const cacheLayout = options.cacheLayout ?? 'optimum';
  return (options.graph ?? DEFAULT_LLAMA_GRAPH) === 'fused' ? buildFusedLlamaGraph(config, weights, options.floatType, cacheLayout, options.attention) : buildUnfusedLlamaGraph(config, weights, options.floatType, cacheLayout);
}

function buildUnfusedLlamaGraph(config: LlamaConfig, weights: WeightSource, floatType: FloatType, cacheLayout: CacheLayout): BuiltModel {
  const g = new GraphBuilder('llama', floatType);
  const float = g.floatDataType;
  const { heads, kvHeads, headDim, hiddenSize } = config;
  const io = declareLlamaIo(g, config, cacheLayout);
  const { inputIds, positionIds } = io;
  const ints = (values: number[]): string => g.ints(values);
  const toFloat32 = (x: string): string => (floatType === 'float32' ? x : g.op('Cast', [x], { to: attr.int(DataType.FLOAT) }));
  const fromFloat32 = (x: string): string => (floatType === 'float32' ? x : g.op('Cast', [x], { to: attr.int(float) }));
  /** x @ W^T for an HF [out, in] weight (ORT folds the transpose into the product), plus its LoRA branch if any. */
  const linear = (x: string, name: string, out: number, inner: number): string =>
    addLoraBranch(g, weights, x, g.op('MatMul', [x, g.op('Transpose', [addWeight(g, weights, name, [out, inner])], { perm: attr.ints([1, 0]) })]), name, out, inner);
  const epsilon = g.op('Constant', [], { value_float: attr.float(config.rmsNormEps) });
  const rmsNorm = (x: string, name: string): string => {
    const x32 = toFloat32(x);
    const meanSquare = g.op('ReduceMean', [g.op('Mul', [x32, x32])], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const normed = fromFloat32(g.op('Div', [x32, g.op('Sqrt', [g.op('Add', [meanSquare, epsilon])])]));
    return g.op('Mul', [normed, addWeight(g, weights, name, [hiddenSize])]);
  };

  // RoPE tables by position, each half repeated (rotate-half layout)
  const tables = ropeTables(config, true);
  const half = headDim / 2;
  const ropeRows = (table: Float32Array, name: string): string =>
    g.op('Unsqueeze', [g.op('Gather', [g.weight(name, [config.maxPositions, headDim], table), positionIds], { axis: attr.int(0) }), ints([1])]);
  const cos = ropeRows(tables.cos, 'rope.cos');
  const sin = ropeRows(tables.sin, 'rope.sin');
  const rotate = (x: string): string => {
    const first = g.op('Slice', [x, ints([0]), ints([half]), ints([3])]);
    const second = g.op('Slice', [x, ints([half]), ints([headDim]), ints([3])]);
    const rotated = g.op('Concat', [g.op('Neg', [second]), first], { axis: attr.int(3) });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
  };

  // additive attention bias [batch, 1, seq, total], float32 as the scores
  const bias = attentionBias(g, io);
  const split = (x: string, count: number): string => splitHeads(g, x, count, headDim);

  let hidden = g.op('Gather', [addWeight(g, weights, 'model.embed_tokens.weight', [config.vocabSize, hiddenSize]), inputIds], { axis: attr.int(0) });
  for (let layer = 0; layer < config.layers; layer++) {
    const prefix = `model.layers.${layer}.`;
    const normed = rmsNorm(hidden, `${prefix}input_layernorm.weight`);
    const query = rotate(split(linear(normed, `${prefix}self_attn.q_proj.weight`, heads * headDim, hiddenSize), heads));
    const key = rotate(split(linear(normed, `${prefix}self_attn.k_proj.weight`, kvHeads * headDim, hiddenSize), kvHeads));
    const value = split(linear(normed, `${prefix}self_attn.v_proj.weight`, kvHeads * headDim, hiddenSize), kvHeads);
    const merged = standardAttention(g, config, io, layer, { query, key, value }, bias);
    hidden = g.op('Add', [hidden, linear(merged, `${prefix}self_attn.o_proj.weight`, hiddenSize, heads * headDim)]);
    const normed2 = rmsNorm(hidden, `${prefix}post_attention_layernorm.weight`);
    const gate = linear(normed2, `${prefix}mlp.gate_proj.weight`, config.intermediateSize, hiddenSize);
    const up = linear(normed2, `${prefix}mlp.up_proj.weight`, config.intermediateSize, hiddenSize);
    const activated = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    hidden = g.op('Add', [hidden, linear(activated, `${prefix}mlp.down_proj.weight`, hiddenSize, config.intermediateSize)]);
  }
  const final = rmsNorm(fromLogitsStart(g, io, hidden), 'model.norm.weight');
  const headName = headWeightName(config, (name) => weights.has(name));
  // a tied head reuses the embedding initializer rather than a second copy
  const logits = headName === 'lm_head.weight' ? linear(final, headName, config.vocabSize, hiddenSize) : g.op('MatMul', [final, g.op('Transpose', ['model.embed_tokens.weight'], { perm: attr.ints([1, 0]) })]);
  if (floatType === 'float32') g.op('Identity', [logits], {}, { names: ['logits'] });
  else g.op('Cast', [logits], { to: attr.int(DataType.FLOAT) }, { names: ['logits'] });
  return g.build({ '': 17 });
}

/**
 * The LLaMA decoder graph on onnxruntime's fused operators, with the unfused graph's contract
 * (llama-graph.ts: same I/O names, shapes and semantics, so CausalLm, the KV cache and generation
 * do not know which one runs):
 *
 *   RMSNorm            RMSNormalization (opset 23) for the first; com.microsoft
 *                      SkipSimplifiedLayerNormalization for the others, which adds the residual too
 *   RoPE               RotaryEmbedding (opset 23) on our cos/sin tables at position_ids
 *   attention          Attention (opset 23): grouped KV heads, past/present [batch, kvHeads, len,
 *                      headDim], the left-padding and causal mask as a bool input; or, for
 *                      providers without it, the unfused graph's standard operators (FusedAttention)
 *   linear layers      MatMul on the float weight, or com.microsoft MatMulNBits on the weight's own
 *                      4-bit quants when the source has them (`WeightSource.quantized`), plus a
 *                      LoRA side branch where the source has one (`WeightSource.lora`)
 *
 * Why not com.microsoft GroupQueryAttention (tried on ORT 1.29, CPU): it is exact for left-padded
 * batches only given an attention_bias and seqlens_k = total - 1 for every row; it refuses new
 * tokens after a cache for more than one row ("batch_size must be 1 when sequence_length > 1 and
 * past context is given"), which the unfused graph serves; its own rotary ignores position_ids
 * (wrong under left padding) and needs head_size % 16 == 0; its CUDA kernel takes no
 * attention_bias. Attention (opset 23) has none of these limits and was as fast or faster. Decode
 * step, CPU time on 1 thread, random SmolLM2-135M-shaped model, 64-token context, unfused / GQA /
 * Attention: batch 1 42.2 / 39.0 / 38.4 ms, batch 8 77.8 / 74.9 / 70.1 ms; 512-token context,
 * batch 8: 222 / 183 / 174 ms.
 *
 * In float16 graphs the norms and the softmax compute in float32 inside the fused kernels. (On the
 * CPU provider float16 is slower than float32 in both graphs, and slower fused than unfused: x86
 * has no float16 GEMM, and the unfused graph's casts happen to move its MLP products to float32.)
 */
import { ToolbenchError } from '../util/errors.js';
import { DataType } from './onnx-proto.js';
import { attr, GraphBuilder, type BuiltModel, type FloatType } from './onnx-graph.js';
import { addLoraBranch, attendedKeys, attentionBias, declareLlamaIo, fromLogitsStart, headWeightName, ropeTables, splitHeads, standardAttention, type CacheLayout } from './llama-graph-parts.js';
import { hasDefaultZeroPoints } from './matmul-nbits.js';
import type { LlamaConfig } from './model-config.js';
import { addWeight, type QuantizedWeight, type WeightSource } from './weights.js';

/**
 * `operator`: Attention (opset 23), which the CPU provider has (and, going by its library, the
 * CUDA provider of onnxruntime 1.29). `decomposed`: MatMul and Softmax, as the unfused graph does
 * it: the WebGPU provider of onnxruntime 1.29 has no opset-23 Attention, and placing it on the CPU
 * instead costs two copies between the devices per layer and step.
 */
export type FusedAttention = 'operator' | 'decomposed';

export function buildFusedLlamaGraph(config: LlamaConfig, weights: WeightSource, floatType: FloatType, cacheLayout: CacheLayout = 'optimum', attention: FusedAttention = 'operator'): BuiltModel {
  const g = new GraphBuilder('llama', floatType);
  const { heads, kvHeads, headDim, hiddenSize, intermediateSize } = config;
  const io = declareLlamaIo(g, config, cacheLayout);
  const weight = (name: string, shape: number[]): string => addWeight(g, weights, name, shape);
  const transposed = (name: string): string => g.op('Transpose', [name], { perm: attr.ints([1, 0]) });
  /** x @ W^T for an HF [out, in] weight: on its quants where the source has them in a form ORT takes; plus its LoRA branch if any. */
  const linear = (x: string, name: string, out: number, inner: number): string => {
    const quantized = weights.quantized?.(name);
    const onQuants = quantized !== undefined && runsOnMatMulNBits(quantized, weights.origin, name, out, inner);
    const product = onQuants ? matMulNBits(g, x, name, quantized) : g.op('MatMul', [x, transposed(weight(name, [out, inner]))]);
    return addLoraBranch(g, weights, x, product, name, out, inner);
  };
  const rmsNorm = (x: string, name: string): string =>
    g.op('RMSNormalization', [x, weight(name, [hiddenSize])], { epsilon: attr.float(config.rmsNormEps), axis: attr.int(-1), stash_type: attr.int(DataType.FLOAT) });
  /** RMSNorm(x + delta), and x + delta (the next residual). */
  const addAndNorm = (x: string, delta: string, name: string): [string, string] => {
    const [normed, , , sum] = g.opOutputs('SkipSimplifiedLayerNormalization', [x, delta, weight(name, [hiddenSize])], { epsilon: attr.float(config.rmsNormEps) }, { outputs: 4, domain: 'com.microsoft' });
    return [normed as string, sum as string];
  };

  const tables = ropeTables(config, false);
  const cos = g.weight('rope.cos', [config.maxPositions, headDim / 2], tables.cos);
  const sin = g.weight('rope.sin', [config.maxPositions, headDim / 2], tables.sin);
  const rotate = (x: string, count: number): string => g.op('RotaryEmbedding', [x, cos, sin, io.positionIds], { interleaved: attr.int(0), num_heads: attr.int(count) });
  const attended = attention === 'operator' ? attendedKeys(g, io) : attentionBias(g, io);

  /** Attention (opset 23) on [batch, seq, heads * headDim] inputs; the append layout's new positions named beside it. */
  const attentionOperator = (query: string, key: string, value: string, layer: number): string => {
    const [pastKey, pastValue] = io.past[layer] as [string, string];
    const [context] = g.opOutputs('Attention', [query, key, value, attended, pastKey, pastValue], { q_num_heads: attr.int(heads), kv_num_heads: attr.int(kvHeads), softmax_precision: attr.int(DataType.FLOAT) }, {
      // the append layout leaves present unused, but the CPU kernel wants it with a past
      names: cacheLayout === 'optimum' ? [`attention_${layer}`, `present.${layer}.key`, `present.${layer}.value`] : [`attention_${layer}`, `present_unused.${layer}.key`, `present_unused.${layer}.value`],
    });
    if (cacheLayout === 'append') {
      // [batch, seq, kvHeads * headDim] -> [seq, batch, kvHeads, headDim]
      for (const [kind, x] of [['key', key], ['value', value]] as const) {
        g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, kvHeads, headDim])])], { perm: attr.ints([1, 0, 2, 3]) }, { names: [`new.${layer}.${kind}`] });
      }
    }
    return context as string;
  };

  // hidden: the residual stream [batch, seq, hidden], up to the pending `delta` added by the next norm
  let hidden = g.op('Gather', [weight('model.embed_tokens.weight', [config.vocabSize, hiddenSize]), io.inputIds], { axis: attr.int(0) });
  let delta: string | undefined;
  for (let layer = 0; layer < config.layers; layer++) {
    const prefix = `model.layers.${layer}.`;
    let normed: string;
    if (delta === undefined) normed = rmsNorm(hidden, `${prefix}input_layernorm.weight`);
    else [normed, hidden] = addAndNorm(hidden, delta, `${prefix}input_layernorm.weight`);
    const query = rotate(linear(normed, `${prefix}self_attn.q_proj.weight`, heads * headDim, hiddenSize), heads);
    const key = rotate(linear(normed, `${prefix}self_attn.k_proj.weight`, kvHeads * headDim, hiddenSize), kvHeads);
    const value = linear(normed, `${prefix}self_attn.v_proj.weight`, kvHeads * headDim, hiddenSize);
    const context =
      attention === 'operator'
        ? attentionOperator(query, key, value, layer)
        : standardAttention(g, config, io, layer, { query: splitHeads(g, query, heads, headDim), key: splitHeads(g, key, kvHeads, headDim), value: splitHeads(g, value, kvHeads, headDim) }, attended);
    const [normed2, afterAttention] = addAndNorm(hidden, linear(context, `${prefix}self_attn.o_proj.weight`, hiddenSize, heads * headDim), `${prefix}post_attention_layernorm.weight`);
    hidden = afterAttention;
    const gate = linear(normed2, `${prefix}mlp.gate_proj.weight`, intermediateSize, hiddenSize);
    const up = linear(normed2, `${prefix}mlp.up_proj.weight`, intermediateSize, hiddenSize);
    delta = linear(g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]), `${prefix}mlp.down_proj.weight`, hiddenSize, intermediateSize);
  }
  const head = (x: string): string => fromLogitsStart(g, io, x);
  const [final] = delta === undefined ? [rmsNorm(head(hidden), 'model.norm.weight')] : addAndNorm(head(hidden), head(delta), 'model.norm.weight');
  const headName = headWeightName(config, (name) => weights.has(name));
  // a tied head reuses the embedding initializer rather than a second copy
  const logits = headName === 'lm_head.weight' ? linear(final, headName, config.vocabSize, hiddenSize) : g.op('MatMul', [final, transposed('model.embed_tokens.weight')]);
  if (floatType === 'float32') g.op('Identity', [logits], {}, { names: ['logits'] });
  else g.op('Cast', [logits], { to: attr.int(DataType.FLOAT) }, { names: ['logits'] });
  return g.build({ '': 23, 'com.microsoft': 1 });
}

/**
 * Whether the weight goes on MatMulNBits: 4-bit weights, which onnxruntime 1.29's CPU provider
 * prepacks for MLAS (a decode step of a SmolLM2-135M-shaped model, 1 thread: 22 ms against 40 ms
 * for float32 weights). 8-bit ones keep the float weight: MatMulNBits takes them only with the
 * default zero point and no zero_points input ("Only 2b and 4b quantization is supported for
 * unpacked compute" otherwise), and even then dequantises all of B on every run (155 ms a step).
 */
function runsOnMatMulNBits(weight: QuantizedWeight, origin: string, name: string, rows: number, columns: number): boolean {
  if (weight.rows !== rows || weight.columns !== columns) {
    throw new ToolbenchError('model.invalid', 2, `${origin}: ${name} has shape [${weight.rows}, ${weight.columns}], the config implies [${rows}, ${columns}]`);
  }
  return weight.bits === 4;
}

/**
 * y = x @ dequant(W)^T, value = (q - zero point) * scale, on MatMulNBits with its default zero
 * point z0 = 2^(bits-1) and no zero_points input: with one (float zero points, as GGUF's Q4_1 and
 * Q4_K give) the CPU kernel is not prepacked and dequantises B on every run, 5x slower than the
 * float32 graph on SmolLM2-135M Q4_1. Other zero points z are split off exactly instead:
 * (q - z) s = (q - z0) s + (z0 - z) s, and (z0 - z) s is constant over a block, so its share is
 * blockSums(x) @ C^T with C[n, b] = (z0 - z[n, b]) s[n, b], a float product K/blockSize deep.
 */
function matMulNBits(g: GraphBuilder, x: string, name: string, weight: QuantizedWeight): string {
  const blocks = weight.columns / weight.blockSize;
  const inputs = [
    x,
    g.rawWeight(name, DataType.UINT8, [weight.rows, blocks, (weight.blockSize * weight.bits) / 8], weight.data),
    g.weight(`${name}.scales`, [weight.rows * blocks], weight.scales),
  ];
  const attributes = { K: attr.int(weight.columns), N: attr.int(weight.rows), bits: attr.int(weight.bits), block_size: attr.int(weight.blockSize) };
  const product = g.op('MatMulNBits', inputs, attributes, { domain: 'com.microsoft' });
  if (hasDefaultZeroPoints(weight)) return product;
  const standard = 2 ** (weight.bits - 1);
  const shares = new Float32Array(blocks * weight.rows); // C^T, [blocks, rows]
  for (let row = 0; row < weight.rows; row++) {
    for (let block = 0; block < blocks; block++) {
      const at = row * blocks + block;
      shares[block * weight.rows + row] = (standard - (weight.zeroPoints[at] as number)) * (weight.scales[at] as number);
    }
  }
  const blockSums = g.op('ReduceSum', [g.op('Reshape', [x, g.ints([0, 0, blocks, weight.blockSize])]), g.ints([-1])], { keepdims: attr.int(0) });
  return g.op('Add', [product, g.op('MatMul', [blockSums, g.weight(`${name}.zero_point_shares`, [blocks, weight.rows], shares)])]);
}

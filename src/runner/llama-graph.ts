/**
 * The ONNX graph of a LLaMA-family decoder (Hugging Face `LlamaForCausalLM` semantics), with
 * Optimum's KV-cache I/O: `input_ids`, `attention_mask`, `position_ids`,
 * `past_key_values.N.key|value` in, `logits` and `present.N.key|value` out. Standard opset-17
 * operators only. GQA, RoPE (linear or llama3 scaling), RMSNorm, SwiGLU, tied or untied output
 * embeddings. In float16 graphs the norms and the softmax run in float32, as HF does.
 */
import { DataType } from './onnx-proto.js';
import { attr, GraphBuilder, type BuiltModel, type FloatType } from './onnx-graph.js';
import { ropeInverseFrequencies, type LlamaConfig } from './model-config.js';
import { readChecked, type WeightSource } from './weights.js';

export interface LlamaGraphOptions {
  readonly floatType: FloatType;
}

export function buildLlamaGraph(config: LlamaConfig, weights: WeightSource, options: LlamaGraphOptions): BuiltModel {
  const g = new GraphBuilder('llama', options.floatType);
  const float = g.floatDataType;
  const { heads, kvHeads, headDim, hiddenSize } = config;
  const inputIds = g.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const past = Array.from({ length: config.layers }, (_, layer) =>
    (['key', 'value'] as const).map((kind) => g.input(`past_key_values.${layer}.${kind}`, float, ['batch_size', kvHeads, 'past_sequence_length', headDim])),
  );
  g.output('logits', DataType.FLOAT, ['batch_size', 'sequence_length', config.vocabSize]);
  for (let layer = 0; layer < config.layers; layer++) {
    for (const kind of ['key', 'value']) g.output(`present.${layer}.${kind}`, float, ['batch_size', kvHeads, 'total_sequence_length', headDim]);
  }

  const ints = (values: number[]): string => g.ints(values);
  const toFloat32 = (x: string): string => (options.floatType === 'float32' ? x : g.op('Cast', [x], { to: attr.int(DataType.FLOAT) }));
  const fromFloat32 = (x: string): string => (options.floatType === 'float32' ? x : g.op('Cast', [x], { to: attr.int(float) }));
  /** x @ W^T for an HF [out, in] weight (ORT folds the transpose into the product). */
  const linear = (x: string, name: string, out: number, inner: number): string =>
    g.op('MatMul', [x, g.op('Transpose', [g.weight(name, [out, inner], readChecked(weights, name, [out, inner]))], { perm: attr.ints([1, 0]) })]);
  const epsilon = g.op('Constant', [], { value_float: attr.float(config.rmsNormEps) });
  const rmsNorm = (x: string, name: string): string => {
    const x32 = toFloat32(x);
    const meanSquare = g.op('ReduceMean', [g.op('Mul', [x32, x32])], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const normed = fromFloat32(g.op('Div', [x32, g.op('Sqrt', [g.op('Add', [meanSquare, epsilon])])]));
    return g.op('Mul', [normed, g.weight(name, [hiddenSize], readChecked(weights, name, [hiddenSize]))]);
  };

  // RoPE tables by position: cos/sin of position * inverse frequency, each half repeated (rotate-half layout)
  const frequencies = ropeInverseFrequencies(config);
  const positionScale = config.ropeScaling?.type === 'linear' ? 1 / config.ropeScaling.factor : 1;
  const half = headDim / 2;
  const cosTable = new Float32Array(config.maxPositions * headDim);
  const sinTable = new Float32Array(config.maxPositions * headDim);
  for (let position = 0; position < config.maxPositions; position++) {
    for (let index = 0; index < half; index++) {
      const angle = position * positionScale * (frequencies[index] as number);
      cosTable[position * headDim + index] = cosTable[position * headDim + index + half] = Math.cos(angle);
      sinTable[position * headDim + index] = sinTable[position * headDim + index + half] = Math.sin(angle);
    }
  }
  const ropeRows = (table: Float32Array, name: string): string =>
    g.op('Unsqueeze', [g.op('Gather', [g.weight(name, [config.maxPositions, headDim], table), positionIds], { axis: attr.int(0) }), ints([1])]);
  const cos = ropeRows(cosTable, 'rope.cos');
  const sin = ropeRows(sinTable, 'rope.sin');
  const rotate = (x: string): string => {
    const first = g.op('Slice', [x, ints([0]), ints([half]), ints([3])]);
    const second = g.op('Slice', [x, ints([half]), ints([headDim]), ints([3])]);
    const rotated = g.op('Concat', [g.op('Neg', [second]), first], { axis: attr.int(3) });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
  };

  // additive attention bias [batch, 1, seq, total]: causal over the whole sequence, and padding
  const total = g.op('Gather', [g.op('Shape', [attentionMask]), g.ints([1], [])], { axis: attr.int(0) });
  const sequence = g.op('Gather', [g.op('Shape', [inputIds]), g.ints([1], [])], { axis: attr.int(0) });
  const queryPositions = g.op('Range', [g.op('Sub', [total, sequence]), total, g.ints([1], [])]);
  const keyPositions = g.op('Range', [g.ints([0], []), total, g.ints([1], [])]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [keyPositions, ints([0])]), g.op('Unsqueeze', [queryPositions, ints([1])])]);
  const notPadding = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: attr.int(DataType.BOOL) }), ints([1, 2])]);
  const zero = g.op('Constant', [], { value_float: attr.float(0) });
  const masked = g.op('Constant', [], { value_float: attr.float(-1e9) });
  const bias = g.op('Where', [g.op('And', [causal, notPadding]), zero, masked]);

  const splitHeads = (x: string, count: number): string => g.op('Transpose', [g.op('Reshape', [x, ints([0, 0, count, headDim])])], { perm: attr.ints([0, 2, 1, 3]) });
  const groups = heads / kvHeads;
  const shareKv = (x: string): string =>
    groups === 1 ? x : g.op('Reshape', [g.op('Expand', [g.op('Unsqueeze', [x, ints([2])]), ints([1, 1, groups, 1, 1])]), ints([0, heads, -1, headDim])]);
  const scale = g.floats([1 / Math.sqrt(headDim)], []);

  let hidden = g.op('Gather', [g.weight('model.embed_tokens.weight', [config.vocabSize, hiddenSize], readChecked(weights, 'model.embed_tokens.weight', [config.vocabSize, hiddenSize])), inputIds], { axis: attr.int(0) });
  for (let layer = 0; layer < config.layers; layer++) {
    const prefix = `model.layers.${layer}.`;
    const [pastKey, pastValue] = past[layer] as [string, string];
    const normed = rmsNorm(hidden, `${prefix}input_layernorm.weight`);
    const query = rotate(splitHeads(linear(normed, `${prefix}self_attn.q_proj.weight`, heads * headDim, hiddenSize), heads));
    const key = rotate(splitHeads(linear(normed, `${prefix}self_attn.k_proj.weight`, kvHeads * headDim, hiddenSize), kvHeads));
    const value = splitHeads(linear(normed, `${prefix}self_attn.v_proj.weight`, kvHeads * headDim, hiddenSize), kvHeads);
    const presentKey = g.op('Concat', [pastKey, key], { axis: attr.int(2) }, { names: [`present.${layer}.key`] });
    const presentValue = g.op('Concat', [pastValue, value], { axis: attr.int(2) }, { names: [`present.${layer}.value`] });
    const keysT = g.op('Transpose', [shareKv(presentKey)], { perm: attr.ints([0, 1, 3, 2]) });
    const scores = g.op('Add', [toFloat32(g.op('Mul', [g.op('MatMul', [query, keysT]), scale])), bias]);
    const probabilities = fromFloat32(g.op('Softmax', [scores], { axis: attr.int(-1) }));
    const context = g.op('MatMul', [probabilities, shareKv(presentValue)]);
    const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: attr.ints([0, 2, 1, 3]) }), ints([0, 0, heads * headDim])]);
    hidden = g.op('Add', [hidden, linear(merged, `${prefix}self_attn.o_proj.weight`, hiddenSize, heads * headDim)]);
    const normed2 = rmsNorm(hidden, `${prefix}post_attention_layernorm.weight`);
    const gate = linear(normed2, `${prefix}mlp.gate_proj.weight`, config.intermediateSize, hiddenSize);
    const up = linear(normed2, `${prefix}mlp.up_proj.weight`, config.intermediateSize, hiddenSize);
    const activated = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    hidden = g.op('Add', [hidden, linear(activated, `${prefix}mlp.down_proj.weight`, hiddenSize, config.intermediateSize)]);
  }
  const final = rmsNorm(hidden, 'model.norm.weight');
  const headName = config.tieWordEmbeddings || !weights.has('lm_head.weight') ? 'model.embed_tokens.weight' : 'lm_head.weight';
  // a tied head reuses the embedding initializer rather than a second copy
  const headWeight = headName === 'lm_head.weight' ? g.weight(headName, [config.vocabSize, hiddenSize], readChecked(weights, headName, [config.vocabSize, hiddenSize])) : 'model.embed_tokens.weight';
  const logits = g.op('MatMul', [final, g.op('Transpose', [headWeight], { perm: attr.ints([1, 0]) })]);
  if (options.floatType === 'float32') g.op('Identity', [logits], {}, { names: ['logits'] });
  else g.op('Cast', [logits], { to: attr.int(DataType.FLOAT) }, { names: ['logits'] });
  return g.build({ '': 17 });
}

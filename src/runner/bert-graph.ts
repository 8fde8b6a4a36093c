/**
 * The ONNX graph of a BERT encoder (Hugging Face `BertModel`: absolute positions, token types,
 * post-LayerNorm layers, exact GELU) followed by the sentence-transformers head: mean or CLS
 * pooling over the attention mask, then L2 normalisation when the model asks for it.
 * In: `input_ids`, `attention_mask`, `token_type_ids`; out: `last_hidden_state`,
 * `sentence_embedding`.
 */
import { DataType } from './onnx-proto.js';
import { attr, GraphBuilder, type BuiltModel, type FloatType } from './onnx-graph.js';
import type { BertConfig } from './model-config.js';
import { readChecked, type WeightSource } from './weights.js';

export interface SentenceHead {
  readonly pooling: 'mean' | 'cls';
  readonly normalize: boolean;
}

export function buildBertGraph(config: BertConfig, weights: WeightSource, head: SentenceHead, floatType: FloatType = 'float32'): BuiltModel {
  const g = new GraphBuilder('bert', floatType);
  const { hiddenSize, heads } = config;
  const headDim = hiddenSize / heads;
  // BertForMaskedLM and friends keep the encoder under "bert."
  const prefix = weights.has('bert.embeddings.word_embeddings.weight') ? 'bert.' : '';
  const weight = (name: string, dims: number[]): string => g.weight(prefix + name, dims, readChecked(weights, prefix + name, dims));
  const inputIds = g.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', DataType.INT64, ['batch_size', 'sequence_length']);
  const tokenTypeIds = g.input('token_type_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  g.output('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', hiddenSize]);
  g.output('sentence_embedding', DataType.FLOAT, ['batch_size', hiddenSize]);
  const ints = (values: number[]): string => g.ints(values);
  const linear = (x: string, name: string, out: number, inner: number): string =>
    g.op('Add', [g.op('MatMul', [x, g.op('Transpose', [weight(`${name}.weight`, [out, inner])], { perm: attr.ints([1, 0]) })]), weight(`${name}.bias`, [out])]);
  const layerNorm = (x: string, name: string): string =>
    g.op('LayerNormalization', [x, weight(`${name}.weight`, [hiddenSize]), weight(`${name}.bias`, [hiddenSize])], { axis: attr.int(-1), epsilon: attr.float(config.layerNormEps) });

  const sequence = g.op('Gather', [g.op('Shape', [inputIds]), g.ints([1], [])], { axis: attr.int(0) });
  const positions = g.op('Unsqueeze', [g.op('Range', [g.ints([0], []), sequence, g.ints([1], [])]), ints([0])]);
  const embedded = g.op('Add', [
    g.op('Add', [
      g.op('Gather', [weight('embeddings.word_embeddings.weight', [config.vocabSize, hiddenSize]), inputIds], { axis: attr.int(0) }),
      g.op('Gather', [weight('embeddings.position_embeddings.weight', [config.maxPositions, hiddenSize]), positions], { axis: attr.int(0) }),
    ]),
    g.op('Gather', [weight('embeddings.token_type_embeddings.weight', [config.typeVocabSize, hiddenSize]), tokenTypeIds], { axis: attr.int(0) }),
  ]);
  let hidden = layerNorm(embedded, 'embeddings.LayerNorm');

  // padding bias [batch, 1, 1, seq]: HF adds the dtype's minimum where the mask is 0
  const maskFloat = g.op('Cast', [attentionMask], { to: attr.int(g.floatDataType) });
  const one = g.floats([1], []);
  const bias = g.op('Mul', [g.op('Unsqueeze', [g.op('Sub', [one, maskFloat]), ints([1, 2])]), g.floats([floatType === 'float16' ? -65504 : -3.4028234663852886e38], [])]);
  const splitHeads = (x: string): string => g.op('Transpose', [g.op('Reshape', [x, ints([0, 0, heads, headDim])])], { perm: attr.ints([0, 2, 1, 3]) });
  const scale = g.floats([1 / Math.sqrt(headDim)], []);
  const half = g.floats([0.5], []);
  const rootHalf = g.floats([Math.SQRT1_2], []);
  for (let layer = 0; layer < config.layers; layer++) {
    const name = `encoder.layer.${layer}`;
    const query = splitHeads(linear(hidden, `${name}.attention.self.query`, hiddenSize, hiddenSize));
    const key = splitHeads(linear(hidden, `${name}.attention.self.key`, hiddenSize, hiddenSize));
    const value = splitHeads(linear(hidden, `${name}.attention.self.value`, hiddenSize, hiddenSize));
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [query, g.op('Transpose', [key], { perm: attr.ints([0, 1, 3, 2]) })]), scale]), bias]);
    const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: attr.int(-1) }), value]);
    const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: attr.ints([0, 2, 1, 3]) }), ints([0, 0, hiddenSize])]);
    hidden = layerNorm(g.op('Add', [linear(merged, `${name}.attention.output.dense`, hiddenSize, hiddenSize), hidden]), `${name}.attention.output.LayerNorm`);
    const intermediate = linear(hidden, `${name}.intermediate.dense`, config.intermediateSize, hiddenSize);
    const gelu = g.op('Mul', [g.op('Mul', [intermediate, half]), g.op('Add', [one, g.op('Erf', [g.op('Mul', [intermediate, rootHalf])])])]);
    hidden = layerNorm(g.op('Add', [linear(gelu, `${name}.output.dense`, hiddenSize, config.intermediateSize), hidden]), `${name}.output.LayerNorm`);
  }
  const hidden32 = floatType === 'float32' ? hidden : g.op('Cast', [hidden], { to: attr.int(DataType.FLOAT) });
  g.op('Identity', [hidden32], {}, { names: ['last_hidden_state'] });

  let pooled: string;
  if (head.pooling === 'cls') {
    pooled = g.op('Squeeze', [g.op('Slice', [hidden32, ints([0]), ints([1]), ints([1])]), ints([1])]);
  } else {
    const mask = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: attr.int(DataType.FLOAT) }), ints([2])]);
    const summed = g.op('ReduceSum', [g.op('Mul', [hidden32, mask]), ints([1])], { keepdims: attr.int(0) });
    const counts = g.op('Max', [g.op('ReduceSum', [mask, ints([1])], { keepdims: attr.int(0) }), g.op('Constant', [], { value_float: attr.float(1e-9) })]);
    pooled = g.op('Div', [summed, counts]);
  }
  if (head.normalize) {
    const norm = g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [pooled, pooled]), ints([-1])], { keepdims: attr.int(1) })]);
    g.op('Div', [pooled, g.op('Max', [norm, g.op('Constant', [], { value_float: attr.float(1e-12) })])], {}, { names: ['sentence_embedding'] });
  } else {
    g.op('Identity', [pooled], {}, { names: ['sentence_embedding'] });
  }
  return g.build({ '': 17 });
}

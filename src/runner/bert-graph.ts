/**
 * The ONNX graph of a BERT encoder (Hugging Face `BertModel`: absolute positions, token types,
 * post-LayerNorm layers, exact GELU) followed by the sentence-transformers head: mean or CLS
 * pooling over the attention mask, then L2 normalisation when the model asks for it.
 * In: `input_ids`, `attention_mask`, `token_type_ids`; out: `last_hidden_state`,
 * `sentence_embedding`.
 *
 * Two graphs with that contract: `buildBertGraph` on standard ONNX operators (the reference, and
 * the float16 graph), and `buildFusedBertGraph` on onnxruntime's com.microsoft BERT operators,
 * which SentenceEncoder runs by default. ORT's own fusions do not find these patterns here. ORT
 * 1.29 CPU profile, all-MiniLM-L6-v2, 32 texts of 22 tokens, 2 threads: standard 81 ms a batch
 * (MatMul 52, LayerNormalization 11, Add 5.4, Mul 3.6, Transpose 3.3, Erf 2.9); fused 63 ms
 * (MatMul 36, Attention with its Q/K/V product 18, BiasGelu 5, SkipLayerNormalization 2).
 */
import { DataType } from './onnx-proto.js';
import { attr, GraphBuilder, type BuiltModel, type FloatType } from './onnx-graph.js';
import type { BertConfig } from './model-config.js';
import { addWeight, readChecked, type WeightSource } from './weights.js';

export interface SentenceHead {
  readonly pooling: 'mean' | 'cls';
  readonly normalize: boolean;
}

export function buildBertGraph(config: BertConfig, weights: WeightSource, head: SentenceHead, floatType: FloatType = 'float32'): BuiltModel {
  const g = new GraphBuilder('bert', floatType);
  const { hiddenSize, heads } = config;
  const headDim = hiddenSize / heads;
  const io = declareBertIo(g, config, weights, false);
  const { weight, attentionMask } = io;
  const ints = (values: number[]): string => g.ints(values);
  const linear = (x: string, name: string, out: number, inner: number): string =>
    g.op('Add', [g.op('MatMul', [x, g.op('Transpose', [weight(`${name}.weight`, [out, inner])], { perm: attr.ints([1, 0]) })]), weight(`${name}.bias`, [out])]);
  const layerNorm = (x: string, name: string): string =>
    g.op('LayerNormalization', [x, weight(`${name}.weight`, [hiddenSize]), weight(`${name}.bias`, [hiddenSize])], { axis: attr.int(-1), epsilon: attr.float(config.layerNormEps) });
  let hidden = io.embedded;

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
  return finishBert(g, hidden, attentionMask, head);
}

/**
 * The same graph on onnxruntime's fused com.microsoft operators (float32 only): Attention on the
 * packed Q/K/V weights with the padding mask as mask_index (masked scores get -10000 rather than
 * the float minimum: both vanish in the softmax), SkipLayerNormalization for bias + residual +
 * LayerNorm, and BiasGelu, which is the exact erf GELU (not FastGelu's tanh approximation).
 */
export function buildFusedBertGraph(config: BertConfig, weights: WeightSource, head: SentenceHead): BuiltModel {
  const g = new GraphBuilder('bert', 'float32');
  const { hiddenSize, heads, intermediateSize } = config;
  const io = declareBertIo(g, config, weights, true);
  const { weight, read } = io;
  const ms = { domain: 'com.microsoft' } as const;
  const epsilon = attr.float(config.layerNormEps);
  /** x @ W^T for an HF [out, in] weight, transposed here rather than by a graph node. */
  const matMul = (x: string, name: string, out: number, inner: number): string =>
    g.op('MatMul', [x, g.weight(`${io.prefix}${name}.weight.T`, [inner, out], transpose(read(`${name}.weight`, [out, inner]), out, inner))]);
  /** LayerNorm(x @ dense^T + dense bias + residual), for `${block}.dense` and `${block}.LayerNorm` */
  const addAndNorm = (x: string, residual: string, block: string, inner: number): string =>
    g.op('SkipLayerNormalization', [matMul(x, `${block}.dense`, hiddenSize, inner), residual, weight(`${block}.LayerNorm.weight`, [hiddenSize]), weight(`${block}.LayerNorm.bias`, [hiddenSize]), weight(`${block}.dense.bias`, [hiddenSize])], { epsilon }, ms);

  let hidden = io.embedded;
  const maskIndex = g.op('Cast', [io.attentionMask], { to: attr.int(DataType.INT32) });
  for (let layer = 0; layer < config.layers; layer++) {
    const name = `encoder.layer.${layer}`;
    const parts = ['query', 'key', 'value'].map((part) => `${name}.attention.self.${part}`);
    const packed = new Float32Array(hiddenSize * 3 * hiddenSize); // [in, 3 * out]: q | k | v columns
    const packedBias = new Float32Array(3 * hiddenSize);
    parts.forEach((part, index) => {
      const w = read(`${part}.weight`, [hiddenSize, hiddenSize]);
      for (let row = 0; row < hiddenSize; row++) for (let column = 0; column < hiddenSize; column++) packed[column * 3 * hiddenSize + index * hiddenSize + row] = w[row * hiddenSize + column] as number;
      packedBias.set(read(`${part}.bias`, [hiddenSize]), index * hiddenSize);
    });
    const context = g.op('Attention', [hidden, g.weight(`${io.prefix}${name}.attention.self.qkv.weight`, [hiddenSize, 3 * hiddenSize], packed), g.weight(`${io.prefix}${name}.attention.self.qkv.bias`, [3 * hiddenSize], packedBias), maskIndex], { num_heads: attr.int(heads) }, ms);
    hidden = addAndNorm(context, hidden, `${name}.attention.output`, hiddenSize);
    const gelu = g.op('BiasGelu', [matMul(hidden, `${name}.intermediate.dense`, intermediateSize, hiddenSize), weight(`${name}.intermediate.dense.bias`, [intermediateSize])], {}, ms);
    hidden = addAndNorm(gelu, hidden, `${name}.output`, intermediateSize);
  }
  return finishBert(g, hidden, io.attentionMask, head, { '': 17, 'com.microsoft': 1 });
}

function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < rows; row++) for (let column = 0; column < columns; column++) out[column * rows + row] = values[row * columns + column] as number;
  return out;
}

interface BertIo {
  readonly attentionMask: string;
  /** LayerNorm(word + position + token type embeddings), [batch, seq, hidden] */
  readonly embedded: string;
  /** `bert.` for checkpoints that keep the encoder under it (BertForMaskedLM and friends), else '' */
  readonly prefix: string;
  /** an initializer for a checkpoint weight, by its name without the prefix */
  readonly weight: (name: string, dims: number[]) => string;
  /** a checkpoint weight's values, by its name without the prefix */
  readonly read: (name: string, dims: number[]) => Float32Array;
}

/** The inputs and outputs, and the embedding layer (its LayerNorm on SkipLayerNormalization in the fused graph). */
function declareBertIo(g: GraphBuilder, config: BertConfig, weights: WeightSource, fused: boolean): BertIo {
  const { hiddenSize } = config;
  const prefix = weights.has('bert.embeddings.word_embeddings.weight') ? 'bert.' : '';
  const read = (name: string, dims: number[]): Float32Array => readChecked(weights, prefix + name, dims);
  const weight = (name: string, dims: number[]): string => addWeight(g, weights, prefix + name, dims);
  const inputIds = g.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', DataType.INT64, ['batch_size', 'sequence_length']);
  const tokenTypeIds = g.input('token_type_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  g.output('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', hiddenSize]);
  g.output('sentence_embedding', DataType.FLOAT, ['batch_size', hiddenSize]);
  const sequence = g.op('Gather', [g.op('Shape', [inputIds]), g.ints([1], [])], { axis: attr.int(0) });
  const positions = g.op('Unsqueeze', [g.op('Range', [g.ints([0], []), sequence, g.ints([1], [])]), g.ints([0])]);
  const words = g.op('Add', [
    g.op('Gather', [weight('embeddings.word_embeddings.weight', [config.vocabSize, hiddenSize]), inputIds], { axis: attr.int(0) }),
    g.op('Gather', [weight('embeddings.position_embeddings.weight', [config.maxPositions, hiddenSize]), positions], { axis: attr.int(0) }),
  ]);
  const tokenTypes = g.op('Gather', [weight('embeddings.token_type_embeddings.weight', [config.typeVocabSize, hiddenSize]), tokenTypeIds], { axis: attr.int(0) });
  const norm = [weight('embeddings.LayerNorm.weight', [hiddenSize]), weight('embeddings.LayerNorm.bias', [hiddenSize])];
  const epsilon = attr.float(config.layerNormEps);
  const embedded = fused
    ? g.op('SkipLayerNormalization', [words, tokenTypes, ...norm], { epsilon }, { domain: 'com.microsoft' })
    : g.op('LayerNormalization', [g.op('Add', [words, tokenTypes]), ...norm], { axis: attr.int(-1), epsilon });
  return { attentionMask, embedded, prefix, weight, read };
}

/** last_hidden_state, then the sentence-transformers head: mean or CLS pooling, L2 normalisation if asked. */
function finishBert(g: GraphBuilder, hidden: string, attentionMask: string, head: SentenceHead, opsets: Readonly<Record<string, number>> = { '': 17 }): BuiltModel {
  const ints = (values: number[]): string => g.ints(values);
  const hidden32 = g.floatDataType === DataType.FLOAT ? hidden : g.op('Cast', [hidden], { to: attr.int(DataType.FLOAT) });
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
  return g.build(opsets);
}

/**
 * A plain float64 BertModel forward pass with mean pooling and L2 normalisation, as
 * sentence-transformers computes an embedding, to test the model runner against. One unpadded
 * sequence (the attention mask is all ones).
 *
 *   x = LayerNorm(word[id] + position[t] + token_type[type])
 *   per layer (post-LN):  x = LayerNorm(x + dense(self_attention(x)))
 *                         x = LayerNorm(x + dense(gelu(dense(x))))
 *   embedding = normalise(mean over tokens of x)
 */

export interface BertReferenceConfig {
  readonly hidden_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly intermediate_size: number;
  readonly layer_norm_eps: number;
  readonly vocab_size?: number;
  readonly max_position_embeddings?: number;
  readonly type_vocab_size?: number;
  readonly hidden_act?: string;
}

type Weights = ReadonlyMap<string, Float32Array>;

/**
 * erf(x) to about 1e-15: 2/sqrt(pi) * exp(-x²) * sum 2^n x^(2n+1) / (1*3*...*(2n+1)), a series
 * of positive terms (no cancellation); |erf| rounds to 1 beyond 6 (erfc(6) < 3e-17).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; n < 1000 && term > sum * 1e-17; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/** GELU in its exact form, as torch's nn.functional.gelu and HF's 'gelu'. */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** A weight by its BertModel name, also found under the `bert.` prefix; `size` checked when given. */
function tensor(weights: Weights, name: string, size?: number): Float32Array {
  const values = weights.get(name) ?? weights.get(`bert.${name}`);
  if (values === undefined) throw new Error(`missing weight ${name}`);
  if (size !== undefined && values.length !== size) throw new Error(`${name} has ${values.length} values, expected ${size}`);
  return values;
}

/** y = W x + b for an HF [out, in] weight. */
function dense(weights: Weights, name: string, x: Float64Array, out: number): Float64Array {
  const inputs = x.length;
  const weight = tensor(weights, `${name}.weight`, out * inputs);
  const bias = tensor(weights, `${name}.bias`, out);
  const y = new Float64Array(out);
  for (let row = 0; row < out; row++) {
    let sum = bias[row]!;
    for (let column = 0; column < inputs; column++) sum += weight[row * inputs + column]! * x[column]!;
    y[row] = sum;
  }
  return y;
}

/** (x - mean) / sqrt(variance + eps) * w + b, with the biased variance. */
function layerNorm(weights: Weights, name: string, x: Float64Array, eps: number): Float64Array {
  const weight = tensor(weights, `${name}.weight`, x.length);
  const bias = tensor(weights, `${name}.bias`, x.length);
  const mean = x.reduce((sum, value) => sum + value, 0) / x.length;
  const variance = x.reduce((sum, value) => sum + (value - mean) ** 2, 0) / x.length;
  const scale = 1 / Math.sqrt(variance + eps);
  return x.map((value, index) => (value - mean) * scale * weight[index]! + bias[index]!);
}

/** last_hidden_state of BertModel: one row of hidden_size per token. */
export function bertReferenceHidden(
  weights: Weights,
  config: BertReferenceConfig,
  ids: readonly number[],
  tokenTypeIds: readonly number[] = ids.map(() => 0),
): Float64Array[] {
  const hidden = config.hidden_size;
  const heads = config.num_attention_heads;
  const headDim = hidden / heads;
  const eps = config.layer_norm_eps;
  const act = config.hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new Error(`the reference models hidden_act 'gelu' only, not ${act}`);
  if (tokenTypeIds.length !== ids.length) throw new Error('one token type per token');
  const vocab = config.vocab_size ?? tensor(weights, 'embeddings.word_embeddings.weight').length / hidden;
  const maxPositions = config.max_position_embeddings ?? 512;
  const typeVocab = config.type_vocab_size ?? 2;
  if (ids.length > maxPositions) throw new Error(`${ids.length} tokens exceed ${maxPositions} positions`);

  const words = tensor(weights, 'embeddings.word_embeddings.weight', vocab * hidden);
  const positions = tensor(weights, 'embeddings.position_embeddings.weight', maxPositions * hidden);
  const types = tensor(weights, 'embeddings.token_type_embeddings.weight', typeVocab * hidden);
  let states = ids.map((id, t) => {
    const type = tokenTypeIds[t]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`token ${id} outside the vocabulary`);
    if (!Number.isInteger(type) || type < 0 || type >= typeVocab) throw new Error(`token type ${type} outside 0..${typeVocab - 1}`);
    const sum = Float64Array.from(
      { length: hidden },
      (_, d) => words[id * hidden + d]! + positions[t * hidden + d]! + types[type * hidden + d]!,
    );
    return layerNorm(weights, 'embeddings.LayerNorm', sum, eps);
  });

  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const prefix = `encoder.layer.${layer}.`;
    const queries = states.map((x) => dense(weights, `${prefix}attention.self.query`, x, hidden));
    const keys = states.map((x) => dense(weights, `${prefix}attention.self.key`, x, hidden));
    const values = states.map((x) => dense(weights, `${prefix}attention.self.value`, x, hidden));
    states = states.map((x, t) => {
      const context = new Float64Array(hidden);
      for (let head = 0; head < heads; head++) {
        const offset = head * headDim;
        const scores = keys.map((key) => {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += queries[t]![offset + d]! * key[offset + d]!;
          return dot / Math.sqrt(headDim);
        });
        const max = Math.max(...scores);
        const exps = scores.map((score) => Math.exp(score - max));
        const total = exps.reduce((sum, value) => sum + value, 0);
        values.forEach((value, j) => {
          for (let d = 0; d < headDim; d++) context[offset + d]! += (exps[j]! / total) * value[offset + d]!;
        });
      }
      const attention = dense(weights, `${prefix}attention.output.dense`, context, hidden).map((value, d) => value + x[d]!);
      const afterAttention = layerNorm(weights, `${prefix}attention.output.LayerNorm`, attention, eps);
      const inner = dense(weights, `${prefix}intermediate.dense`, afterAttention, config.intermediate_size).map(gelu);
      const output = dense(weights, `${prefix}output.dense`, inner, hidden).map((value, d) => value + afterAttention[d]!);
      return layerNorm(weights, `${prefix}output.LayerNorm`, output, eps);
    });
  }
  return states;
}

/** The sentence-transformers embedding: mean of the last hidden states, L2-normalised. */
export function bertReferenceEmbedding(
  weights: Weights,
  config: BertReferenceConfig,
  ids: readonly number[],
  tokenTypeIds?: readonly number[],
): Float64Array {
  const states = bertReferenceHidden(weights, config, ids, tokenTypeIds);
  const mean = new Float64Array(config.hidden_size);
  for (const state of states) state.forEach((value, d) => (mean[d]! += value / states.length));
  const norm = Math.sqrt(mean.reduce((sum, value) => sum + value * value, 0));
  return mean.map((value) => value / Math.max(norm, 1e-12));
}

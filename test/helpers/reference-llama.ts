/**
 * A plain float64 LLaMA forward pass with Hugging Face LlamaForCausalLM's semantics, to test the
 * model runner against: one unpadded sequence, no cache, every position's logits.
 *
 *   x = embed[token]
 *   per layer:  x += o_proj(attention(rope(q_proj(rms(x))), rope(k_proj(rms(x))), v_proj(rms(x))))
 *               x += down_proj(silu(gate_proj(rms(x))) * up_proj(rms(x)))
 *   logits = lm_head(rms(x))          (lm_head = embed_tokens when the embeddings are tied)
 */

export interface LlamaReferenceConfig {
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  /** Grouped-query attention; equal to num_attention_heads when left out. */
  readonly num_key_value_heads?: number;
  readonly head_dim?: number;
  readonly rms_norm_eps: number;
  readonly rope_theta?: number;
  /** Only linear scaling (`{type|rope_type: 'linear', factor}`) is modelled. */
  readonly rope_scaling?: { readonly type?: string; readonly rope_type?: string; readonly factor?: number } | null;
  readonly tie_word_embeddings?: boolean;
}

type Weights = ReadonlyMap<string, Float32Array>;

function tensor(weights: Weights, name: string, size: number): Float32Array {
  const values = weights.get(name);
  if (values === undefined) throw new Error(`missing weight ${name}`);
  if (values.length !== size) throw new Error(`${name} has ${values.length} values, expected ${size}`);
  return values;
}

/** y = W x for an HF [out, in] weight stored row-major. */
function linear(weight: Float32Array, x: Float64Array, out: number): Float64Array {
  const inputs = x.length;
  const y = new Float64Array(out);
  for (let row = 0; row < out; row++) {
    let sum = 0;
    for (let column = 0; column < inputs; column++) sum += weight[row * inputs + column]! * x[column]!;
    y[row] = sum;
  }
  return y;
}

/** x / sqrt(mean(x²) + eps) * w */
function rmsNorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let squares = 0;
  for (const value of x) squares += value * value;
  const scale = 1 / Math.sqrt(squares / x.length + eps);
  return x.map((value, index) => value * scale * weight[index]!);
}

/** Rotate-half RoPE on one head: pairs (i, i + d/2) turned by angle position * theta^(-2i/d). */
function rope(head: Float64Array, position: number, theta: number): Float64Array {
  const half = head.length / 2;
  const out = new Float64Array(head.length);
  for (let index = 0; index < half; index++) {
    const angle = position / Math.pow(theta, (2 * index) / head.length);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const first = head[index]!;
    const second = head[index + half]!;
    out[index] = first * cos - second * sin;
    out[index + half] = second * cos + first * sin;
  }
  return out;
}

function ropeFactor(config: LlamaReferenceConfig): number {
  const scaling = config.rope_scaling;
  if (scaling === undefined || scaling === null) return 1;
  const kind = scaling.rope_type ?? scaling.type;
  if (kind === 'default') return 1;
  if (kind !== 'linear') throw new Error(`the reference models linear RoPE scaling only, not ${String(kind)}`);
  return scaling.factor ?? 1;
}

/**
 * Logits (float64, one row of vocab_size per token) of LlamaForCausalLM on one sequence.
 * `positions` are the RoPE positions (default 0..n-1); the causal mask follows the token order.
 */
export function llamaReferenceLogits(
  weights: Weights,
  config: LlamaReferenceConfig,
  tokens: readonly number[],
  positions: readonly number[] = tokens.map((_, index) => index),
): Float64Array[] {
  const hidden = config.hidden_size;
  const heads = config.num_attention_heads;
  const kvHeads = config.num_key_value_heads ?? heads;
  const headDim = config.head_dim ?? hidden / heads;
  const intermediate = config.intermediate_size;
  const vocab = config.vocab_size;
  const eps = config.rms_norm_eps;
  const theta = config.rope_theta ?? 10000;
  const factor = ropeFactor(config);
  const groupSize = heads / kvHeads;
  if (!Number.isInteger(groupSize)) throw new Error(`${heads} heads cannot share ${kvHeads} key/value heads`);
  if (positions.length !== tokens.length) throw new Error('one position per token');

  const embed = tensor(weights, 'model.embed_tokens.weight', vocab * hidden);
  let states = tokens.map((token) => {
    if (!Number.isInteger(token) || token < 0 || token >= vocab) throw new Error(`token ${token} outside the vocabulary`);
    return Float64Array.from(embed.subarray(token * hidden, (token + 1) * hidden));
  });
  const split = (vector: Float64Array, count: number) =>
    Array.from({ length: count }, (_, head) => vector.slice(head * headDim, (head + 1) * headDim));

  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const prefix = `model.layers.${layer}.`;
    const weight = (name: string, size: number) => tensor(weights, prefix + name, size);
    const inputNorm = weight('input_layernorm.weight', hidden);
    const qProj = weight('self_attn.q_proj.weight', heads * headDim * hidden);
    const kProj = weight('self_attn.k_proj.weight', kvHeads * headDim * hidden);
    const vProj = weight('self_attn.v_proj.weight', kvHeads * headDim * hidden);
    const oProj = weight('self_attn.o_proj.weight', hidden * heads * headDim);
    const postNorm = weight('post_attention_layernorm.weight', hidden);
    const gateProj = weight('mlp.gate_proj.weight', intermediate * hidden);
    const upProj = weight('mlp.up_proj.weight', intermediate * hidden);
    const downProj = weight('mlp.down_proj.weight', hidden * intermediate);

    const normed = states.map((x) => rmsNorm(x, inputNorm, eps));
    const project = (weight: Float32Array, count: number, h: Float64Array) => split(linear(weight, h, count * headDim), count);
    const queries = normed.map((h, t) => project(qProj, heads, h).map((q) => rope(q, positions[t]! / factor, theta)));
    const keys = normed.map((h, t) => project(kProj, kvHeads, h).map((k) => rope(k, positions[t]! / factor, theta)));
    const values = normed.map((h) => project(vProj, kvHeads, h));

    states = states.map((x, t) => {
      const attended = new Float64Array(heads * headDim);
      for (let head = 0; head < heads; head++) {
        const kvHead = Math.floor(head / groupSize);
        const query = queries[t]![head]!;
        const scores: number[] = [];
        for (let j = 0; j <= t; j++) {
          const key = keys[j]![kvHead]!;
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += query[d]! * key[d]!;
          scores.push(dot / Math.sqrt(headDim));
        }
        const max = Math.max(...scores);
        const exps = scores.map((score) => Math.exp(score - max));
        const total = exps.reduce((sum, value) => sum + value, 0);
        for (let j = 0; j <= t; j++) {
          const value = values[j]![kvHead]!;
          for (let d = 0; d < headDim; d++) attended[head * headDim + d]! += (exps[j]! / total) * value[d]!;
        }
      }
      const afterAttention = linear(oProj, attended, hidden).map((value, index) => value + x[index]!);
      const h = rmsNorm(afterAttention, postNorm, eps);
      const gate = linear(gateProj, h, intermediate);
      const up = linear(upProj, h, intermediate);
      const activated = gate.map((g, index) => (g / (1 + Math.exp(-g))) * up[index]!);
      return linear(downProj, activated, hidden).map((value, index) => value + afterAttention[index]!);
    });
  }

  const finalNorm = tensor(weights, 'model.norm.weight', hidden);
  const head = config.tie_word_embeddings === true ? embed : tensor(weights, 'lm_head.weight', vocab * hidden);
  return states.map((x) => linear(head, rmsNorm(x, finalNorm, eps), vocab));
}

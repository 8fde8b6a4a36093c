/**
 * Picks the next token from a row of logits: greedy (temperature 0) or sampled with temperature
 * and nucleus (top-p) filtering, from a seeded generator so runs repeat.
 */

export interface SamplingSettings {
  /** 0 picks the most likely token. */
  readonly temperature: number;
  /** Keeps the smallest set of most likely tokens whose probability reaches top-p (1 keeps all). */
  readonly topP: number;
}

/** mulberry32: small, fast, and enough for sampling (not for anything secret). */
export function seededGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let index = 1; index < logits.length; index++) if ((logits[index] as number) > (logits[best] as number)) best = index;
  return best;
}

export function sampleToken(logits: Float32Array, settings: SamplingSettings, random: () => number): number {
  if (settings.temperature <= 0) return argmax(logits);
  const top = logits[argmax(logits)] as number;
  const weights = new Float64Array(logits.length);
  let total = 0;
  for (let index = 0; index < logits.length; index++) {
    const weight = Math.exp(((logits[index] as number) - top) / settings.temperature);
    weights[index] = weight;
    total += weight;
  }
  let candidates: number[];
  if (settings.topP < 1) {
    // most likely first; stop once the kept mass reaches top-p (the token crossing it is kept)
    const order = Array.from(weights.keys()).sort((a, b) => (weights[b] as number) - (weights[a] as number));
    candidates = [];
    let kept = 0;
    for (const index of order) {
      candidates.push(index);
      kept += weights[index] as number;
      if (kept >= settings.topP * total) break;
    }
    total = kept;
  } else {
    candidates = Array.from(weights.keys());
  }
  let draw = random() * total;
  for (const index of candidates) {
    draw -= weights[index] as number;
    if (draw < 0) return index;
  }
  return candidates[candidates.length - 1] as number;
}

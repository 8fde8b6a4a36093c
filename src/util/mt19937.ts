/**
 * NumPy's legacy `RandomState` shuffle, which upstream's retriever preprocessing reaches through
 * scikit-learn's `shuffle(random_state=42)` (preprocess-and-train.md §1 step 4): MT19937 seeded
 * with `init_genrand`, then for i = n-1 … 1 a draw j in [0, i] by masked rejection sampling on
 * 32-bit outputs, and a swap of positions i and j. Byte-identical outputs need this exact generator.
 */
const N = 624;
const M = 397;

export class MT19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    this.state[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const previous = this.state[i - 1] as number;
      this.state[i] = (Math.imul(1812433253, previous ^ (previous >>> 30)) + i) >>> 0;
    }
  }

  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++] as number;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.state;
    for (let i = 0; i < N; i++) {
      const y = ((mt[i] as number) & 0x80000000) | ((mt[(i + 1) % N] as number) & 0x7fffffff);
      mt[i] = ((mt[(i + M) % N] as number) ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)) >>> 0;
    }
    this.index = 0;
  }

  /** A uniform integer in [0, max] (max < 2^32), NumPy legacy `random_interval`. */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0;
    while (value > max);
    return value;
  }
}

/** The order `RandomState(seed).shuffle(arange(n))` leaves: the positions to take items in. */
export function legacyShuffledIndices(length: number, seed: number): number[] {
  const indices = Array.from({ length }, (_, index) => index);
  const generator = new MT19937(seed);
  for (let i = length - 1; i > 0; i--) {
    const j = generator.interval(i);
    [indices[i], indices[j]] = [indices[j] as number, indices[i] as number];
  }
  return indices;
}

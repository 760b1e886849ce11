/**
 * The 32-bit Mersenne Twister exactly as torch's CPU generator runs it (ATen's MT19937RNGEngine.h):
 * seeded with `init_genrand(seed & 0xffffffff)`, standard twist and tempering.
 */

/** Words of state. */
export const MT_STATE_WORDS = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const TWO_POW_MINUS_24 = 2 ** -24;

export class MT19937 {
  /** The 624 state words. */
  readonly state = new Uint32Array(MT_STATE_WORDS);
  /** Words of the current block already handed out; 624 means the next draw twists first. */
  index = MT_STATE_WORDS;

  constructor(seed32 = 5489) {
    this.seed(seed32);
  }

  /** `init_genrand`: only the low 32 bits of `seed32` are used (callers pass `seed & 0xffffffff`). */
  seed(seed32: number): void {
    const s = this.state;
    s[0] = seed32 >>> 0;
    for (let i = 1; i < MT_STATE_WORDS; i++) {
      const prev = s[i - 1];
      s[i] = Math.imul(1812433253, prev ^ (prev >>> 30)) + i;
    }
    this.index = MT_STATE_WORDS;
  }

  /** Next tempered 32-bit word, as an unsigned number in [0, 2^32). */
  nextUint32(): number {
    if (this.index >= MT_STATE_WORDS) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * Writes the next words, as uniform floats (u32 & 0xFFFFFF) · 2^-24, into out[start, end):
   * the same as calling nextUint32 per slot, without the per-call overhead.
   */
  fillUniformFloats(out: Float32Array | Float64Array, start: number, end: number): void {
    const s = this.state;
    let i = start;
    while (i < end) {
      if (this.index >= MT_STATE_WORDS) this.twist();
      const stop = Math.min(end, i + MT_STATE_WORDS - this.index);
      let k = this.index;
      for (; i < stop; i++) {
        let y = s[k++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        out[i] = (y & 0xffffff) * TWO_POW_MINUS_24;
      }
      this.index = k;
    }
  }

  /** Regenerates all 624 words (torch's `next_state`). */
  private twist(): void {
    const s = this.state;
    let i = 0;
    for (; i < MT_STATE_WORDS - M; i++) {
      const y = (s[i] & UPPER_MASK) | (s[i + 1] & LOWER_MASK);
      s[i] = s[i + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; i < MT_STATE_WORDS - 1; i++) {
      const y = (s[i] & UPPER_MASK) | (s[i + 1] & LOWER_MASK);
      s[i] = s[i + M - MT_STATE_WORDS] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    const y = (s[MT_STATE_WORDS - 1] & UPPER_MASK) | (s[0] & LOWER_MASK);
    s[MT_STATE_WORDS - 1] = s[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.index = 0;
  }
}

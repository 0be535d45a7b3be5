// The project's one pseudo-random generator: xoshiro128** (Blackman & Vigna), seeded through
// splitmix32 so that nearby integer seeds give unrelated streams. Everything seeded (data
// generation, splits, sampling) draws from this so a run is reproducible from its seed.

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`random seed must be an integer, got ${seed}`);
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  // Uniform in [0, 2^32).
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  // Uniform in [0, 1) with 32 bits of resolution.
  float(): number {
    return this.uint32() / 4294967296;
  }

  // Uniform integer in [min, max], both inclusive; the range must fit in 32 bits.
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min || max - min >= 4294967296) {
      throw new Error(`invalid integer range [${min}, ${max}]`);
    }
    const span = max - min + 1;
    // Rejection sampling removes the modulo bias of uint32() % span.
    const limit = 4294967296 - (4294967296 % span);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return min + (x % span);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('cannot pick from an empty list');
    return items[this.int(0, items.length - 1)];
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

import { describe, expect, it } from 'vitest';
import { hashString } from '../src/util/hash.ts';
import { Random } from '../src/util/random.ts';

describe('seeded randomness behind generated data and splits', () => {
  it('reproduces the reference xoshiro128** stream (splitmix32-seeded) from a seed', () => {
    const random = new Random(42);
    // Values from the reference C implementation, seeded the same way.
    expect([random.uint32(), random.uint32(), random.uint32()]).toEqual([2837322924, 544945897, 479756282]);
    const a = new Random(7);
    const b = new Random(7);
    for (let i = 0; i < 100; i++) expect(a.float()).toBe(b.float());
    expect(new Random(8).uint32()).not.toBe(new Random(7).uint32());
  });

  it('draws integers over the whole inclusive range, evenly', () => {
    const random = new Random(1);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70000; i++) counts[random.int(-3, 3) + 3]++;
    for (const count of counts) expect(Math.abs(count - 10000)).toBeLessThan(500);
    for (let i = 0; i < 1000; i++) {
      const x = random.float();
      expect(x >= 0 && x < 1).toBe(true);
    }
    expect(() => random.int(2, 1)).toThrow('invalid integer range [2, 1]');
    expect(() => new Random(0.5)).toThrow('random seed must be an integer, got 0.5');
  });

  it('hashes strings stably, differently per seed', () => {
    // Pinned: splits and per-problem seeds depend on these values never changing.
    expect(hashString('')).toBe(2872998923);
    expect(hashString('brown/ca01')).toBe(41286310);
    expect(hashString('brown/ca01', 1)).toBe(2705191495);
  });
});

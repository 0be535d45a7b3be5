// The cpu kernels' exp against Math.exp: relative error below 1e-10 over float32's whole range
// (the table-and-cubic construction's bound is ~4e-11), and the edges of that range exact.

import { describe, expect, test } from 'vitest';
import { exp } from '../src/cpu/exp.ts';
import { Random } from '../src/util/random.ts';

describe('exp', () => {
  test('within 1e-10 of Math.exp from -103 to 88', () => {
    const random = new Random(5);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = -103 + random.float() * 191;
      worst = Math.max(worst, Math.abs(exp(x) - Math.exp(x)) / Math.exp(x));
    }
    for (const x of [0, 1, -1, 1e-9, -1e-9, Math.LN2, 10.5, -87.3, 88.7, -103.9]) {
      worst = Math.max(worst, Math.abs(exp(x) - Math.exp(x)) / Math.exp(x));
    }
    expect(worst).toBeLessThan(1e-10);
    expect(exp(0)).toBe(1);
  });

  test('0 below float32 underflow, Infinity above its overflow, NaN for NaN', () => {
    expect(exp(-104.5)).toBe(0);
    expect(exp(-Infinity)).toBe(0);
    expect(exp(89)).toBe(Infinity);
    expect(exp(Infinity)).toBe(Infinity);
    expect(exp(Number.NaN)).toBeNaN();
  });
});

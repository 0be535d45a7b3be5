// The loss heads and the learning-rate schedule, against values worked out by hand.

import { describe, expect, test } from 'vitest';
import { clippedSurrogate, maskedCrossEntropy } from '../src/model/loss.ts';
import { learningRate } from '../src/model/schedule.ts';

function expectClose(actual: Float32Array, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 6));
}

describe('masked cross-entropy', () => {
  test('means -logp over unmasked tokens only', () => {
    const { loss, dlogp } = maskedCrossEntropy(Float32Array.of(-1, -2, -4, -8), Float32Array.of(1, 0, 1, 1));
    expect(loss).toBeCloseTo((1 + 4 + 8) / 3, 6);
    expectClose(dlogp, [-1 / 3, 0, -1 / 3, -1 / 3]);
  });

  test('an empty mask gives zero loss and gradient', () => {
    const { loss, dlogp } = maskedCrossEntropy(Float32Array.of(-1, -2), Float32Array.of(0, 0));
    expect(loss).toBe(0);
    expectClose(dlogp, [0, 0]);
  });
});

describe('GRPO clipped surrogate', () => {
  // Two sequences of T = 3. Ratios r = exp(logp - oldLogp):
  //   token 0: masked out (prompt)
  //   token 1: r = 1.5, A = +1 -> clipped at 1.2: objective 1.2, no gradient
  //   token 2: r = 0.5, A = +1 -> unclipped (0.5 < 0.8 * 1): objective 0.5, dobj/dlogp = 0.5
  //   token 3: r = 1.0, A = -2 -> objective -2, dobj/dlogp = -2
  //   token 4: r = 0.5, A = -2 -> clipped at 0.8: objective -1.6, no gradient
  //   token 5: masked out (padding)
  const logp = Float32Array.from([0, Math.log(1.5), Math.log(0.5), -1, Math.log(0.5) - 1, 0]);
  const oldLogp = Float32Array.of(0, 0, 0, -1, -1, 0);
  const advantages = Float32Array.of(1, 1, 1, -2, -2, -2);
  const mask = Float32Array.of(0, 1, 1, 1, 1, 0);
  const objectives = [1.2, 0.5, -2, -1.6];

  test('token mean: every response token weighs 1/4', () => {
    const result = clippedSurrogate({ logp, oldLogp, advantages, mask, T: 3 });
    expect(result.loss).toBeCloseTo(-objectives.reduce((a, b) => a + b) / 4, 6);
    expectClose(result.dlogp, [0, 0, -0.5 / 4, 2 / 4, 0, 0]);
    expect(result.clipFraction).toBe(0.5);
    const kl = (r: number): number => r - 1 - Math.log(r);
    expect(result.approxKl).toBeCloseTo((kl(1.5) + kl(0.5) + kl(1) + kl(0.5)) / 4, 6);
  });

  test('sequence mean: each sequence weighs 1/2, spread over its own response tokens', () => {
    const result = clippedSurrogate({ logp, oldLogp, advantages, mask, T: 3, aggregation: 'seq_mean' });
    // Sequence 0 has tokens 1, 2 (weight 1/4 each); sequence 1 has tokens 3, 4 (1/4 each).
    expect(result.loss).toBeCloseTo(-(0.5 * (1.2 + 0.5) / 2 + 0.5 * (-2 - 1.6) / 2), 6);
    expectClose(result.dlogp, [0, 0, -0.5 / 4, 2 / 4, 0, 0]);
  });

  test('sequence mean weighs a one-token response as much as a longer one', () => {
    const result = clippedSurrogate({
      logp: new Float32Array(6), oldLogp: new Float32Array(6), advantages: new Float32Array(6).fill(1),
      mask: Float32Array.of(1, 0, 0, 1, 1, 1), T: 3, aggregation: 'seq_mean',
    });
    expect(result.dlogp[0]).toBeCloseTo(-1 / 2, 6);
    expect(result.dlogp[3]).toBeCloseTo(-1 / 6, 6);
  });

  test('asymmetric clip range: the ceiling follows clipHigh', () => {
    const result = clippedSurrogate({
      logp: Float32Array.of(Math.log(1.25)), oldLogp: Float32Array.of(0), advantages: Float32Array.of(1),
      mask: Float32Array.of(1), T: 1, clipLow: 0.2, clipHigh: 0.28,
    });
    expect(result.clipFraction).toBe(0);
    expect(result.dlogp[0]).toBeCloseTo(-1.25, 6);
  });

  test('on-policy (logp == oldLogp): gradient is -A per token, no clipping, zero KL', () => {
    const result = clippedSurrogate({
      logp: Float32Array.of(-1, -2), oldLogp: Float32Array.of(-1, -2), advantages: Float32Array.of(0.5, -1.5),
      mask: Float32Array.of(1, 1), T: 2,
    });
    expect(result.loss).toBeCloseTo(-(0.5 - 1.5) / 2, 6);
    expectClose(result.dlogp, [-0.25, 0.75]);
    expect(result.clipFraction).toBe(0);
    expect(result.approxKl).toBe(0);
  });
});

describe('learning-rate schedule', () => {
  const schedule = { maxLr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 110 };
  test('linear warmup, cosine decay to the floor, then the floor', () => {
    expect(learningRate(schedule, 1)).toBeCloseTo(1e-4, 12);
    expect(learningRate(schedule, 10)).toBeCloseTo(1e-3, 12);
    expect(learningRate(schedule, 60)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 12);
    expect(learningRate(schedule, 110)).toBeCloseTo(1e-4, 12);
    expect(learningRate(schedule, 500)).toBe(1e-4);
  });
  test('no warmup starts at the peak', () => {
    expect(learningRate({ ...schedule, warmupSteps: 0 }, 1)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5 * (1 + Math.cos(Math.PI / 110)), 12);
  });
});

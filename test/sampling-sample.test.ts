import { describe, expect, it } from 'vitest';
import { sampleFromLogits, samplingDistribution, type SamplingSettings } from '../src/sampling/sample.ts';
import { Random } from '../src/util/random.ts';

// Goodness of fit at significance 0.001: upper critical values of the chi-square distribution.
// With fixed seeds each test is deterministic; a correct sampler passes with probability 0.999
// for an arbitrary seed, and the power checks below show that a wrong distribution fails.
const CHI_SQUARE_CRITICAL_0_001: Record<number, number> = { 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515, 6: 22.458, 7: 24.322, 8: 26.124, 9: 27.877 };

/** Token counts from `draws` samples of one row of logits, spread over a batch of independently seeded rows. */
function countDraws(logits: number[], settings: SamplingSettings, draws: number, seed: number): number[] {
  const V = logits.length;
  const B = 100;
  const batch = new Float32Array(B * V);
  for (let b = 0; b < B; b++) batch.set(logits, b * V);
  const rngs = Array.from({ length: B }, (_, b) => new Random(seed * 1000 + b));
  const out = new Int32Array(B);
  const counts = new Array<number>(V).fill(0);
  for (let call = 0; call < draws / B; call++) {
    sampleFromLogits(out, batch, V, rngs, settings);
    for (const token of out) counts[token]++;
  }
  return counts;
}

/** Pearson's statistic over the tokens of nonzero probability; draws of impossible tokens fail at once. */
function chiSquare(counts: number[], probabilities: number[]): { statistic: number; degrees: number } {
  const total = counts.reduce((a, b) => a + b, 0);
  let statistic = 0;
  let cells = 0;
  for (let i = 0; i < counts.length; i++) {
    if (probabilities[i] === 0) {
      expect(counts[i], `token ${i} has probability 0`).toBe(0);
      continue;
    }
    const expected = total * probabilities[i];
    expect(expected, 'every cell expects at least 5 draws').toBeGreaterThanOrEqual(5);
    statistic += (counts[i] - expected) ** 2 / expected;
    cells++;
  }
  return { statistic, degrees: cells - 1 };
}

function softmax(logits: number[], temperature: number): number[] {
  const max = Math.max(...logits);
  const weights = logits.map((x) => Math.exp((x - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

/** Token ids by probability, highest first, lower id first on ties: the order both filters follow. */
function byProbability(probabilities: number[]): number[] {
  return probabilities.map((_, i) => i).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
}

/** The reference filter, by full sorting: top-k, renormalise, then the smallest prefix reaching p. */
function filtered(logits: number[], { temperature, topK, topP }: SamplingSettings): number[] {
  let probabilities = softmax(logits, temperature);
  const keep = (ids: number[]) => {
    const total = ids.reduce((sum, i) => sum + probabilities[i], 0);
    probabilities = probabilities.map((p, i) => (ids.includes(i) ? p / total : 0));
  };
  if (topK > 0) keep(byProbability(probabilities).slice(0, topK));
  if (topP < 1) {
    const order = byProbability(probabilities);
    let cumulative = 0;
    let size = 0;
    while (cumulative < topP) cumulative += probabilities[order[size++]];
    keep(order.slice(0, size));
  }
  return probabilities;
}

function distribution(logits: number[], settings: SamplingSettings): number[] {
  const out = new Float32Array(logits.length);
  samplingDistribution(out, Float32Array.from(logits), settings);
  return Array.from(out);
}

function support(probabilities: number[]): number[] {
  return probabilities.flatMap((p, i) => (p > 0 ? [i] : []));
}

const tenLogits = [0.3, -0.8, 1.2, 0.0, -0.2, 0.9, -1.0, 0.5, 0.1, -0.4];
function randomLogits(V: number, seed: number, scale = 2): number[] {
  const random = new Random(seed);
  return Array.from({ length: V }, () => Math.fround((random.float() - 0.5) * 2 * scale));
}

describe('the frequencies of sampled tokens', () => {
  it.each([0.5, 1, 2])('match softmax(logits / T) at T = %s', (temperature) => {
    const counts = countDraws(tenLogits, { temperature, topK: 0, topP: 1 }, 20_000, 1);
    const { statistic, degrees } = chiSquare(counts, softmax(tenLogits, temperature));
    expect(degrees).toBe(9);
    expect(statistic).toBeLessThan(CHI_SQUARE_CRITICAL_0_001[degrees]);
    // The same draws judged against the distribution of another temperature fail the test.
    const other = chiSquare(counts, softmax(tenLogits, temperature * 1.5));
    expect(other.statistic).toBeGreaterThan(CHI_SQUARE_CRITICAL_0_001[degrees]);
  });

  it.each([
    { temperature: 1, topK: 5, topP: 1 },
    { temperature: 0.8, topK: 0, topP: 0.7 },
    { temperature: 1.3, topK: 8, topP: 0.9 },
  ])('match the renormalised filtered softmax for %o', (settings) => {
    const logits = randomLogits(40, 5);
    const expected = filtered(logits, settings);
    const counts = countDraws(logits, settings, 20_000, 2);
    const { statistic, degrees } = chiSquare(counts, expected);
    expect(degrees).toBeGreaterThanOrEqual(2);
    expect(statistic).toBeLessThan(CHI_SQUARE_CRITICAL_0_001[degrees]);
    // samplingDistribution describes exactly what is sampled.
    const described = distribution(logits, settings);
    for (let i = 0; i < logits.length; i++) expect(described[i]).toBeCloseTo(expected[i], 6);
  });
});

describe('filters', () => {
  it('top-k never emits a token outside the k largest logits', () => {
    const logits = randomLogits(50, 3);
    const allowed = byProbability(logits).slice(0, 5);
    const counts = countDraws(logits, { temperature: 1.5, topK: 5, topP: 1 }, 5_000, 3);
    expect(support(counts).sort((a, b) => a - b)).toEqual([...allowed].sort((a, b) => a - b));
  });

  it('top-p never emits a token outside the nucleus', () => {
    const logits = randomLogits(50, 4);
    const probabilities = softmax(logits, 1);
    const order = byProbability(probabilities);
    let cumulative = 0;
    let size = 0;
    while (cumulative < 0.6) cumulative += probabilities[order[size++]];
    const counts = countDraws(logits, { temperature: 1, topK: 0, topP: 0.6 }, 5_000, 4);
    expect(size).toBeGreaterThan(3);
    expect(support(counts).every((token) => order.slice(0, size).includes(token))).toBe(true);
    expect(support(distribution(logits, { temperature: 1, topK: 0, topP: 0.6 })).sort((a, b) => a - b)).toEqual(order.slice(0, size).sort((a, b) => a - b));
  });

  it('break ties at the boundary toward the lower token id', () => {
    const settings = (topK: number, topP: number): SamplingSettings => ({ temperature: 1, topK, topP });
    expect(support(distribution([1, 3, 3, 3, 0, 3], settings(2, 1)))).toEqual([1, 2]);
    expect(support(distribution([5, 3, 3, 3], settings(3, 1)))).toEqual([0, 1, 2]);
    expect(support(distribution([3, 3, 5], settings(2, 1)))).toEqual([0, 2]);
    const tied = [0.4, 0.3, 0.3].map(Math.log);
    expect(support(distribution(tied, settings(0, 0.6)))).toEqual([0, 1]);
    expect(support(distribution(tied, settings(0, 0.3)))).toEqual([0]);
    expect(support(distribution([0.3, 0.3, 0.4].map(Math.log), settings(0, 0.6)))).toEqual([0, 2]);
    expect(support(distribution(new Array(10).fill(0), settings(0, 0.35)))).toEqual([0, 1, 2, 3]);
    expect(support(distribution(new Array(10).fill(0), settings(0, 0.4)))).toEqual([0, 1, 2, 3]); // reaching p exactly is enough
    expect(support(countDraws([1, 3, 3, 3, 0, 3], settings(2, 1), 1_000, 5))).toEqual([1, 2]);
    expect(support(countDraws(tied, settings(0, 0.6), 1_000, 6))).toEqual([0, 1]);
  });

  it('keep the same set as a full sort on a large vocabulary with many ties', () => {
    const V = 4000;
    const random = new Random(8);
    const logits = Array.from({ length: V }, () => random.int(0, 6) / 2); // only 7 distinct values
    for (const settings of [
      { temperature: 0.7, topK: 37, topP: 1 },
      { temperature: 0.7, topK: 700, topP: 1 },
      { temperature: 0.7, topK: 0, topP: 0.9 },
      { temperature: 0.7, topK: 0, topP: 0.3 },
      { temperature: 2, topK: 1000, topP: 0.5 },
    ]) {
      expect(support(distribution(logits, settings))).toEqual(support(filtered(logits, settings)));
    }
  });

  it('leave the distribution alone when off or when k is at least the vocabulary', () => {
    const expected = softmax(tenLogits, 1);
    for (const topK of [0, 10, 11]) {
      const described = distribution(tenLogits, { temperature: 1, topK, topP: 1 });
      for (let i = 0; i < 10; i++) expect(described[i]).toBeCloseTo(expected[i], 6);
    }
  });
});

describe('greedy choice and numerical range', () => {
  it('temperature 0 takes the argmax, lowest id on ties, whatever the filters, and draws nothing', () => {
    const logits = Float32Array.from([0, 2, 5, 5, 1, 0, 0, 0, -1, 9, 9, -3]);
    const rngs = [new Random(1), new Random(2)];
    const out = new Int32Array(2);
    sampleFromLogits(out, logits, 6, rngs, { temperature: 0, topK: 3, topP: 0.5 });
    expect(Array.from(out)).toEqual([2, 3]);
    expect(rngs[0].uint32()).toBe(new Random(1).uint32());
    expect(distribution([0, 2, 5, 5], { temperature: 0, topK: 0, topP: 1 })).toEqual([0, 0, 1, 0]);
  });

  it('a tiny temperature behaves as greedy', () => {
    expect(support(countDraws([0, 2, 4.999, 5, 1], { temperature: 1e-6, topK: 0, topP: 1 }, 500, 9))).toEqual([3]);
  });

  it('huge logits do not overflow and -infinity logits are never chosen', () => {
    const huge = distribution([1000, 999, 998], { temperature: 1, topK: 0, topP: 1 });
    const expected = softmax([2, 1, 0], 1);
    for (let i = 0; i < 3; i++) expect(huge[i]).toBeCloseTo(expected[i], 6);
    const masked = [0.5, -Infinity, 0.2, -Infinity];
    expect(support(distribution(masked, { temperature: 1, topK: 0, topP: 1 }))).toEqual([0, 2]);
    expect(support(countDraws(masked, { temperature: 3, topK: 3, topP: 1 }, 1_000, 10))).toEqual([0, 2]);
  });
});

describe('reproducibility', () => {
  /** A toy autoregressive rollout: each step's logits depend on the previous token. */
  function rollout(seeds: number[], steps: number): number[][] {
    const V = 20;
    const B = seeds.length;
    const rngs = seeds.map((seed) => new Random(seed));
    const tokens = seeds.map(() => [0]);
    const logits = new Float32Array(B * V);
    const out = new Int32Array(B);
    for (let t = 0; t < steps; t++) {
      for (let b = 0; b < B; b++) {
        const previous = tokens[b][tokens[b].length - 1];
        for (let v = 0; v < V; v++) logits[b * V + v] = Math.sin(v * (previous + 1) + t);
      }
      sampleFromLogits(out, logits, V, rngs, { temperature: 0.8, topK: 12, topP: 0.95 });
      for (let b = 0; b < B; b++) tokens[b].push(out[b]);
    }
    return tokens;
  }

  it('the same seed gives the same rollout, another seed another', () => {
    const first = rollout([11, 12, 13], 64);
    expect(rollout([11, 12, 13], 64)).toEqual(first);
    const other = rollout([21, 22, 23], 64);
    for (let b = 0; b < 3; b++) expect(other[b]).not.toEqual(first[b]);
  });

  it("a sequence's tokens depend on its own seed only, not on the batch around it", () => {
    const inBatch = rollout([5, 6, 7, 8], 40);
    expect(rollout([7], 40)[0]).toEqual(inBatch[2]);
  });
});

describe('bad input', () => {
  const out = new Int32Array(1);
  const rngs = [new Random(0)];
  const ok: SamplingSettings = { temperature: 1, topK: 0, topP: 1 };

  it('names the row and token of a NaN, or a row with no finite maximum', () => {
    expect(() => sampleFromLogits(out, Float32Array.from([0, NaN, 1]), 3, rngs, ok)).toThrow('sampling: row 0 of the logits holds NaN at token 1');
    expect(() => sampleFromLogits(out, Float32Array.from([-Infinity, -Infinity]), 2, rngs, ok)).toThrow('row 0 of the logits has no finite maximum (-Infinity)');
    expect(() => sampleFromLogits(out, Float32Array.from([0, Infinity]), 2, rngs, { ...ok, temperature: 0 })).toThrow('no finite maximum (Infinity)');
  });

  it('rejects settings out of range and mismatched sizes', () => {
    const logits = Float32Array.from([0, 1]);
    expect(() => sampleFromLogits(out, logits, 2, rngs, { ...ok, temperature: -1 })).toThrow('temperature must be a finite number >= 0, got -1');
    expect(() => sampleFromLogits(out, logits, 2, rngs, { ...ok, topK: 1.5 })).toThrow('top-k must be an integer >= 0 (0 = off), got 1.5');
    expect(() => sampleFromLogits(out, logits, 2, rngs, { ...ok, topP: 0 })).toThrow('top-p must be in (0, 1] (1 = off), got 0');
    expect(() => sampleFromLogits(out, logits, 3, rngs, ok)).toThrow('1 outputs need 1 generators and 1x3 logits, got 1 and 2');
    expect(() => samplingDistribution(new Float32Array(3), logits, ok)).toThrow('the output holds 3 values for 2 logits');
  });
});

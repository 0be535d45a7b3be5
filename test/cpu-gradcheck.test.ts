// Every backward op of the cpu backend against central finite differences.
// For an op with output `out`, the scalar L = sum(out * w) (w fixed and random, summed in float64)
// has dL/dout = w, so the op's backward fed with dout = w must give dL/dinput, which is compared
// element by element with (L(x + h) - L(x - h)) / 2h. Gradient buffers start at a non-zero value
// so that a backward that overwrites instead of accumulating fails.
//
// Tolerance: |numeric - analytic| <= 3e-4 * max(1, |analytic|). With h = 1e-2 on inputs of size
// ~1, the float32 rounding of the outputs and the h^2 truncation stay below ~5e-5.

import { describe, expect, test } from 'vitest';
import type { Tensor } from '../src/backend/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { Random } from '../src/util/random.ts';
import { worstGradientError } from './support/finite-differences.ts';
import { ints as randomInts, uniform as randomUniform } from './support/gpu.ts';

const backend = new CpuBackend();
const random = new Random(20250608);
const STEP = 1e-2;
const TOLERANCE = 3e-4;
const PREFILL = 0.25;

const uniform = (n: number, scale = 1): Float32Array => randomUniform(random, n, scale);
const ints = (n: number, below: number): Int32Array => randomInts(random, n, below);

function weightedSum(values: Float32Array, weights: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * weights[i];
  return sum;
}

/** A gradient buffer holding PREFILL everywhere, so that accumulation is visible. */
function gradientBuffer(length: number): Tensor {
  const tensor = backend.zeros(length);
  backend.fill(tensor, PREFILL);
  return tensor;
}

/** Largest scaled difference between dL/dinput from the backward (less its prefill) and from central differences. */
async function worstError(input: Tensor, gradient: Tensor, loss: () => Promise<number>, prefill = PREFILL): Promise<number> {
  const analytic = (await backend.read(gradient)).map((value) => value - prefill);
  return worstGradientError(backend, input, analytic, loss, STEP, 1);
}

/** Runs `forward`, then L = sum(out * w) for a fixed random w. */
function weightedLoss(out: Tensor, forward: () => void): { weights: Tensor; loss: () => Promise<number> } {
  const w = uniform(out.length);
  return { weights: backend.upload(w), loss: async () => (forward(), weightedSum(await backend.read(out), w)) };
}

describe('cpu backward ops match central finite differences', () => {
  test('embedding, with repeated tokens', async () => {
    const N = 7, C = 5, V = 4;
    const tokens = backend.upload(Int32Array.of(0, 3, 3, 1, 0, 3, 2));
    const wte = backend.upload(uniform(V * C));
    const out = backend.zeros(N * C);
    const { weights, loss } = weightedLoss(out, () => backend.embeddingForward(out, tokens, wte, N, C));
    const dwte = gradientBuffer(V * C);
    backend.embeddingBackward(dwte, weights, tokens, N, C);
    expect(await worstError(wte, dwte, loss)).toBeLessThan(TOLERANCE);
  });

  test('rmsnorm', async () => {
    const N = 5, C = 7;
    const inp = backend.upload(uniform(N * C));
    const weight = backend.upload(uniform(C, 2));
    const out = backend.zeros(N * C), rstd = backend.zeros(N);
    const { weights, loss } = weightedLoss(out, () => backend.rmsnormForward(out, rstd, inp, weight, N, C, 1e-5));
    await loss();
    const dinp = gradientBuffer(N * C), dweight = gradientBuffer(C);
    backend.rmsnormBackward(dinp, dweight, weights, inp, weight, rstd, N, C);
    expect(await worstError(inp, dinp, loss)).toBeLessThan(TOLERANCE);
    expect(await worstError(weight, dweight, loss)).toBeLessThan(TOLERANCE);
  });

  // Sizes around the 4x4 blocking of the kernel: blocks with row and column tails, and none at all.
  for (const [N, C, OC] of [[9, 6, 7], [4, 3, 8], [3, 5, 2]]) {
    test(`matmul ${N}x${C} -> ${OC}`, async () => {
      const inp = backend.upload(uniform(N * C));
      const weight = backend.upload(uniform(OC * C));
      const out = backend.zeros(N * OC);
      const { weights, loss } = weightedLoss(out, () => backend.matmulForward(out, inp, weight, N, C, OC));
      const dinp = gradientBuffer(N * C), dweight = gradientBuffer(OC * C);
      backend.matmulBackward(dinp, dweight, weights, inp, weight, N, C, OC);
      expect(await worstError(inp, dinp, loss)).toBeLessThan(TOLERANCE);
      expect(await worstError(weight, dweight, loss)).toBeLessThan(TOLERANCE);
    });
  }

  test('rope at scattered positions', async () => {
    const N = 5, NH = 3, HS = 6;
    const positions = backend.upload(Int32Array.of(3, 0, 17, 1, 250));
    const inp = backend.upload(uniform(N * NH * HS));
    const out = backend.zeros(N * NH * HS);
    const { weights, loss } = weightedLoss(out, () => backend.ropeForward(out, inp, positions, N, NH, HS, 10000));
    const dinp = gradientBuffer(N * NH * HS);
    backend.ropeBackward(dinp, weights, positions, N, NH, HS, 10000);
    expect(await worstError(inp, dinp, loss)).toBeLessThan(TOLERANCE);
  });

  // KVH = NH is multi-head attention; below it, grouped-query attention, whose dk and dv sum
  // over the query heads of each group.
  for (const [NH, KVH] of [[3, 3], [4, 2], [3, 1]]) {
    test(`causal attention, ${NH} query heads over ${KVH} key/value heads`, async () => {
      const B = 2, T = 5, HS = 4, nq = B * T * NH * HS, nkv = B * T * KVH * HS;
      const q = backend.upload(uniform(nq, 2)), k = backend.upload(uniform(nkv, 2)), v = backend.upload(uniform(nkv));
      const out = backend.zeros(nq), probs = backend.zeros(B * NH * T * T);
      const { weights, loss } = weightedLoss(out, () => backend.attentionForward(out, probs, q, k, v, B, T, NH, KVH, HS));
      await loss();
      const dq = gradientBuffer(nq), dk = gradientBuffer(nkv), dv = gradientBuffer(nkv);
      backend.attentionBackward(dq, dk, dv, weights, probs, q, k, v, B, T, NH, KVH, HS);
      expect(await worstError(q, dq, loss)).toBeLessThan(TOLERANCE);
      expect(await worstError(k, dk, loss)).toBeLessThan(TOLERANCE);
      expect(await worstError(v, dv, loss)).toBeLessThan(TOLERANCE);
    });
  }

  test('bias (its forward adds to what the matmul wrote)', async () => {
    const N = 5, OC = 7;
    const product = uniform(N * OC);
    const bias = backend.upload(uniform(OC));
    const out = backend.zeros(N * OC);
    const { weights, loss } = weightedLoss(out, () => {
      backend.write(out, product);
      backend.biasForward(out, bias, N, OC);
    });
    const dbias = gradientBuffer(OC);
    backend.biasBackward(dbias, weights, N, OC);
    expect(await worstError(bias, dbias, loss)).toBeLessThan(TOLERANCE);
  });

  test('swiglu', async () => {
    const N = 3, H = 7;
    const gate = backend.upload(uniform(N * H, 3)), up = backend.upload(uniform(N * H));
    const out = backend.zeros(N * H);
    const { weights, loss } = weightedLoss(out, () => backend.swigluForward(out, gate, up, N, H));
    const dgate = gradientBuffer(N * H), dup = gradientBuffer(N * H);
    backend.swigluBackward(dgate, dup, weights, gate, up, N, H);
    expect(await worstError(gate, dgate, loss)).toBeLessThan(TOLERANCE);
    expect(await worstError(up, dup, loss)).toBeLessThan(TOLERANCE);
  });

  test('residual: both inputs receive the output gradient through accumulate', async () => {
    const n = 6;
    const a = backend.upload(uniform(n)), b = backend.upload(uniform(n));
    const out = backend.zeros(n);
    const { weights, loss } = weightedLoss(out, () => backend.residualForward(out, a, b, n));
    const da = gradientBuffer(n), db = gradientBuffer(n);
    backend.accumulate(da, weights, n);
    backend.accumulate(db, weights, n);
    expect(await worstError(a, da, loss)).toBeLessThan(TOLERANCE);
    expect(await worstError(b, db, loss)).toBeLessThan(TOLERANCE);
  });

  test('logprob of targets (its backward overwrites)', async () => {
    const N = 5, V = 9;
    const logits = backend.upload(uniform(N * V, 3));
    const targets = backend.upload(ints(N, V));
    const logp = backend.zeros(N);
    const { weights, loss } = weightedLoss(logp, () => backend.logprobForward(logp, logits, targets, N, V));
    const dlogits = backend.zeros(N * V);
    backend.fill(dlogits, 123); // overwritten, not accumulated into
    backend.logprobBackward(dlogits, weights, logits, targets, N, V);
    expect(await worstError(logits, dlogits, loss, 0)).toBeLessThan(TOLERANCE);
  });
});

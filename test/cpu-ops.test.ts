// The cpu ops that have no backward, checked against values worked out by hand.

import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { Random } from '../src/util/random.ts';
import { uniform } from './support/gpu.ts';

const backend = new CpuBackend();

describe('cpu inference ops', () => {
  test('argmax takes the lowest index on ties', async () => {
    const logits = backend.upload(Float32Array.of(1, 5, 5, 2, /**/ -3, -1, -2, -1));
    const out = backend.zeros(2, 'i32');
    backend.argmax(out, logits, 2, 4);
    expect(Array.from(await backend.readInt(out))).toEqual([1, 1]);
  });

  test('top-k entropy renormalises over the k largest logits', async () => {
    // Row 0: two equal largest logits -> ln 2. Row 1: k above V keeps all four equal -> ln 4.
    // Row 2: logits (ln 3, 0) over the top 2 -> p = (3/4, 1/4).
    const logits = backend.upload(Float32Array.of(7, -9, 7, 1, /**/ 2, 2, 2, 2, /**/ -50, Math.log(3), 0, -1));
    const out2 = backend.zeros(3);
    backend.topkEntropy(out2, logits, 3, 4, 2);
    const expected2 = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
    const entropy2 = await backend.read(out2);
    expect(entropy2[0]).toBeCloseTo(Math.log(2), 6);
    expect(entropy2[2]).toBeCloseTo(expected2, 6);
    const out16 = backend.zeros(3);
    backend.topkEntropy(out16, logits, 3, 4, 16);
    expect((await backend.read(out16))[1]).toBeCloseTo(Math.log(4), 6);
  });

  test('gatherRows picks rows by index', async () => {
    const inp = backend.upload(Float32Array.of(0, 1, 10, 11, 20, 21));
    const out = backend.zeros(4);
    backend.gatherRows(out, inp, backend.upload(Int32Array.of(2, 0)), 2, 2);
    expect(Array.from(await backend.read(out))).toEqual([20, 21, 0, 1]);
  });

  // KVH = NH: multi-head; KVH = 1: every query head reads the one key/value head.
  for (const [NH, KVH] of [[2, 2], [4, 1]]) {
    test(`attention against a filled cache equals causal attention over the whole sequence, ${NH} heads over ${KVH}`, async () => {
      const random = new Random(3);
      const B = 2, T = 6, HS = 4, QC = NH * HS, KC = KVH * HS, Tmax = 9;
      const q = backend.upload(uniform(random, B * T * QC)), k = backend.upload(uniform(random, B * T * KC));
      const v = backend.upload(uniform(random, B * T * KC));
      const full = backend.zeros(B * T * QC);
      backend.attentionForward(full, backend.zeros(B * NH * T * T), q, k, v, B, T, NH, KVH, HS);

      const positions = backend.upload(Int32Array.from({ length: B * T }, (_, i) => i % T));
      const kCache = backend.zeros(B * Tmax * KC), vCache = backend.zeros(B * Tmax * KC);
      backend.fill(kCache, 99); // entries past each query's position must be ignored
      backend.cacheWrite(kCache, k, positions, B, T, Tmax, KC);
      backend.cacheWrite(vCache, v, positions, B, T, Tmax, KC);
      const decoded = backend.zeros(B * T * QC);
      backend.attentionDecode(decoded, q, kCache, vCache, positions, B, T, NH, KVH, HS, Tmax);

      const expected = await backend.read(full), actual = await backend.read(decoded);
      for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 5);
    });
  }

  test('grouped-query attention equals multi-head attention over keys and values repeated per group', async () => {
    // Hugging Face's repeat_kv: query head h reads key/value head floor(h / (NH/KVH)).
    const random = new Random(6);
    const B = 2, T = 5, NH = 6, KVH = 2, HS = 4, group = NH / KVH;
    const q = backend.upload(uniform(random, B * T * NH * HS));
    const kData = uniform(random, B * T * KVH * HS), vData = uniform(random, B * T * KVH * HS);
    const repeat = (data: Float32Array): Float32Array => {
      const out = new Float32Array(B * T * NH * HS);
      for (let row = 0; row < B * T; row++) {
        for (let h = 0; h < NH; h++) out.set(data.subarray((row * KVH + Math.floor(h / group)) * HS, (row * KVH + Math.floor(h / group) + 1) * HS), (row * NH + h) * HS);
      }
      return out;
    };
    const grouped = backend.zeros(B * T * NH * HS), multi = backend.zeros(B * T * NH * HS);
    backend.attentionForward(grouped, backend.zeros(B * NH * T * T), q, backend.upload(kData), backend.upload(vData), B, T, NH, KVH, HS);
    backend.attentionForward(multi, backend.zeros(B * NH * T * T), q, backend.upload(repeat(kData)), backend.upload(repeat(vData)), B, T, NH, NH, HS);
    expect(await backend.read(grouped)).toEqual(await backend.read(multi));
  });
});

describe('cpu optimizer ops', () => {
  test('sumSquares accumulates', async () => {
    const out = backend.upload(Float32Array.of(1));
    backend.sumSquares(out, backend.upload(Float32Array.of(1, -2, 3)), 3);
    expect((await backend.read(out))[0]).toBe(15);
  });

  test('adamw: bias-corrected first step, decoupled decay, global-norm clipping', async () => {
    const param = backend.upload(Float32Array.of(1, -2));
    const m = backend.zeros(2), v = backend.zeros(2);
    const grad = backend.upload(Float32Array.of(3, -4)); // norm 5, clipped to 1 -> (0.6, -0.8)
    const sumSquares = backend.upload(Float32Array.of(25));
    const settings = { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5, step: 1, maxGradNorm: 1 };
    backend.adamw(param, m, v, grad, sumSquares, 2, settings);
    // Step 1: m̂ = g, v̂ = g², so the update is lr * (sign(g) + weightDecay * param).
    const updated = await backend.read(param);
    expect(updated[0]).toBeCloseTo(1 - 0.1 * (1 + 0.5 * 1), 6);
    expect(updated[1]).toBeCloseTo(-2 - 0.1 * (-1 + 0.5 * -2), 6);
    expect((await backend.read(m))[0]).toBeCloseTo(0.1 * 0.6, 6);
    expect((await backend.read(v))[1]).toBeCloseTo(0.01 * 0.64, 6);
  });
});

// Every webgpu kernel and every op of the cpu backend with BLAS, forward and backward, against the
// cpu reference on random inputs of awkward sizes (not multiples of the workgroup size or of the
// 4-wide tiles). Gradients and
// overwritten outputs start filled with random values, so that a kernel which skips an element
// or overwrites where it should accumulate is caught.
//
// Tolerance: worstError (|actual - cpu| / (1 + |cpu|), see test/support/gpu.ts) <= 1e-5 for sums
// of products (float32 rounding over up to ~100 terms, in another order or with fused
// multiply-add), 1e-4 where exp, log, sin or cos run in float32 on the GPU against float64 on the
// cpu (BLAS keeps the cpu's float64 transcendentals; its softmax rows are float32 like the GPU's).

import { afterAll, describe, expect, test } from 'vitest';
import type { Backend, Tensor } from '../src/backend/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { Random } from '../src/util/random.ts';
import { acceleratedBackendsForTests } from './support/backends.ts';
import { ints, runOp, uniform, worstError, type Arrays } from './support/gpu.ts';

const ARITHMETIC = 1e-5;
const TRANSCENDENTAL = 1e-4;

const backends = await acceleratedBackendsForTests();
const cpu = new CpuBackend();
afterAll(() => backends.forEach(({ backend }) => backend?.destroy()));

for (const { name: backendName, backend, skipReason } of backends) describe.skipIf(!backend)(`${backendName} kernels match the cpu reference ${skipReason}`, () => {
  /** Runs `op` on the cpu reference and on the backend under test; every output within `tolerance` of the cpu's. */
  async function expectSameOnBoth(
    inputs: Arrays, op: (backend: Backend, t: Record<string, Tensor>) => void, outputs: string[], tolerance: number,
  ): Promise<void> {
    const expected = await runOp(cpu, inputs, op, outputs);
    const actual = await runOp(backend!, inputs, op, outputs);
    for (const name of outputs) expect(worstError(actual[name], expected[name]), name).toBeLessThanOrEqual(tolerance);
  }

  const random = new Random(11);
  const N = 37, C = 52, V = 97;

  // C = 130 splits each vocabulary row between two invocations of the backward kernel.
  for (const C of [52, 130]) {
    test(`embedding forward and backward (repeated tokens), C=${C}`, async () => {
      const tokens = ints(random, N, 11); // few distinct tokens, so rows receive several contributions
      await expectSameOnBoth(
        { out: uniform(random, N * C), tokens, wte: uniform(random, V * C), dwte: uniform(random, V * C), dout: uniform(random, N * C) },
        (b, t) => {
          b.embeddingForward(t.out, t.tokens, t.wte, N, C);
          b.embeddingBackward(t.dwte, t.dout, t.tokens, N, C);
        },
        ['out', 'dwte'], ARITHMETIC,
      );
    });
  }

  test('rmsnorm forward and backward', async () => {
    await expectSameOnBoth(
      {
        out: uniform(random, N * C), rstd: uniform(random, N), inp: uniform(random, N * C, 3), weight: uniform(random, C),
        dinp: uniform(random, N * C), dweight: uniform(random, C), dout: uniform(random, N * C),
      },
      (b, t) => {
        b.rmsnormForward(t.out, t.rstd, t.inp, t.weight, N, C, 1e-5);
        b.rmsnormBackward(t.dinp, t.dweight, t.dout, t.inp, t.weight, t.rstd, N, C);
      },
      ['out', 'rstd', 'dinp', 'dweight'], ARITHMETIC,
    );
  });

  // (C, OC): both multiples of 4 take the subgroup kernels where the device has them (OC = 20 leaves
  // a half-used octet of output rows); the others the tiled kernels, an odd C with the tail of the k loop.
  for (const [C, OC] of [[52, 23], [52, 20], [23, 52], [7, 5]]) {
    test(`matmul forward and backward, N=${N} C=${C} OC=${OC}`, async () => {
      await expectSameOnBoth(
        {
          out: uniform(random, N * OC), inp: uniform(random, N * C), weight: uniform(random, OC * C),
          dinp: uniform(random, N * C), dweight: uniform(random, OC * C), dout: uniform(random, N * OC),
        },
        (b, t) => {
          b.matmulForward(t.out, t.inp, t.weight, N, C, OC);
          b.matmulBackward(t.dinp, t.dweight, t.dout, t.inp, t.weight, N, C, OC);
        },
        ['out', 'dinp', 'dweight'], ARITHMETIC,
      );
    });
  }

  test('rope forward (into another tensor and in place) and backward', async () => {
    const NH = 3, HS = 10, theta = 10000;
    await expectSameOnBoth(
      {
        out: uniform(random, N * NH * HS), inp: uniform(random, N * NH * HS), x: uniform(random, N * NH * HS),
        positions: ints(random, N, 200), dinp: uniform(random, N * NH * HS), dout: uniform(random, N * NH * HS),
      },
      (b, t) => {
        b.ropeForward(t.out, t.inp, t.positions, N, NH, HS, theta);
        b.ropeForward(t.x, t.x, t.positions, N, NH, HS, theta);
        b.ropeBackward(t.dinp, t.dout, t.positions, N, NH, HS, theta);
      },
      ['out', 'x', 'dinp'], TRANSCENDENTAL,
    );
  });

  test('bias forward and backward', async () => {
    const OC = 23;
    await expectSameOnBoth(
      { out: uniform(random, N * OC), bias: uniform(random, OC), dbias: uniform(random, OC), dout: uniform(random, N * OC) },
      (b, t) => {
        b.biasForward(t.out, t.bias, N, OC);
        b.biasBackward(t.dbias, t.dout, N, OC);
      },
      ['out', 'dbias'], ARITHMETIC,
    );
  });

  // HS = 8, a multiple of 4, reads q, k, v and dout as vec4 in the score kernels; KVH < NH is
  // grouped-query attention (query head h reads key/value head floor(h / (NH/KVH))).
  for (const [HS, NH, KVH] of [[6, 3, 3], [8, 3, 3], [6, 4, 2], [8, 6, 2]]) {
    test(`causal attention forward and backward, HS=${HS}, ${NH} query heads over ${KVH} key/value heads`, async () => {
      const B = 3, T = 13, size = B * T * NH * HS, kvSize = B * T * KVH * HS;
      await expectSameOnBoth(
        {
          out: uniform(random, size), probs: uniform(random, B * NH * T * T),
          q: uniform(random, size, 2), k: uniform(random, kvSize, 2), v: uniform(random, kvSize),
          dq: uniform(random, size), dk: uniform(random, kvSize), dv: uniform(random, kvSize), dout: uniform(random, size),
        },
        (b, t) => {
          b.attentionForward(t.out, t.probs, t.q, t.k, t.v, B, T, NH, KVH, HS);
          b.attentionBackward(t.dq, t.dk, t.dv, t.dout, t.probs, t.q, t.k, t.v, B, T, NH, KVH, HS);
        },
        ['out', 'probs', 'dq', 'dk', 'dv'], TRANSCENDENTAL,
      );
    });
  }

  // H = 24 makes N*H a multiple of 4, which takes the vec4 form of elementwise kernels.
  for (const H of [23, 24]) {
    test(`swiglu forward and backward, H=${H}`, async () => {
      await expectSameOnBoth(
        {
          out: uniform(random, N * H), gate: uniform(random, N * H, 6), up: uniform(random, N * H),
          dgate: uniform(random, N * H), dup: uniform(random, N * H), dout: uniform(random, N * H),
        },
        (b, t) => {
          b.swigluForward(t.out, t.gate, t.up, N, H);
          b.swigluBackward(t.dgate, t.dup, t.dout, t.gate, t.up, N, H);
        },
        ['out', 'dgate', 'dup'], TRANSCENDENTAL,
      );
    });
  }

  for (const n of [1001, 1000]) {
    test(`residual forward (into another tensor and in place) and accumulate, n=${n}`, async () => {
      await expectSameOnBoth(
        { out: uniform(random, n), a: uniform(random, n), b: uniform(random, n), c: uniform(random, n), dst: uniform(random, n) },
        (backend, t) => {
          backend.residualForward(t.out, t.a, t.b, n);
          backend.residualForward(t.c, t.c, t.b, n);
          backend.accumulate(t.dst, t.a, n);
        },
        ['out', 'c', 'dst'], ARITHMETIC,
      );
    });
  }

  test('log-probabilities forward and backward', async () => {
    await expectSameOnBoth(
      { logp: uniform(random, N), logits: uniform(random, N * V, 8), targets: ints(random, N, V), dlogits: uniform(random, N * V), dlogp: uniform(random, N) },
      (b, t) => {
        b.logprobForward(t.logp, t.logits, t.targets, N, V);
        b.logprobBackward(t.dlogits, t.dlogp, t.logits, t.targets, N, V);
      },
      ['logp', 'dlogits'], TRANSCENDENTAL,
    );
  });

  test('sum of squares over more and fewer elements than the partial sums', async () => {
    await expectSameOnBoth(
      { out: Float32Array.of(0.5), large: uniform(random, 5003), small: uniform(random, 3) },
      (b, t) => {
        b.sumSquares(t.out, t.large, 5003);
        b.sumSquares(t.out, t.small, 3);
      },
      ['out'], ARITHMETIC,
    );
  });

  for (const maxGradNorm of [0, 1]) {
    test(`AdamW step, ${maxGradNorm ? 'clipped' : 'unclipped'}`, async () => {
      const n = 1001 - maxGradNorm; // 1000 takes the vec4 form
      const settings = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3, maxGradNorm };
      await expectSameOnBoth(
        {
          param: uniform(random, n), m: uniform(random, n, 0.1), v: Float32Array.from(uniform(random, n, 0.01), Math.abs),
          grad: uniform(random, n), gradSumSquares: Float32Array.of(25),
        },
        (b, t) => b.adamw(t.param, t.m, t.v, t.grad, t.gradSumSquares, n, settings),
        ['param', 'm', 'v'], ARITHMETIC,
      );
    });
  }

  test('gather rows, argmax with ties, top-k entropy', async () => {
    const logits = uniform(random, N * V, 4);
    logits[5] = logits[9] = 10; // a tie for the largest logit in row 0
    await expectSameOnBoth(
      {
        gathered: uniform(random, 5 * C), inp: uniform(random, N * C), rows: Int32Array.of(36, 0, 7, 7, 20),
        logits, best: ints(random, N, 1000), entropy5: uniform(random, N), entropyAll: uniform(random, N),
      },
      (b, t) => {
        b.gatherRows(t.gathered, t.inp, t.rows, 5, C);
        b.argmax(t.best, t.logits, N, V);
        b.topkEntropy(t.entropy5, t.logits, N, V, 5);
        b.topkEntropy(t.entropyAll, t.logits, N, V, V + 3);
      },
      ['gathered', 'best', 'entropy5', 'entropyAll'], TRANSCENDENTAL,
    );
  });

  for (const [HS, NH, KVH] of [[6, 3, 3], [8, 3, 3], [6, 4, 2], [8, 6, 2]]) {
    test(`key/value cache write and attention against the cache, HS=${HS}, ${NH} query heads over ${KVH} key/value heads`, async () => {
      const B = 3, Tq = 2, QC = NH * HS, KC = KVH * HS, Tmax = 17;
      // Each sequence decodes two queries at its own positions; the cache beyond them holds noise.
      const positions = Int32Array.of(0, 1, 9, 10, 15, 16);
      await expectSameOnBoth(
        {
          kCache: uniform(random, B * Tmax * KC), vCache: uniform(random, B * Tmax * KC), k: uniform(random, B * Tq * KC),
          v: uniform(random, B * Tq * KC), q: uniform(random, B * Tq * QC, 2), positions, out: uniform(random, B * Tq * QC),
        },
        (b, t) => {
          b.cacheWrite(t.kCache, t.k, t.positions, B, Tq, Tmax, KC);
          b.cacheWrite(t.vCache, t.v, t.positions, B, Tq, Tmax, KC);
          b.attentionDecode(t.out, t.q, t.kCache, t.vCache, t.positions, B, Tq, NH, KVH, HS, Tmax);
        },
        ['kCache', 'vCache', 'out'], TRANSCENDENTAL,
      );
    });
  }
});

// The system BLAS as the cpu backend calls it, beyond the kernel comparisons of
// gpu-kernels.test.ts: sgemm in all four transpose forms on strided views with accumulation,
// products split between two threads, shapes large enough for OpenBLAS's blocked paths, and
// decoding one token at scattered cache positions.
//
// Tolerance: worstError (|actual - expected| / (1 + |expected|)) <= 1e-5 against float64 sums
// (float32 rounding over up to ~300 terms in BLAS's order), and against the cpu reference for ops.

import koffi from 'koffi';
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { afterAll, describe, expect, test } from 'vitest';
import type { Backend, Tensor } from '../src/backend/backend.ts';
import { blasForTests } from '../src/backend/select.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { loadBlas, type Blas } from '../src/cpu/blas/library.ts';
import { SPLIT_MIN_MACS } from '../src/cpu/blas/second-thread.ts';
import { Random } from '../src/util/random.ts';
import { runOp, uniform, worstError } from './support/gpu.ts';

const TOLERANCE = 1e-5;
const under = await blasForTests();
afterAll(() => under.backend?.destroy());
const blas = (await loadBlas()).blas as Blas;
const cpu = new CpuBackend();
const random = new Random(31);

/** cblas_sgemm of the library the backend loaded (named at the end of its description), called directly: never split. */
function library(): (...args: (number | Float32Array)[]) => void {
  const name = /\(([^()]+)\)$/.exec(blas.description)![1];
  const signature = 'void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int)';
  return koffi.load(name).func(signature) as (...args: (number | Float32Array)[]) => void;
}

/** C[M,N] = alpha * op(A) @ op(B) + beta * C in float64, on the same strided row-major views as sgemm. */
function referenceGemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
  B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
): Float32Array {
  const out = C.slice();
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += (transA ? A[k * lda + i] : A[i * lda + k]) * (transB ? B[j * ldb + k] : B[k * ldb + j]);
      out[i * ldc + j] = alpha * sum + beta * C[i * ldc + j];
    }
  }
  return out;
}

describe.skipIf(!under.backend)(`the cpu backend with BLAS ${under.skipReason}`, () => {
  test('describes the library it loaded', () => {
    expect(under.backend!.name).toBe('cpu');
    expect(under.backend!.description).toMatch(/^cpu: .+ via koffi/);
  });

  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
    test(`sgemm transA=${transA} transB=${transB} on strided views, accumulating (beta 1.5)`, () => {
      const M = 13, N = 7, K = 9, pad = 3, offset = 5;
      const aRows = transA ? K : M, aCols = transA ? M : K, bRows = transB ? N : K, bCols = transB ? K : N;
      const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
      const A = uniform(random, offset + aRows * lda), B = uniform(random, offset + bRows * ldb), C = uniform(random, offset + M * ldc);
      const expected = referenceGemm(transA, transB, M, N, K, 0.5, A.subarray(offset), lda, B.subarray(offset), ldb, 1.5, C.subarray(offset), ldc);
      const before = C.slice();
      blas.sgemm(transA, transB, M, N, K, 0.5, A.subarray(offset), lda, B.subarray(offset), ldb, 1.5, C.subarray(offset), ldc);
      expect(worstError(C.subarray(offset), expected)).toBeLessThanOrEqual(TOLERANCE);
      expect(C.subarray(0, offset)).toEqual(before.subarray(0, offset)); // nothing before the view is touched
      for (let i = 0; i < M; i++) expect(C.subarray(offset + i * ldc + N, offset + (i + 1) * ldc)).toEqual(before.subarray(offset + i * ldc + N, offset + (i + 1) * ldc));
    });
  }

  // M*N*K = 1.5 * SPLIT_MIN_MACS: the product is split between this thread and the helper (where
  // there are two cores), by rows when C is tall, by columns when it is wide (sampling's few rows
  // against a weight). The actor threads never split, so a split product must equal one call of
  // the library, bit for bit: it is called here directly for the comparison.
  const unsplit = library();
  for (const [M, N] of [[0, 96], [16, 0]]) {
    for (const [transA, transB] of [[false, true], [false, false], [true, false]]) {
      const shape = M === 0 ? 'by rows' : 'by columns';
      test(`a product split ${shape} equals one call of the library, bit for bit (transA=${transA} transB=${transB})`, () => {
        const K = 128, rows = M || Math.ceil((1.5 * SPLIT_MIN_MACS) / (N * K)), cols = N || Math.ceil((1.5 * SPLIT_MIN_MACS) / (M * K));
        const lda = transA ? rows : K, ldb = transB ? K : cols;
        const A = uniform(random, rows * K), B = uniform(random, cols * K), C = uniform(random, rows * cols);
        if (isMainThread && availableParallelism() > 1) expect(blas.description).toContain('split with a second thread');
        const split = C.slice(), whole = C.slice();
        blas.sgemm(transA, transB, rows, cols, K, 1, A, lda, B, ldb, 1, split, cols);
        unsplit(101, transA ? 112 : 111, transB ? 112 : 111, rows, cols, K, 1, A, lda, B, ldb, 1, whole, cols);
        expect(split).toEqual(whole);
        expect(worstError(split, referenceGemm(transA, transB, rows, cols, K, 1, A, lda, B, ldb, 1, C, cols))).toBeLessThanOrEqual(TOLERANCE);
      });
    }
  }

  test('matmul forward and backward at sizes that take the blocked path', async () => {
    const N = 301, C = 129, OC = 257;
    const inputs = {
      out: uniform(random, N * OC), inp: uniform(random, N * C), weight: uniform(random, OC * C),
      dinp: uniform(random, N * C), dweight: uniform(random, OC * C), dout: uniform(random, N * OC),
    };
    const outputs = ['out', 'dinp', 'dweight'];
    const op = (b: Backend, t: Record<string, Tensor>) => {
      b.matmulForward(t.out, t.inp, t.weight, N, C, OC);
      b.matmulBackward(t.dinp, t.dweight, t.dout, t.inp, t.weight, N, C, OC);
    };
    const expected = await runOp(cpu, inputs, op, outputs);
    const actual = await runOp(under.backend!, inputs, op, outputs);
    for (const name of outputs) expect(worstError(actual[name], expected[name]), name).toBeLessThanOrEqual(TOLERANCE);
  });

  // KVH = 1: the four query heads' strided views all read one key/value head, and dk, dv sum over them.
  for (const KVH of [4, 1]) {
    test(`causal attention forward and backward at T=64 with 4 heads of 32 over ${KVH} key/value heads`, async () => {
      const B = 2, T = 64, NH = 4, HS = 32, size = B * T * NH * HS, kvSize = B * T * KVH * HS;
      const inputs = {
        out: uniform(random, size), probs: uniform(random, B * NH * T * T), q: uniform(random, size, 2), k: uniform(random, kvSize, 2),
        v: uniform(random, kvSize), dq: uniform(random, size), dk: uniform(random, kvSize), dv: uniform(random, kvSize), dout: uniform(random, size),
      };
      const outputs = ['out', 'probs', 'dq', 'dk', 'dv'];
      const op = (b: Backend, t: Record<string, Tensor>) => {
        b.attentionForward(t.out, t.probs, t.q, t.k, t.v, B, T, NH, KVH, HS);
        b.attentionBackward(t.dq, t.dk, t.dv, t.dout, t.probs, t.q, t.k, t.v, B, T, NH, KVH, HS);
      };
      const expected = await runOp(cpu, inputs, op, outputs);
      const actual = await runOp(under.backend!, inputs, op, outputs);
      for (const name of outputs) expect(worstError(actual[name], expected[name]), name).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  test('decoding one token per sequence at scattered cache positions, 6 query heads over 2 key/value heads', async () => {
    const B = 4, NH = 6, KVH = 2, HS = 8, QC = NH * HS, KC = KVH * HS, Tmax = 20;
    const inputs = {
      q: uniform(random, B * QC, 2), kCache: uniform(random, B * Tmax * KC, 2), vCache: uniform(random, B * Tmax * KC),
      positions: Int32Array.of(0, 7, 19, 3), out: uniform(random, B * QC),
    };
    const op = (b: Backend, t: Record<string, Tensor>) =>
      b.attentionDecode(t.out, t.q, t.kCache, t.vCache, t.positions, B, 1, NH, KVH, HS, Tmax);
    const expected = await runOp(cpu, inputs, op, ['out']);
    const actual = await runOp(under.backend!, inputs, op, ['out']);
    expect(worstError(actual.out, expected.out)).toBeLessThanOrEqual(TOLERANCE);
  });

  test('a cache position past the cache is refused', () => {
    const t = (n: number) => under.backend!.zeros(n);
    expect(() => under.backend!.attentionDecode(t(8), t(8), t(16), t(16), under.backend!.upload(Int32Array.of(2)), 1, 1, 1, 1, 8, 2))
      .toThrow(/cache position 2 is outside 0..1/);
  });
});

describe('RPT_BLAS', () => {
  test('a library that does not exist is an error naming it and the cause', async () => {
    const load = await loadBlas('/nonexistent/libblas.so');
    expect(load.blas).toBeUndefined();
    expect(load.error).toMatch(/^RPT_BLAS=\/nonexistent\/libblas.so \(\/nonexistent\/libblas.so: .+\)$/);
  });

  test('a library without cblas_sgemm is refused', async () => {
    const load = await loadBlas(process.platform === 'darwin' ? '/usr/lib/libSystem.B.dylib' : 'libc.so.6');
    expect(load.blas).toBeUndefined();
    expect(load.error).toMatch(/cblas_sgemm/);
  });

  test('none asks for no library', async () => {
    expect(await loadBlas('none')).toEqual({ error: 'RPT_BLAS=none' });
  });
});


// Attention of new queries against the KV cache, each head's products through BLAS and its
// softmax in the SIMD kernels (scores in the SIMD module's memory, as in attention.ts).
import { regions, simdKernels } from '../simd/kernels.ts';
import type { Blas } from './library.ts';

/**
 * out[B,Tq,NH,HS]: query (b, t) at position p = positions[b*Tq + t] attends to the cached keys
 * and values 0..p of sequence b, query head h to key/value head floor(h / (NH/KVH));
 * q [B,Tq,NH,HS]; kCache, vCache [B,Tmax,KVH,HS].
 */
export function attentionDecode(
  blas: Blas, out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array, positions: Int32Array,
  B: number, Tq: number, NH: number, KVH: number, HS: number, Tmax: number,
): void {
  const QC = NH * HS, KC = KVH * HS, group = NH / KVH;
  const { at: [scoresAt, countsAt], f32: [scores], i32: [, counts] } = regions([Tq * Tmax, Tq]);
  for (let b = 0; b < B; b++) {
    // Every query of the sequence scores the keys up to the furthest one among them; each row
    // then masks the keys past its own position.
    let count = 0;
    for (let t = 0; t < Tq; t++) {
      const position = positions[b * Tq + t];
      if (!(position >= 0 && position < Tmax)) throw new RangeError(`cache position ${position} is outside 0..${Tmax - 1}`);
      counts[t] = position + 1;
      count = Math.max(count, counts[t]);
    }
    for (let h = 0; h < NH; h++) {
      const query = b * Tq * QC + h * HS, cached = b * Tmax * KC + Math.floor(h / group) * HS;
      // scores[Tq,count] = q_h @ k_h^T / sqrt(HS), then each row's softmax
      blas.sgemm(false, true, Tq, count, HS, 1 / Math.sqrt(HS), q.subarray(query), QC, kCache.subarray(cached), KC, 0, scores, count);
      simdKernels().softmaxRows(scoresAt, Tq, count, countsAt);
      // out_h[Tq,HS] = scores @ v_h
      blas.sgemm(false, false, Tq, HS, count, 1, scores, count, vCache.subarray(cached), KC, 0, out.subarray(query), QC);
    }
  }
}

// Attention of new queries against the KV cache, each head's products through BLAS.
import { softmaxRow } from './attention.ts';
import type { Blas } from './library.ts';

/**
 * out[B,Tq,NH,HS]: query (b, t) at position p = positions[b*Tq + t] attends to the cached keys
 * and values 0..p of sequence b; q [B,Tq,NH,HS]; kCache, vCache [B,Tmax,NH,HS].
 */
export function attentionDecode(
  blas: Blas, out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array, positions: Int32Array,
  B: number, Tq: number, NH: number, HS: number, Tmax: number,
): void {
  const C = NH * HS;
  const scores = new Float32Array(Tq * Tmax);
  for (let b = 0; b < B; b++) {
    // Every query of the sequence scores the keys up to the furthest one among them; each row
    // then masks the keys past its own position.
    let count = 0;
    for (let t = 0; t < Tq; t++) count = Math.max(count, positions[b * Tq + t] + 1);
    if (!(count >= 1 && count <= Tmax)) throw new RangeError(`cache position ${count - 1} is outside 0..${Tmax - 1}`);
    for (let h = 0; h < NH; h++) {
      const query = b * Tq * C + h * HS, cached = b * Tmax * C + h * HS;
      // scores[Tq,count] = q_h @ k_h^T / sqrt(HS)
      blas.sgemm(false, true, Tq, count, HS, 1 / Math.sqrt(HS), q.subarray(query), C, kCache.subarray(cached), C, 0, scores, count);
      for (let t = 0; t < Tq; t++) softmaxRow(scores, t * count, positions[b * Tq + t] + 1, count);
      // out_h[Tq,HS] = scores @ v_h
      blas.sgemm(false, false, Tq, HS, count, 1, scores, count, vCache.subarray(cached), C, 0, out.subarray(query), C);
    }
  }
}

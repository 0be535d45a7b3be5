// Causal grouped-query self-attention with each head's score and value products through BLAS and
// its softmax in the SIMD kernels. A head of sequence b is a strided [T, HS] view of the
// [B, T, heads, HS] activations (row stride NH*HS for queries, KVH*HS for keys and values), which
// BLAS reads in place; query head h reads key/value head floor(h / (NH/KVH)). The scores of one
// head live in the SIMD module's memory, where BLAS writes them and the softmax reads them
// without a copy.
import { regions, simdKernels } from '../simd/kernels.ts';
import type { Blas } from './library.ts';

/** out[B,T,NH,HS], probs[B,NH,T,T] = causal softmax(q k^T / sqrt(HS)) v per query head; k, v [B,T,KVH,HS] */
export function attentionForward(
  blas: Blas, out: Float32Array, probs: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
  B: number, T: number, NH: number, KVH: number, HS: number,
): void {
  const QC = NH * HS, KC = KVH * HS, group = NH / KVH;
  const { at: [scoresAt, countsAt], f32: [scores], i32: [, counts] } = regions([T * T, T]);
  counts.forEach((_, t) => (counts[t] = t + 1)); // query t sees keys 0..t
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const head = b * T * QC + h * HS, kvHead = b * T * KC + Math.floor(h / group) * HS;
      // scores[T,T] = q_h @ k_h^T / sqrt(HS), then the causal softmax of each row
      blas.sgemm(false, true, T, T, HS, 1 / Math.sqrt(HS), q.subarray(head), QC, k.subarray(kvHead), KC, 0, scores, T);
      simdKernels().softmaxRows(scoresAt, T, T, countsAt);
      // out_h[T,HS] = probs @ v_h
      blas.sgemm(false, false, T, HS, T, 1, scores, T, v.subarray(kvHead), KC, 0, out.subarray(head), QC);
      probs.set(scores, (b * NH + h) * T * T);
    }
  }
}

/** dq [B,T,NH,HS] +=; dk, dv [B,T,KVH,HS] += over every query head of their group */
export function attentionBackward(
  blas: Blas, dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, probs: Float32Array,
  q: Float32Array, k: Float32Array, v: Float32Array, B: number, T: number, NH: number, KVH: number, HS: number,
): void {
  const QC = NH * HS, KC = KVH * HS, group = NH / KVH;
  const { at: [dscoresAt, pAt, countsAt], f32: [dscores, p], i32: [, , counts] } = regions([T * T, T * T, T]);
  counts.forEach((_, t) => (counts[t] = t + 1));
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const head = b * T * QC + h * HS, kvHead = b * T * KC + Math.floor(h / group) * HS;
      p.set(probs.subarray((b * NH + h) * T * T, (b * NH + h + 1) * T * T));
      const doutHead = dout.subarray(head);
      // through out = probs @ v: dprobs[T,T] = dout_h @ v_h^T, dv_h += probs^T @ dout_h
      blas.sgemm(false, true, T, T, HS, 1, doutHead, QC, v.subarray(kvHead), KC, 0, dscores, T);
      blas.sgemm(true, false, T, HS, T, 1, p, T, doutHead, QC, 1, dv.subarray(kvHead), KC);
      // through the softmax, then the 1/sqrt(HS) of the scores
      simdKernels().softmaxBackwardRows(dscoresAt, pAt, T, T, countsAt, 1 / Math.sqrt(HS));
      // through scores = q_h @ k_h^T: dq_h += dscores @ k_h, dk_h += dscores^T @ q_h
      blas.sgemm(false, false, T, HS, T, 1, dscores, T, k.subarray(kvHead), KC, 1, dq.subarray(head), QC);
      blas.sgemm(true, false, T, HS, T, 1, dscores, T, q.subarray(head), QC, 1, dk.subarray(kvHead), KC);
    }
  }
}

// Causal self-attention with each head's score and value products through BLAS. A head of
// sequence b is a strided [T, HS] view of the [B, T, NH, HS] activations (row stride C = NH*HS),
// which BLAS reads in place; only the softmax runs in TypeScript.
import { exp } from '../exp.ts';
import type { Blas } from './library.ts';

/** out[B,T,NH,HS], probs[B,NH,T,T] = causal softmax(q k^T / sqrt(HS)) v per head */
export function attentionForward(
  blas: Blas, out: Float32Array, probs: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
  B: number, T: number, NH: number, HS: number,
): void {
  const C = NH * HS;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const head = b * T * C + h * HS;
      const scores = probs.subarray((b * NH + h) * T * T, (b * NH + h + 1) * T * T);
      // scores[T,T] = q_h @ k_h^T / sqrt(HS); the part above the diagonal is masked below
      blas.sgemm(false, true, T, T, HS, 1 / Math.sqrt(HS), q.subarray(head), C, k.subarray(head), C, 0, scores, T);
      for (let t = 0; t < T; t++) softmaxRow(scores, t * T, t + 1, T);
      // out_h[T,HS] = probs @ v_h
      blas.sgemm(false, false, T, HS, T, 1, scores, T, v.subarray(head), C, 0, out.subarray(head), C);
    }
  }
}

/** dq, dk, dv [B,T,NH,HS] += */
export function attentionBackward(
  blas: Blas, dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, probs: Float32Array,
  q: Float32Array, k: Float32Array, v: Float32Array, B: number, T: number, NH: number, HS: number,
): void {
  const C = NH * HS;
  const scale = 1 / Math.sqrt(HS);
  const dscores = new Float32Array(T * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const head = b * T * C + h * HS;
      const p = probs.subarray((b * NH + h) * T * T, (b * NH + h + 1) * T * T);
      const doutHead = dout.subarray(head);
      // through out = probs @ v: dprobs[T,T] = dout_h @ v_h^T, dv_h += probs^T @ dout_h
      blas.sgemm(false, true, T, T, HS, 1, doutHead, C, v.subarray(head), C, 0, dscores, T);
      blas.sgemm(true, false, T, HS, T, 1, p, T, doutHead, C, 1, dv.subarray(head), C);
      // through the softmax (probs are 0 above the diagonal, so dscores is too), then the scale
      for (let t = 0; t < T; t++) {
        const row = t * T;
        let dot = 0;
        for (let j = 0; j <= t; j++) dot += p[row + j] * dscores[row + j];
        for (let j = 0; j < T; j++) dscores[row + j] = p[row + j] * (dscores[row + j] - dot) * scale;
      }
      // through scores = q_h @ k_h^T: dq_h += dscores @ k_h, dk_h += dscores^T @ q_h
      blas.sgemm(false, false, T, HS, T, 1, dscores, T, k.subarray(head), C, 1, dq.subarray(head), C);
      blas.sgemm(true, false, T, HS, T, 1, dscores, T, q.subarray(head), C, 1, dk.subarray(head), C);
    }
  }
}

/**
 * The scores x[offset .. offset+count) become their softmax, and x[offset+count .. offset+width)
 * become 0 (the masked keys).
 */
export function softmaxRow(x: Float32Array, offset: number, count: number, width: number): void {
  let max = -Infinity;
  for (let j = 0; j < count; j++) if (x[offset + j] > max) max = x[offset + j];
  let sum = 0;
  for (let j = 0; j < count; j++) {
    const e = exp(x[offset + j] - max);
    x[offset + j] = e;
    sum += e;
  }
  const inverse = 1 / sum;
  for (let j = 0; j < count; j++) x[offset + j] *= inverse;
  x.fill(0, offset + count, offset + width);
}

// The linear layer (weight in the PyTorch layout [OC, C], no bias) as three BLAS products.
import type { Blas } from './library.ts';

/** out[N,OC] = inp[N,C] @ weight[OC,C]^T */
export function matmulForward(blas: Blas, out: Float32Array, inp: Float32Array, weight: Float32Array, N: number, C: number, OC: number): void {
  blas.sgemm(false, true, N, OC, C, 1, inp, C, weight, C, 0, out, OC);
}

/** dinp[N,C] += dout[N,OC] @ weight[OC,C], dweight[OC,C] += dout^T @ inp[N,C] */
export function matmulBackward(
  blas: Blas, dinp: Float32Array, dweight: Float32Array, dout: Float32Array, inp: Float32Array, weight: Float32Array,
  N: number, C: number, OC: number,
): void {
  blas.sgemm(false, false, N, C, OC, 1, dout, OC, weight, C, 1, dinp, C);
  blas.sgemm(true, false, OC, C, N, 1, dout, OC, inp, C, 1, dweight, C);
}

// The bias of a linear layer (Qwen2's q, k and v projections), added after the matrix product.

/** out[N,OC] += bias[OC] on every row */
export function biasForward(out: Float32Array, bias: Float32Array, N: number, OC: number): void {
  for (let n = 0; n < N; n++) {
    const row = n * OC;
    for (let o = 0; o < OC; o++) out[row + o] += bias[o];
  }
}

/** dbias[OC] += sum over n of dout[n, :] */
export function biasBackward(dbias: Float32Array, dout: Float32Array, N: number, OC: number): void {
  for (let n = 0; n < N; n++) {
    const row = n * OC;
    for (let o = 0; o < OC; o++) dbias[o] += dout[row + o];
  }
}

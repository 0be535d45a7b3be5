// RMSNorm (no mean subtraction, no bias), as in Llama.

/** out[N,C] = inp * rstd * weight[C], rstd[N] = 1 / sqrt(mean(inp^2) + eps) */
export function rmsnormForward(
  out: Float32Array, rstd: Float32Array, inp: Float32Array, weight: Float32Array, N: number, C: number, eps: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let sumSquares = 0;
    for (let c = 0; c < C; c++) sumSquares += inp[row + c] * inp[row + c];
    const r = 1 / Math.sqrt(sumSquares / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[row + c] = inp[row + c] * r * weight[c];
  }
}

/**
 * dinp[N,C] +=, dweight[C] +=
 * With x̂ = inp * rstd: dinp = rstd * (g - x̂ * mean(g * x̂)) where g = dout * weight.
 */
export function rmsnormBackward(
  dinp: Float32Array, dweight: Float32Array, dout: Float32Array, inp: Float32Array, weight: Float32Array, rstd: Float32Array,
  N: number, C: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    const r = rstd[n];
    let dot = 0; // sum over c of g * x̂
    for (let c = 0; c < C; c++) dot += dout[row + c] * weight[c] * inp[row + c] * r;
    const meanDot = dot / C;
    for (let c = 0; c < C; c++) {
      const normalized = inp[row + c] * r;
      dweight[c] += dout[row + c] * normalized;
      dinp[row + c] += r * (dout[row + c] * weight[c] - normalized * meanDot);
    }
  }
}

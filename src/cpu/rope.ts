// Rotary position embedding, "rotate half" pairing as in Hugging Face Llama: within each head,
// element i pairs with element i + HS/2 and the pair turns by the angle position * theta^(-2i/HS).

/** out[N,NH,HS] = R(positions[n]) inp; `out` may be `inp`. */
export function ropeForward(
  out: Float32Array, inp: Float32Array, positions: Int32Array, N: number, NH: number, HS: number, theta: number,
): void {
  const half = HS / 2;
  const frequencies = ropeFrequencies(HS, theta);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < half; i++) {
      const angle = positions[n] * frequencies[i];
      const cos = Math.cos(angle), sin = Math.sin(angle);
      for (let h = 0; h < NH; h++) {
        const first = (n * NH + h) * HS + i, second = first + half;
        const x1 = inp[first], x2 = inp[second];
        out[first] = x1 * cos - x2 * sin;
        out[second] = x2 * cos + x1 * sin;
      }
    }
  }
}

/** dinp[N,NH,HS] += R(positions[n])^T dout */
export function ropeBackward(
  dinp: Float32Array, dout: Float32Array, positions: Int32Array, N: number, NH: number, HS: number, theta: number,
): void {
  const half = HS / 2;
  const frequencies = ropeFrequencies(HS, theta);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < half; i++) {
      const angle = positions[n] * frequencies[i];
      const cos = Math.cos(angle), sin = Math.sin(angle);
      for (let h = 0; h < NH; h++) {
        const first = (n * NH + h) * HS + i, second = first + half;
        const d1 = dout[first], d2 = dout[second];
        dinp[first] += d1 * cos + d2 * sin;
        dinp[second] += d2 * cos - d1 * sin;
      }
    }
  }
}

/** theta^(-2i/HS) for i < HS/2 */
function ropeFrequencies(HS: number, theta: number): Float64Array {
  const frequencies = new Float64Array(HS / 2);
  for (let i = 0; i < HS / 2; i++) frequencies[i] = Math.pow(theta, (-2 * i) / HS);
  return frequencies;
}

// Rotary position embedding, "rotate half" pairing as in Hugging Face Llama: within each head,
// element i pairs with element i + HS/2 and the pair turns by the angle position * theta^(-2i/HS).

/** out[N,NH,HS] = R(positions[n]) inp; `out` may be `inp`. */
export function ropeForward(
  out: Float32Array, inp: Float32Array, positions: Int32Array, N: number, NH: number, HS: number, theta: number,
): void {
  const half = HS / 2;
  const { cos, sin } = ropeAngles(positions, N, HS, theta);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < NH; h++) {
      for (let i = 0; i < half; i++) {
        const first = (n * NH + h) * HS + i, second = first + half, angle = positions[n] * half + i;
        const x1 = inp[first], x2 = inp[second];
        out[first] = x1 * cos[angle] - x2 * sin[angle];
        out[second] = x2 * cos[angle] + x1 * sin[angle];
      }
    }
  }
}

/** dinp[N,NH,HS] += R(positions[n])^T dout, the rotation by the opposite angle */
export function ropeBackward(
  dinp: Float32Array, dout: Float32Array, positions: Int32Array, N: number, NH: number, HS: number, theta: number,
): void {
  const half = HS / 2;
  const { cos, sin } = ropeAngles(positions, N, HS, theta);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < NH; h++) {
      for (let i = 0; i < half; i++) {
        const first = (n * NH + h) * HS + i, second = first + half, angle = positions[n] * half + i;
        const d1 = dout[first], d2 = dout[second];
        dinp[first] += d1 * cos[angle] + d2 * sin[angle];
        dinp[second] += d2 * cos[angle] - d1 * sin[angle];
      }
    }
  }
}

// The angles of the positions seen so far, kept across calls (one table per thread): the same
// few positions recur in every layer and step, and cos/sin cost more than the rotation itself.
let table = { theta: 0, HS: 0, cos: new Float64Array(0), sin: new Float64Array(0) };

/** cos and sin [P, HS/2] of p * theta^(-2i/HS) for every position p up to the largest in positions[0..N) */
export function ropeAngles(positions: Int32Array, N: number, HS: number, theta: number): { cos: Float64Array; sin: Float64Array } {
  const half = HS / 2;
  let P = 0;
  for (let n = 0; n < N; n++) {
    if (!(positions[n] >= 0)) throw new RangeError(`position ${positions[n]} at row ${n} is negative`);
    P = Math.max(P, positions[n] + 1);
  }
  if (table.theta !== theta || table.HS !== HS || table.cos.length < P * half) {
    const cos = new Float64Array(P * half), sin = new Float64Array(P * half);
    for (let i = 0; i < half; i++) {
      const frequency = Math.pow(theta, (-2 * i) / HS);
      for (let p = 0; p < P; p++) {
        cos[p * half + i] = Math.cos(p * frequency);
        sin[p * half + i] = Math.sin(p * frequency);
      }
    }
    table = { theta, HS, cos, sin };
  }
  return table;
}

// Token embedding: a row lookup into the table wte[V, C].

/** out[N,C] = wte[tokens[n], :] */
export function embeddingForward(out: Float32Array, tokens: Int32Array, wte: Float32Array, N: number, C: number): void {
  const V = wte.length / C;
  for (let n = 0; n < N; n++) {
    const token = tokens[n];
    if (!(token >= 0 && token < V)) throw new RangeError(`token ${token} at row ${n} is outside the vocabulary of ${V}`);
    out.set(wte.subarray(token * C, token * C + C), n * C);
  }
}

/** dwte[tokens[n], :] += dout[n, :] */
export function embeddingBackward(dwte: Float32Array, dout: Float32Array, tokens: Int32Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const row = tokens[n] * C;
    for (let c = 0; c < C; c++) dwte[row + c] += dout[n * C + c];
  }
}

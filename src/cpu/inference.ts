import { logSumExp } from './logprob.ts';

/** out[R,C] = inp[rows[r], :] for r < R */
export function gatherRows(out: Float32Array, inp: Float32Array, rows: Int32Array, R: number, C: number): void {
  for (let r = 0; r < R; r++) {
    const row = rows[r];
    if (!(row >= 0 && row * C < inp.length)) throw new RangeError(`row ${row} is outside the input of ${inp.length / C} rows`);
    out.set(inp.subarray(row * C, row * C + C), r * C);
  }
}

/** out[N] = argmax_v logits[n, v], the lowest index on ties */
export function argmax(out: Int32Array, logits: Float32Array, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[n * V + v] > logits[n * V + best]) best = v;
    out[n] = best;
  }
}

/** out[N] = entropy (nats) of softmax over the k largest logits of each row */
export function topkEntropy(out: Float32Array, logits: Float32Array, N: number, V: number, k: number): void {
  const kept = Math.min(k, V);
  const top = new Float32Array(kept);
  for (let n = 0; n < N; n++) {
    largestValues(top, logits, n * V, V);
    const lse = logSumExp(top, 0, kept);
    let entropy = 0;
    for (let i = 0; i < kept; i++) {
      const logp = top[i] - lse;
      entropy -= Math.exp(logp) * logp;
    }
    out[n] = entropy;
  }
}

/** top[0..k) = the k largest of x[offset .. offset+V), descending, by insertion into a short sorted list */
function largestValues(top: Float32Array, x: Float32Array, offset: number, V: number): void {
  const k = top.length;
  top.fill(-Infinity);
  for (let v = 0; v < V; v++) {
    const value = x[offset + v];
    if (value <= top[k - 1]) continue;
    let i = k - 1;
    while (i > 0 && top[i - 1] < value) {
      top[i] = top[i - 1];
      i--;
    }
    top[i] = value;
  }
}

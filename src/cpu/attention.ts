// Causal grouped-query self-attention over B sequences of length T: queries [B, T, NH, HS], keys
// and values [B, T, KVH, HS], query head h reading key/value head floor(h / (NH/KVH)) (with
// KVH = NH, plain multi-head attention). The softmax rows are kept in probs [B, NH, T, T] for the
// backward pass.

/** out[B,T,NH,HS], probs[B,NH,T,T] = causal softmax(q k^T / sqrt(HS)) v per query head */
export function attentionForward(
  out: Float32Array, probs: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
  B: number, T: number, NH: number, KVH: number, HS: number,
): void {
  const QC = NH * HS, KC = KVH * HS, group = NH / KVH;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kvHead = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const query = (b * T + t) * QC + h * HS;
        const row = ((b * NH + h) * T + t) * T;
        attendOneQuery(out, probs, row, q, query, k, v, b * T * KC + kvHead * HS, KC, t + 1, HS);
        probs.fill(0, row + t + 1, row + T);
      }
    }
  }
}

/**
 * One query (HS values at q[query]) over `count` keys and values whose rows start at
 * first + j * stride in k and v: the softmax weights go to probs[row + j], and their sum of
 * values to out[query .. query + HS).
 */
export function attendOneQuery(
  out: Float32Array, probs: Float32Array | Float64Array, row: number, q: Float32Array, query: number,
  k: Float32Array, v: Float32Array, first: number, stride: number, count: number, HS: number,
): void {
  const scale = 1 / Math.sqrt(HS);
  let max = -Infinity;
  for (let j = 0; j < count; j++) {
    const key = first + j * stride;
    let score = 0;
    for (let i = 0; i < HS; i++) score += q[query + i] * k[key + i];
    probs[row + j] = score * scale;
    if (probs[row + j] > max) max = probs[row + j];
  }
  let sum = 0;
  for (let j = 0; j < count; j++) {
    probs[row + j] = Math.exp(probs[row + j] - max);
    sum += probs[row + j];
  }
  out.fill(0, query, query + HS);
  for (let j = 0; j < count; j++) {
    probs[row + j] /= sum;
    const p = probs[row + j], value = first + j * stride;
    for (let i = 0; i < HS; i++) out[query + i] += p * v[value + i];
  }
}

/** dq [B,T,NH,HS] +=; dk, dv [B,T,KVH,HS] += over every query head of their group */
export function attentionBackward(
  dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, probs: Float32Array,
  q: Float32Array, k: Float32Array, v: Float32Array, B: number, T: number, NH: number, KVH: number, HS: number,
): void {
  const QC = NH * HS, KC = KVH * HS, group = NH / KVH;
  const scale = 1 / Math.sqrt(HS);
  const dprobs = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kvHead = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const query = (b * T + t) * QC + h * HS;
        const row = ((b * NH + h) * T + t) * T;
        // through out = probs @ v
        let probsDotDprobs = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const value = (b * T + t2) * KC + kvHead * HS;
          const p = probs[row + t2];
          let dp = 0;
          for (let i = 0; i < HS; i++) {
            dp += dout[query + i] * v[value + i];
            dv[value + i] += p * dout[query + i];
          }
          dprobs[t2] = dp;
          probsDotDprobs += p * dp;
        }
        // through the softmax, then the scaled scores q . k
        for (let t2 = 0; t2 <= t; t2++) {
          const dscore = probs[row + t2] * (dprobs[t2] - probsDotDprobs) * scale;
          const key = (b * T + t2) * KC + kvHead * HS;
          for (let i = 0; i < HS; i++) {
            dq[query + i] += dscore * k[key + i];
            dk[key + i] += dscore * q[query + i];
          }
        }
      }
    }
  }
}

// The loss head: log-probabilities of given tokens under softmax(logits). Losses are built on
// top of these by the caller, which hands back their derivative dlogp.
import { exp } from './exp.ts';

/** logp[N] = log softmax(logits[n, :])[targets[n]] */
export function logprobForward(logp: Float32Array, logits: Float32Array, targets: Int32Array, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    checkTarget(targets[n], n, V);
    logp[n] = logits[n * V + targets[n]] - logSumExp(logits, n * V, V);
  }
}

/** dlogits[N,V] = dlogp[n] * (onehot(targets[n]) - softmax(logits[n, :]))  (overwrites) */
export function logprobBackward(
  dlogits: Float32Array, dlogp: Float32Array, logits: Float32Array, targets: Int32Array, N: number, V: number,
): void {
  for (let n = 0; n < N; n++) {
    checkTarget(targets[n], n, V);
    const row = n * V;
    // softmax in two passes over the row: exp(logit - max) into dlogits, then scaled by -dlogp / sum
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[row + v] > max) max = logits[row + v];
    let sum = 0;
    for (let v = 0; v < V; v++) {
      const e = exp(logits[row + v] - max);
      dlogits[row + v] = e;
      sum += e;
    }
    const scale = -dlogp[n] / sum;
    for (let v = 0; v < V; v++) dlogits[row + v] *= scale;
    dlogits[row + targets[n]] += dlogp[n];
  }
}

/** log sum_v exp(x[offset + v]) for v < V, shifted by the maximum to stay finite */
export function logSumExp(x: Float32Array, offset: number, V: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (x[offset + v] > max) max = x[offset + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += exp(x[offset + v] - max);
  return max + Math.log(sum);
}

export function checkTarget(target: number, n: number, V: number): void {
  if (!(target >= 0 && target < V)) throw new RangeError(`target ${target} at row ${n} is outside the vocabulary of ${V}`);
}

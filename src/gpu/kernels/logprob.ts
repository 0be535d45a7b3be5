// The loss head: log-probabilities of given tokens under softmax(logits). One invocation per
// row of V logits: no workgroup barriers, which lavapipe runs slowly.
import type { Kernel } from '../kernel.ts';

// lse = log sum_v exp(logits[row + v]), shifted by the maximum to stay finite.
const rowLogSumExp = `
fn log_sum_exp(row: u32, V: u32) -> f32 {
  var maxLogit = -3.0e38;
  for (var v = 0u; v < V; v++) { maxLogit = max(maxLogit, logits[row + v]); }
  var sum = 0.0;
  for (var v = 0u; v < V; v++) { sum += exp(logits[row + v] - maxLogit); }
  return maxLogit + log(sum);
}`;

/** logp[N] = log softmax(logits[n, :])[targets[n]] */
export const logprobForward: Kernel = {
  name: 'logprob_forward',
  bindings: { logp: 'write f32', logits: 'read f32', targets: 'read i32' },
  params: { V: 'u32' },
  functions: rowLogSumExp,
  body: `
  let row = i * p.V;
  logp[i] = logits[row + u32(targets[i])] - log_sum_exp(row, p.V);`,
};

/** dlogits[N,V] = dlogp[n] * (onehot(targets[n]) - softmax(logits[n, :]))  (overwrites) */
export const logprobBackward: Kernel = {
  name: 'logprob_backward',
  bindings: { dlogits: 'write f32', dlogp: 'read f32', logits: 'read f32', targets: 'read i32' },
  params: { V: 'u32' },
  functions: rowLogSumExp,
  body: `
  let row = i * p.V;
  let lse = log_sum_exp(row, p.V);
  let d = dlogp[i];
  let targetIndex = u32(targets[i]);
  for (var v = 0u; v < p.V; v++) {
    dlogits[row + v] = select(0.0, d, v == targetIndex) - d * exp(logits[row + v] - lse);
  }`,
};

// The two loss heads, as plain functions of the per-token log-probabilities logp (read back from
// the device) that return the loss and its derivative dlogp, which goes back for the backward.

export interface LossHeadResult {
  loss: number;
  dlogp: Float32Array;
}

/**
 * Next-token cross-entropy, the mean of -logp over tokens with mask 1 (mask 0 tokens, e.g.
 * padding, do not count). A mask with no token gives loss 0 and zero gradient.
 */
export function maskedCrossEntropy(logp: Float32Array, mask: ArrayLike<number>): LossHeadResult {
  const count = sum(mask);
  const dlogp = new Float32Array(logp.length);
  let loss = 0;
  if (count === 0) return { loss, dlogp };
  for (let i = 0; i < logp.length; i++) {
    loss -= mask[i] * logp[i];
    dlogp[i] = -mask[i] / count;
  }
  return { loss: loss / count, dlogp };
}

export type Aggregation = 'token_mean' | 'seq_mean';

export interface ClippedSurrogateInput {
  logp: Float32Array; // [B*T] under the policy being trained
  oldLogp: Float32Array; // [B*T] under the policy that sampled the tokens
  advantages: Float32Array; // [B*T] per token, usually the sequence's advantage on each of its tokens
  mask: ArrayLike<number>; // [B*T] 1 on response tokens, 0 elsewhere
  T: number; // tokens per sequence, for seq_mean
  clipLow?: number; // ratio floor 1 - clipLow; default 0.2
  clipHigh?: number; // ratio ceiling 1 + clipHigh; default 0.2
  aggregation?: Aggregation; // default token_mean
}

export interface ClippedSurrogateResult extends LossHeadResult {
  clipFraction: number; // share of response tokens whose gradient the clip removed
  approxKl: number; // mean over response tokens of (r - 1) - log r, r = p_new / p_old: an estimate of KL(old || new)
}

/**
 * The PPO clipped surrogate used by GRPO: per token, with ratio r = exp(logp - oldLogp) and
 * advantage A, objective min(r A, clip(r, 1 - clipLow, 1 + clipHigh) A); the loss is the negated
 * objective averaged over all response tokens of the batch (token_mean) or within each sequence
 * and then over sequences that have any (seq_mean).
 */
export function clippedSurrogate(input: ClippedSurrogateInput): ClippedSurrogateResult {
  const { logp, oldLogp, advantages, mask, T } = input;
  const clipLow = input.clipLow ?? 0.2, clipHigh = input.clipHigh ?? 0.2;
  const weights = aggregationWeights(mask, T, input.aggregation ?? 'token_mean');
  const dlogp = new Float32Array(logp.length);
  let loss = 0, clipped = 0, kl = 0;
  for (let i = 0; i < logp.length; i++) {
    if (mask[i] === 0) continue;
    const ratio = Math.exp(logp[i] - oldLogp[i]);
    const advantage = advantages[i];
    const unclipped = ratio * advantage;
    const clippedObjective = Math.min(Math.max(ratio, 1 - clipLow), 1 + clipHigh) * advantage;
    if (clippedObjective < unclipped) {
      // The clipped term is the minimum and constant in logp: no gradient.
      loss -= weights[i] * clippedObjective;
      clipped += mask[i];
    } else {
      loss -= weights[i] * unclipped;
      dlogp[i] = -weights[i] * unclipped; // d(r A)/dlogp = r A
    }
    kl += mask[i] * (ratio - 1 - Math.log(ratio));
  }
  const count = sum(mask);
  return { loss, dlogp, clipFraction: count > 0 ? clipped / count : 0, approxKl: count > 0 ? kl / count : 0 };
}

/** Per-token weights that sum to 1 over the batch (or are all 0 when the mask is empty). */
export function aggregationWeights(mask: ArrayLike<number>, T: number, aggregation: Aggregation): Float64Array {
  const weights = new Float64Array(mask.length);
  if (aggregation === 'token_mean') {
    const count = sum(mask);
    if (count > 0) for (let i = 0; i < mask.length; i++) weights[i] = mask[i] / count;
    return weights;
  }
  if (mask.length % T !== 0) throw new Error(`${mask.length} tokens do not form sequences of ${T}`);
  const rowCounts: number[] = [];
  for (let start = 0; start < mask.length; start += T) {
    let count = 0;
    for (let t = 0; t < T; t++) count += mask[start + t];
    rowCounts.push(count);
  }
  const sequences = rowCounts.filter((count) => count > 0).length;
  rowCounts.forEach((count, row) => {
    if (count === 0) return;
    for (let t = 0; t < T; t++) weights[row * T + t] = mask[row * T + t] / count / sequences;
  });
  return weights;
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

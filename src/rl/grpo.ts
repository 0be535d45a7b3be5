// GRPO, as RPT uses it: rewards are compared within the group of responses to one context, the
// policy takes clipped-surrogate steps on those group-relative advantages, optionally held near
// a frozen reference by a KL penalty. Log-probabilities are the model's own (temperature 1)
// even when rollouts are drawn at another temperature; verl, by contrast, divides the logits by
// the sampling temperature first.

import { sequenceLogprobs } from '../model/infer.ts';
import { aggregationWeights, clippedSurrogate, type Aggregation, type ClippedSurrogateInput, type ClippedSurrogateResult } from '../model/loss.ts';
import type { AdamW } from '../model/optimizer.ts';
import { trainStep } from '../model/train-step.ts';
import type { Transformer } from '../model/transformer.ts';
import { batchLayout, policyBatch } from './policy-batch.ts';

/** Added to the standard deviation so that a near-uniform group does not blow its advantages up. */
export const ADVANTAGE_EPS = 1e-6;

/**
 * Advantage of each response of a group: r - mean(r), divided by (std(r) + eps) when `byStd`.
 * std is the sample standard deviation (n - 1), as in verl, the stack the paper ran on. A group
 * whose rewards are all equal gets advantage 0 everywhere.
 */
export function groupAdvantages(rewards: readonly number[], byStd: boolean): number[] {
  const n = rewards.length;
  const mean = rewards.reduce((total, r) => total + r, 0) / n;
  const deviations = rewards.map((r) => r - mean);
  if (!byStd) return deviations;
  const std = n > 1 ? Math.sqrt(deviations.reduce((total, d) => total + d * d, 0) / (n - 1)) : 0;
  return deviations.map((d) => d / (std + ADVANTAGE_EPS));
}

/** A group that teaches nothing: every response earned the same reward. */
export function allEqual(rewards: readonly number[]): boolean {
  return rewards.every((r) => r === rewards[0]);
}

export interface GrpoLossInput extends ClippedSurrogateInput {
  refLogp?: Float32Array; // [B*T] under the frozen reference, needed when klCoefficient > 0
  klCoefficient: number;
}

export interface GrpoLossResult extends ClippedSurrogateResult {
  refKl: number; // mean over response tokens of the k3 estimate of KL(policy || reference); 0 without a reference
}

/**
 * The clipped surrogate plus klCoefficient times the k3 estimator of KL(policy || reference) per
 * token, k3 = exp(ref - logp) - (ref - logp) - 1 (unbiased, never negative), averaged over
 * tokens with the surrogate's own aggregation. Its derivative is 1 - exp(ref - logp).
 */
export function grpoLoss(input: GrpoLossInput): GrpoLossResult {
  const surrogate = clippedSurrogate(input);
  const { logp, refLogp, klCoefficient, mask, T } = input;
  if (klCoefficient === 0) return { ...surrogate, refKl: 0 };
  if (refLogp === undefined) throw new Error('a KL penalty needs the log-probabilities of a reference model');
  const weights = aggregationWeights(mask, T, input.aggregation ?? 'token_mean');
  let loss = surrogate.loss, klSum = 0, tokens = 0;
  for (let i = 0; i < logp.length; i++) {
    if (mask[i] === 0) continue;
    const delta = refLogp[i] - logp[i];
    const kl = Math.exp(delta) - delta - 1;
    loss += klCoefficient * weights[i] * kl;
    surrogate.dlogp[i] += klCoefficient * weights[i] * (1 - Math.exp(delta));
    klSum += mask[i] * kl;
    tokens += mask[i];
  }
  return { ...surrogate, loss, refKl: tokens > 0 ? klSum / tokens : 0 };
}

/** One response as the learner trains on it. */
export interface LearnerRow {
  prompt: Int32Array;
  response: Int32Array;
  oldLogp: Float32Array; // per response token, under the weights that sampled it
  advantage: number;
}

export interface GrpoSettings {
  clipLow: number;
  clipHigh: number;
  aggregation: Aggregation;
  klCoefficient: number; // 0: no reference needed
  updates: number; // the groups are split into this many mini-batches, one optimizer step each
}

export interface GrpoUpdateResult {
  loss: number; // means over the optimizer steps
  clipFraction: number;
  policyKl: number; // drift from the sampling weights, (r - 1) - log r per token
  refKl: number | null; // null without a KL penalty
  gradNorm: number;
  optimizerSteps: number;
}

/**
 * GRPO's update on a batch of groups (each a list of rows): the groups are split in order into
 * `settings.updates` mini-batches of whole groups (fewer when there are fewer groups), and each
 * takes one optimizer step at learning rate `lr`. After the first, the policy has moved away
 * from the weights that sampled the rows, which is what the ratio's clip is for.
 */
export async function grpoUpdate(model: Transformer, optimizer: AdamW, reference: Transformer | null, groups: readonly (readonly LearnerRow[])[], settings: GrpoSettings, lr: number): Promise<GrpoUpdateResult> {
  if (settings.klCoefficient > 0 && reference === null) throw new Error('a KL penalty needs a reference model');
  const perUpdate = Math.ceil(groups.length / settings.updates);
  const totals = { loss: 0, clipFraction: 0, policyKl: 0, refKl: 0, gradNorm: 0 };
  let steps = 0;
  for (let first = 0; first < groups.length; first += perUpdate) {
    const rows = groups.slice(first, first + perUpdate).flat();
    const batch = policyBatch(rows);
    const oldLogp = batchLayout(rows.map((row) => row.oldLogp), batch);
    const advantages = batchLayout(rows.map((row) => new Float32Array(row.response.length).fill(row.advantage)), batch);
    const refLogp = settings.klCoefficient > 0 ? await sequenceLogprobs(reference!, batch.inputs, batch.targets, batch.B, batch.T) : undefined;
    const result = await trainStep(model, optimizer, batch, (logp) => grpoLoss({
      logp, oldLogp, advantages, refLogp, mask: batch.mask, T: batch.T,
      clipLow: settings.clipLow, clipHigh: settings.clipHigh, aggregation: settings.aggregation, klCoefficient: settings.klCoefficient,
    }), lr);
    totals.loss += result.loss;
    totals.clipFraction += result.clipFraction;
    totals.policyKl += result.approxKl;
    totals.refKl += result.refKl;
    totals.gradNorm += result.gradNorm;
    steps++;
  }
  return {
    loss: totals.loss / steps,
    clipFraction: totals.clipFraction / steps,
    policyKl: totals.policyKl / steps,
    refKl: settings.klCoefficient > 0 ? totals.refKl / steps : null,
    gradNorm: totals.gradNorm / steps,
    optimizerSteps: steps,
  };
}

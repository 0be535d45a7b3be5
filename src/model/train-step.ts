// One optimisation step: forward, log-probabilities of the targets, the loss head on the host
// (its only readback is logp, N floats), backward from dlogp, clipping and AdamW on the device.

import type { LossHeadResult } from './loss.ts';
import type { AdamW } from './optimizer.ts';
import type { Transformer } from './transformer.ts';

export interface TrainBatch {
  inputs: Int32Array; // [B*T]
  targets: Int32Array; // [B*T], the token each position should predict (any valid id where masked)
  B: number;
  T: number;
  positions?: Int32Array; // [B*T], default 0..T-1 per row
}

/** Runs one step; returns the loss head's result with the global gradient norm before clipping. */
export async function trainStep<R extends LossHeadResult>(
  model: Transformer, optimizer: AdamW, batch: TrainBatch, lossHead: (logp: Float32Array) => R, lr: number,
): Promise<R & { gradNorm: number }> {
  const { inputs, targets, B, T, positions } = batch;
  const acts = model.forward(inputs, B, T, { positions, forBackward: true });
  const result = lossHead(await model.backend.read(model.logprobs(acts, targets)));
  model.zeroGrads();
  model.backward(acts, result.dlogp);
  optimizer.update(lr);
  return { ...result, gradNorm: await optimizer.gradNorm() };
}

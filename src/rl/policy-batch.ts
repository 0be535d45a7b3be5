// Prompt + response sequences laid out as one batch for the policy's forward pass, and the
// per-token scores read back from it: the log-probability of each response token and the
// policy's entropy where it chose it.

import type { TrainBatch } from '../model/train-step.ts';
import type { Transformer } from '../model/transformer.ts';

export interface PolicyBatch extends TrainBatch {
  mask: Float32Array; // [B*T] 1 where the target is a response token
  responseStarts: number[]; // per row, the slot whose target is the response's first token
  responseLengths: number[];
}

/** The entropy metric is the policy's top-k entropy, as the data filter measures difficulty. */
export const ENTROPY_TOP_K = 16;

/** Rows of prompt ++ response, inputs and targets shifted by one, right-padded with token 0. */
export function policyBatch(sequences: readonly { prompt: Int32Array; response: Int32Array }[]): PolicyBatch {
  const B = sequences.length;
  const T = Math.max(...sequences.map(({ prompt, response }) => prompt.length + response.length - 1));
  const inputs = new Int32Array(B * T), targets = new Int32Array(B * T), mask = new Float32Array(B * T);
  const responseStarts: number[] = [], responseLengths: number[] = [];
  sequences.forEach(({ prompt, response }, b) => {
    const tokens = new Int32Array(prompt.length + response.length);
    tokens.set(prompt);
    tokens.set(response, prompt.length);
    inputs.set(tokens.subarray(0, tokens.length - 1), b * T);
    targets.set(tokens.subarray(1), b * T);
    mask.fill(1, b * T + prompt.length - 1, b * T + tokens.length - 1);
    responseStarts.push(prompt.length - 1);
    responseLengths.push(response.length);
  });
  return { inputs, targets, mask, B, T, responseStarts, responseLengths };
}

/** values[B*T] of a batch cut into one array per row's response tokens. */
export function perResponse(values: Float32Array, batch: PolicyBatch): Float32Array[] {
  return batch.responseStarts.map((start, b) => values.slice(b * batch.T + start, b * batch.T + start + batch.responseLengths[b]));
}

/** The inverse of perResponse: one array per row's response tokens laid out as [B*T], 0 elsewhere. */
export function batchLayout(perRow: readonly ArrayLike<number>[], batch: PolicyBatch): Float32Array {
  const out = new Float32Array(batch.B * batch.T);
  perRow.forEach((values, b) => out.set(values, b * batch.T + batch.responseStarts[b]));
  return out;
}

/** logp and top-k entropy [B*T] under `model`, from one forward pass without gradients. */
export async function policyScores(model: Transformer, batch: PolicyBatch): Promise<{ logp: Float32Array; entropy: Float32Array }> {
  const { backend, config } = model;
  const acts = model.forward(batch.inputs, batch.B, batch.T);
  const logp = await backend.read(model.logprobs(acts, batch.targets));
  const out = backend.zeros(acts.N);
  backend.topkEntropy(out, acts.logits, acts.N, config.vocabSize, ENTROPY_TOP_K);
  const entropy = await backend.read(out);
  backend.release(out);
  return { logp, entropy };
}

import { bytesStartWith } from './prefix-match.ts';

// The paper's first-token ablation: only the next ground-truth token is judged. The prediction
// is right when it begins with that token's bytes; whatever it says after them is not checked.

/** 1 if the prediction starts with continuation[0 .. boundaries[0]), the first token's bytes, else 0. */
export function firstTokenReward(prediction: Uint8Array, continuation: Uint8Array, boundaries: readonly number[]): number {
  if (boundaries.length === 0 || boundaries[0] === 0) return 0;
  return bytesStartWith(prediction, continuation.subarray(0, boundaries[0])) ? 1 : 0;
}

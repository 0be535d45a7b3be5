// The paper's prefix-matching reward (RPT Eq. 3), over bytes: the prediction is right when its
// bytes equal the start of the true continuation and it ends exactly on a boundary between the
// continuation's tokens. Predicting the next token, or the next k tokens, exactly is right; a
// prediction that stops inside a token, or runs on into a wrong byte, is not.

/**
 * 1 if prediction == continuation[0 .. l) with l = prediction.length > 0 one of `boundaries`
 * (the cumulative byte lengths of the ground-truth tokens), else 0.
 */
export function prefixMatchReward(prediction: Uint8Array, continuation: Uint8Array, boundaries: readonly number[]): number {
  const length = prediction.length;
  if (length === 0 || !boundaries.includes(length)) return 0;
  return bytesStartWith(continuation, prediction) ? 1 : 0;
}

/** Whether `bytes` begins with every byte of `prefix`. */
export function bytesStartWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

import { prefixMatchReward } from './prefix-match.ts';

// The paper's dense ablation: a right prediction (by prefix matching) scores 1, a wrong one the
// probability the policy gave its own wrong guess, so a confident mistake earns more than a wild
// one. That probability is exp(guessLogprob): the product, over the answer's tokens, of the
// policy's probability of each given the prompt, the thought and the answer tokens before it,
// at temperature 1 and before any top-k/top-p filtering (the closing <end> marker is not part of
// the guess).

export function denseReward(prediction: Uint8Array, continuation: Uint8Array, boundaries: readonly number[], guessLogprob: number): number {
  if (prefixMatchReward(prediction, continuation, boundaries) === 1) return 1;
  return Math.exp(guessLogprob);
}

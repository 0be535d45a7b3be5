// The reward of one parsed prediction, by the experiment's reward rule: a built-in function of
// bytes, or the user's module in its worker pool.

import { resolve } from 'node:path';
import type { RewardIR } from '../../dsl/ir.ts';
import type { BytesWithBoundaries } from './context.ts';
import { RewardModulePool } from './reward-module.ts';
import { denseReward } from './rewards/dense.ts';
import { firstTokenReward } from './rewards/first-token.ts';
import { prefixMatchReward } from './rewards/prefix-match.ts';

export interface VerifierInput {
  context: Uint8Array; // the document text before the predicted position
  prediction: Uint8Array;
  continuation: BytesWithBoundaries;
  guessLogprob: number; // log-probability of the answer tokens under the policy (dense reward)
}

export interface Verdict {
  reward: number;
  error?: string; // why a reward module gave no reward; the reward is then 0
}

export class Verifier {
  private readonly pool: RewardModulePool | undefined;

  /** A module path is taken relative to `baseDir`, the experiment file's folder. */
  constructor(private readonly reward: RewardIR, baseDir: string, threads = 1) {
    if (reward.kind === 'module') this.pool = new RewardModulePool({ path: resolve(baseDir, reward.path), timeoutMs: reward.timeout_ms, threads });
  }

  async score(input: VerifierInput): Promise<Verdict> {
    const { prediction, continuation } = input;
    switch (this.reward.kind) {
      case 'prefix_match':
        return { reward: prefixMatchReward(prediction, continuation.bytes, continuation.boundaries) };
      case 'first_token':
        return { reward: firstTokenReward(prediction, continuation.bytes, continuation.boundaries) };
      case 'dense':
        return { reward: denseReward(prediction, continuation.bytes, continuation.boundaries, input.guessLogprob) };
      case 'module':
        return this.pool!.score({ context: input.context, prediction, continuation: continuation.bytes, boundaries: continuation.boundaries }, this.reward.options);
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

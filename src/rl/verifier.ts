// The reward of one parsed prediction, by the experiment's reward rule: a built-in function of
// bytes, or the user's module in its worker pool. The RPT loop verifies a step's rollouts a
// group at a time through a GroupVerifier: this one in the loop's thread, or the actor
// runtime's pool (runtime/verifier-pool.ts).

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

export type BuiltinRewardKind = Exclude<RewardIR['kind'], 'module'>;

/** A built-in reward rule's reward of one prediction (a pure function of bytes). */
export function builtinReward(kind: BuiltinRewardKind, input: Omit<VerifierInput, 'context'>): number {
  const { prediction, continuation } = input;
  switch (kind) {
    case 'prefix_match':
      return prefixMatchReward(prediction, continuation.bytes, continuation.boundaries);
    case 'first_token':
      return firstTokenReward(prediction, continuation.bytes, continuation.boundaries);
    case 'dense':
      return denseReward(prediction, continuation.bytes, continuation.boundaries, input.guessLogprob);
  }
}

/** Verdicts for groups of rollouts, one per input, in order. */
export interface GroupVerifier {
  verifyGroups(groups: VerifierInput[][]): Promise<Verdict[][]>;
  close(): Promise<void>;
}

export class Verifier implements GroupVerifier {
  private readonly pool: RewardModulePool | undefined;

  /** A module path is taken relative to `baseDir`, the experiment file's folder. */
  constructor(private readonly reward: RewardIR, baseDir: string, threads = 1) {
    if (reward.kind === 'module') this.pool = new RewardModulePool({ path: resolve(baseDir, reward.path), timeoutMs: reward.timeout_ms, threads });
  }

  async score(input: VerifierInput): Promise<Verdict> {
    if (this.reward.kind !== 'module') return { reward: builtinReward(this.reward.kind, input) };
    const { context, prediction, continuation } = input;
    return this.pool!.score({ context, prediction, continuation: continuation.bytes, boundaries: continuation.boundaries }, this.reward.options);
  }

  verifyGroups(groups: VerifierInput[][]): Promise<Verdict[][]> {
    return Promise.all(groups.map((inputs) => Promise.all(inputs.map((input) => this.score(input)))));
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

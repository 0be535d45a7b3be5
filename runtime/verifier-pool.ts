// The RPT graph's verifiers: `threads` worker threads that reward a step's rollouts. Built-in
// rules (pure functions of bytes) run in a piscina pool, a whole group per task so that the
// per-task overhead is paid once per group rather than per rollout. A reward module keeps its
// own pool (src/rl/reward-module.ts), which times out and replaces a hung call, as piscina
// cannot without penalising the calls queued behind it.

import type { Piscina } from 'piscina';
import type { RewardIR } from '../dsl/ir.ts';
import { Verifier, type GroupVerifier, type Verdict, type VerifierInput } from '../src/rl/verifier.ts';
import { tsxPiscina } from './tsx-worker.ts';
import type { VerifyTask } from './verify-task.ts';

export class VerifierPool implements GroupVerifier {
  private readonly pool: Piscina | undefined;
  private readonly module: Verifier | undefined;

  constructor(
    private readonly reward: RewardIR,
    baseDir: string,
    threads: number,
  ) {
    if (reward.kind === 'module') {
      this.module = new Verifier(reward, baseDir, threads);
      return;
    }
    this.pool = tsxPiscina('./verify-task', import.meta.url, threads);
  }

  async verifyGroups(groups: VerifierInput[][]): Promise<Verdict[][]> {
    if (this.module) return this.module.verifyGroups(groups);
    const kind = this.reward.kind as VerifyTask['kind'];
    const settled = await Promise.allSettled(groups.map(async (inputs) => {
      if (inputs.length === 0) return [];
      const task: VerifyTask = { kind, inputs: inputs.map(({ prediction, continuation, guessLogprob }) => ({ prediction, continuation, guessLogprob })) };
      const rewards = (await this.pool!.run(task)) as number[];
      return rewards.map((reward) => ({ reward }));
    }));
    // Every group settles before a failure is raised: the pool may be closed next, and a task
    // still running would then answer a pool that no longer knows it (an uncaught error in piscina).
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((outcome) => (outcome as PromiseFulfilledResult<Verdict[]>).value);
  }

  async close(): Promise<void> {
    await this.module?.close();
    await this.pool?.destroy();
  }
}


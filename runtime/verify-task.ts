// A piscina task of the verifier pool (runtime/verifier-pool.ts): the built-in reward of every
// parseable rollout of one group.
import { builtinReward, type BuiltinRewardKind, type VerifierInput } from '../src/rl/verifier.ts';

export interface VerifyTask {
  kind: BuiltinRewardKind;
  inputs: Omit<VerifierInput, 'context'>[]; // one group's
}

export default function verifyGroup(task: VerifyTask): number[] {
  return task.inputs.map((input) => builtinReward(task.kind, input));
}

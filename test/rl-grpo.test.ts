// GRPO: group advantages and the loss's gradient by hand on a tiny batch; dynamic sampling
// never trains on a group whose rewards are all equal; and a tiny model trained from scratch on
// a task where one answer is always right learns to give it.

import { afterAll, describe, expect, test } from 'vitest';
import type { LearnerIR, RewardIR } from '../dsl/ir.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { modelConfig } from '../src/model/config.ts';
import { initParams } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';
import type { RptContext } from '../src/rl/context.ts';
import { allEqual, groupAdvantages, grpoLoss } from '../src/rl/grpo.ts';
import { localRptLoop, type RptLoop, type RptLoopInputs, type StepResult } from '../src/rl/loop.ts';
import type { ReasoningVocabulary } from '../src/rl/prompt.ts';
import { reasoningAccuracy } from '../src/rl/reasoning-eval.ts';
import { Random } from '../src/util/random.ts';
import { specialFormat } from '../src/rl/special-format.ts';

const backend = new CpuBackend();
function expectClose(actual: ArrayLike<number>, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, i) => expect(actual[i]).toBeCloseTo(value, 5));
}

afterAll(() => backend.destroy());

// Four letters and the four markers: small enough that an untrained policy finds the right
// answer now and then.
const TOKENS = ['a', 'b', 'c', 'd', '<think>', '</think>', '<answer>', '<end>'];
const VOCABULARY: ReasoningVocabulary = {
  specialIds: { '<think>': 4, '</think>': 5, '<answer>': 6, '<end>': 7 },
  tokenBytes: (id) => new TextEncoder().encode(TOKENS[id]),
};

/** Contexts of random letters, each followed by "ab": the answer "a" is always right. */
function alwaysAContexts(count: number): RptLoopInputs['contexts'] {
  const random = new Random(3);
  const contexts: RptContext[] = Array.from({ length: count }, (_, i) => ({
    document: i,
    offset: 6,
    context: Int32Array.from({ length: 6 }, () => random.int(0, 3)),
    continuation: Int32Array.of(0, 1),
  }));
  return { count, at: (index) => contexts[index] };
}

function learner(overrides: Partial<LearnerIR>): Omit<LearnerIR, 'algorithm'> {
  return {
    rollouts: 8, batch: 8, lr: 1e-2, betas: [0.9, 0.999], weight_decay: 0, clip_low: 0.2, clip_high: 0.2, kl: 0,
    loss: 'token_mean', advantage_std: true, dynamic_sampling_after: null, updates_per_batch: 1, steps: 100, grad_clip: 1, warmup: 0,
    ...overrides,
  };
}

/** The toy policy from scratch, always from the same initialisation. */
function toyModel(): Transformer {
  const config = modelConfig({ vocabSize: TOKENS.length, layers: 1, dim: 32, heads: 2, context: 16, tiedEmbeddings: true });
  return new Transformer(backend, config, initParams(config, 11));
}

function toyLoop(learnerSettings: Omit<LearnerIR, 'algorithm'>, thinkTokens: number, reward: RewardIR = { kind: 'prefix_match' }, reference: Transformer | null = null, model = toyModel()): RptLoop {
  return localRptLoop({
    model,
    reference,
    format: specialFormat(VOCABULARY),
    contexts: alwaysAContexts(32),
    policy: { think_tokens: thinkTokens, answer_tokens: 1, temperature: 1, top_p: 1, top_k: 0 },
    reward,
    learner: learnerSettings,
    baseDir: '.',
    seed: 5,
    configVersion: 1,
  });
}

describe('group advantages', () => {
  test('(r - mean) / (sample std + eps), or r - mean alone', () => {
    // mean 0.5; sample std sqrt(4 * 0.25 / 3) = sqrt(1/3)
    const expected = 0.5 / (Math.sqrt(1 / 3) + 1e-6);
    expectClose(groupAdvantages([1, 0, 0, 1], true), [expected, -expected, -expected, expected]);
    expectClose(groupAdvantages([1, 0, 0, 1], false), [0.5, -0.5, -0.5, 0.5]);
    // mean 0.25; deviations 0.75, -0.25 x3; sample std sqrt((0.5625 + 3 * 0.0625) / 3) = 0.5
    expectClose(groupAdvantages([1, 0, 0, 0], true), [0.75 / 0.500001, -0.25 / 0.500001, -0.25 / 0.500001, -0.25 / 0.500001]);
  });

  test('a group of equal rewards has no advantage, and is the one dynamic sampling drops', () => {
    expect(groupAdvantages([0.3, 0.3, 0.3], true)).toEqual([0, 0, 0]);
    expect(allEqual([0.3, 0.3, 0.3])).toBe(true);
    expect(allEqual([1, 1, 0])).toBe(false);
  });
});

describe('GRPO loss on a tiny batch', () => {
  // Two rows of two tokens; row 1's first token is prompt (masked out). Per response token:
  //   token 0: ratio 1,           A =  0.5: inside the clip range, gradient -w r A
  //   token 1: ratio exp(0.4),    A =  0.5: above 1 + 0.2 with A > 0: clipped, no gradient
  //   token 3: ratio exp(0.1),    A = -1:   inside the range, gradient -w r A
  const logp = Float32Array.of(-1, -2, -0.5, -1.5);
  const oldLogp = Float32Array.of(-1, -2.4, -0.5, -1.6);
  const advantages = Float32Array.of(0.5, 0.5, -1, -1);
  const mask = Float32Array.of(1, 1, 0, 1);
  const refLogp = Float32Array.of(-1.2, -2, 0, -1.3);
  const r1 = Math.exp(0.4), r3 = Math.exp(0.1);
  const k3 = (d: number) => Math.exp(d) - d - 1; // d = ref - logp: -0.2, 0, 0.2 on the response tokens

  test('token_mean, no KL: the surrogate and its dlogp by hand', () => {
    const w = 1 / 3;
    const result = grpoLoss({ logp, oldLogp, advantages, mask, T: 2, clipLow: 0.2, clipHigh: 0.2, aggregation: 'token_mean', klCoefficient: 0 });
    expect(result.loss).toBeCloseTo(-w * (1 * 0.5 + 1.2 * 0.5 + r3 * -1), 6);
    expectClose(Array.from(result.dlogp), [-w * 0.5, 0, 0, -w * r3 * -1]);
    expect(result.clipFraction).toBeCloseTo(1 / 3, 12);
    expect(result.refKl).toBe(0);
  });

  test('seq_mean with a k3 KL penalty: loss and dlogp by hand, and dlogp matches finite differences', () => {
    const beta = 0.1;
    const w = [0.25, 0.25, 0, 0.5]; // each row's tokens average within the row, then rows average
    const input = { logp, oldLogp, advantages, mask, T: 2, clipLow: 0.2, clipHigh: 0.2, aggregation: 'seq_mean' as const, klCoefficient: beta, refLogp };
    const result = grpoLoss(input);
    const surrogate = -(w[0] * 0.5 + w[1] * 1.2 * 0.5 + w[3] * r3 * -1);
    expect(result.loss).toBeCloseTo(surrogate + beta * (w[0] * k3(-0.2) + w[1] * k3(0) + w[3] * k3(0.2)), 6);
    expectClose(Array.from(result.dlogp), [
      -w[0] * 0.5 + beta * w[0] * (1 - Math.exp(-0.2)),
      beta * w[1] * (1 - Math.exp(0)),
      0,
      -w[3] * r3 * -1 + beta * w[3] * (1 - Math.exp(0.2)),
    ]);
    expect(result.refKl).toBeCloseTo((k3(-0.2) + k3(0) + k3(0.2)) / 3, 6);
    // Token 1 sits on a clipped surrogate, so only its KL term moves with it; the others are smooth.
    for (const i of [0, 1, 3]) {
      const h = 1e-3;
      const shifted = (delta: number) => grpoLoss({ ...input, logp: logp.map((x, j) => (j === i ? x + delta : x)) }).loss;
      expect(result.dlogp[i]).toBeCloseTo((shifted(h) - shifted(-h)) / (2 * h), 4);
    }
    expect(r1).toBeGreaterThan(1.2); // token 1 is indeed past the clip
  });

  test('a KL penalty without reference log-probabilities is refused', () => {
    expect(() => grpoLoss({ logp, oldLogp, advantages, mask, T: 2, klCoefficient: 0.1 })).toThrow(/reference/);
  });
});

describe('dynamic sampling', () => {
  test('from its first step on, no group with all-equal rewards is trained on; before it, they are', async () => {
    const loop = toyLoop(learner({ steps: 4, dynamic_sampling_after: 2 }), 0);
    const results: StepResult[] = [];
    await loop.run((result) => results.push(result));
    await loop.close();
    const [before, ...after] = results;
    expect(before.metrics.sampling_rounds).toBe(1);
    expect(before.trained.length).toBe(8);
    expect(before.trained.some((group) => allEqual(group.rollouts.map((r) => r.reward)))).toBe(true);
    for (const { metrics, trained } of after) {
      expect(trained.length).toBe(metrics.groups_trained);
      expect(trained.length).toBeLessThanOrEqual(8);
      for (const group of trained) expect(allEqual(group.rollouts.map((r) => r.reward))).toBe(false);
    }
    // An untrained policy rarely answers right, so refilling takes several rounds.
    expect(after.some(({ metrics }) => metrics.sampling_rounds > 1 && metrics.groups_sampled > 8)).toBe(true);
    // The weights that sampled each step are one update newer only after a step that trained.
    results.slice(1).forEach(({ metrics }, i) => expect(metrics.weight_version).toBe(results[i].metrics.weight_version + (results[i].trained.length > 0 ? 1 : 0)));
  });
});

describe('KL to a frozen reference', () => {
  test('is reported once the policy moves away from the reference, and needs one', async () => {
    const reference = toyModel();
    // The dense reward differs between responses, so the first update already has advantages to follow.
    const loop = toyLoop(learner({ steps: 1, kl: 0.1, updates_per_batch: 2 }), 0, { kind: 'dense' }, reference);
    const { metrics } = await loop.takeStep();
    await loop.close();
    expect(metrics.ref_kl).toBeGreaterThan(0); // the second update sees the first one's change
    expect(metrics.policy_kl).toBeGreaterThan(0);
    expect(metrics.optimizer_steps).toBe(2); // 8 groups in 2 mini-batches of 4
    const unreferenced = toyLoop(learner({ steps: 1, kl: 0.1 }), 0);
    await expect(unreferenced.takeStep()).rejects.toThrow(/reference/);
    await unreferenced.close();
  });
});

describe('a user reward module in the loop', () => {
  test('calls that throw, return NaN or hang are reported in the step metrics, scored 0, and the run goes on', async () => {
    const reward: RewardIR = { kind: 'module', path: 'test/fixtures/rewards/by-letter.ts', timeout_ms: 300, options: {} };
    const loop = toyLoop(learner({ steps: 5, batch: 4, rollouts: 16 }), 0, reward);
    const results: StepResult[] = [];
    await loop.run((result) => results.push(result));
    await loop.close();
    expect(results.length).toBe(5);
    const rollouts = results.flatMap(({ trained }) => trained.flatMap((group) => group.rollouts));
    const answered = (letter: string) => rollouts.filter((r) => r.parsed.unparseable === undefined && new TextDecoder().decode(r.parsed.prediction) === letter);
    for (const letter of ['b', 'c', 'd']) {
      expect(answered(letter).length).toBeGreaterThan(0);
      for (const rollout of answered(letter)) {
        expect(rollout.reward).toBe(0);
        expect(rollout.rewardError).toContain('by-letter.ts');
      }
    }
    for (const rollout of answered('a')) {
      expect(rollout.reward).toBe(1);
      expect(rollout.rewardError).toBeUndefined();
    }
    const errors = results.flatMap(({ metrics }) => metrics.reward_errors);
    expect(errors.length).toBe(answered('b').length + answered('c').length + answered('d').length);
    expect(errors).toContain(`reward module ${process.cwd()}/test/fixtures/rewards/by-letter.ts did not return within 300 ms`);
  });
});

describe('toy task', () => {
  // From scratch, with a thought of up to 2 tokens: the policy must learn to close its thought,
  // answer "a" and end. At first nearly every group is all wrong and teaches nothing.
  const policy = toyModel();

  test('mean reward rises from near 0 to near 1 within 80 steps when "a" is always right', async () => {
    const loop = toyLoop(learner({ steps: 80 }), 2, { kind: 'prefix_match' }, null, policy);
    const rewards: number[] = [];
    const recentMean = () => rewards.slice(-5).reduce((total, r) => total + r, 0) / 5;
    while (loop.step < 80 && !(rewards.length >= 5 && recentMean() >= 0.9)) rewards.push((await loop.takeStep()).metrics.mean_reward);
    await loop.close();
    expect(rewards.slice(0, 5).every((r) => r < 0.1)).toBe(true);
    expect(recentMean()).toBeGreaterThanOrEqual(0.9);
  });

  // Greedy reasoning-mode evaluation of the trained policy, which now answers "a" (then <end>):
  // right where the continuation starts with "a", wrong elsewhere, tallied by difficulty.
  test('reasoning-mode accuracy of the trained policy, by difficulty bucket', async () => {
    const contexts = alwaysAContexts(8);
    const positions = Array.from({ length: 8 }, (_, i) => ({
      context: { ...contexts.at(i), continuation: i < 4 ? Int32Array.of(0, 1) : Int32Array.of(1, 0) },
      entropy: i < 4 ? 2 : 0.7, // "ab" positions are hard (and medium and easy), "ba" ones only easy
    }));
    const result = await reasoningAccuracy(policy, specialFormat(VOCABULARY), positions, {
      budgets: { thinkTokens: 2, answerTokens: 1 },
      sampling: { temperature: 0, topK: 0, topP: 1 },
      seed: 1,
      thresholds: { easy: 0.5, medium: 1, hard: 1.5 },
      contextsPerBatch: 3,
    });
    for (const tally of [result.prefixMatch, result.firstToken]) {
      expect([tally.all, tally.easy, tally.medium, tally.hard].map(({ correct, total }) => [correct, total])).toEqual([[4, 8], [4, 8], [4, 4], [4, 4]]);
    }
    expect(Object.values(result.unparseable).every((count) => count === 0)).toBe(true);
  });
});

// The RPT loop: draw contexts from the kept positions, sample G reasoning rollouts for each,
// score them with the policy (old log-probabilities, entropy), reward them, turn rewards into
// group advantages, and take a GRPO step; repeat. The loop works through three parts: a
// ContextSource that hands out contexts by index, a RolloutEngine that generates and verifies,
// and a PolicyLearner that holds the weights and updates them. localRptLoop puts all three in
// this thread (sampling and learning share one model, so the samplers always hold the newest
// weights); the actor runtime puts them in a data feeder, sampler actors with a verifier pool,
// and a learner actor (runtime/rpt-graph.ts), for which this thread's loop is the reference.
// Everything that decides what is sampled (context indices, seeds, settings) stays here, so
// both give the same steps.

import type { ActorsIR, LearnerIR, PolicyIR, RewardIR } from '../../dsl/ir.ts';
import type { TokenizerReference } from '../checkpoint/checkpoint.ts';
import { learningRate } from '../model/schedule.ts';
import type { Transformer } from '../model/transformer.ts';
import type { LoadedModel } from '../stages/model-checkpoint.ts';
import { Random } from '../util/random.ts';
import type { RptContext } from './context.ts';
import { allEqual, groupAdvantages, type GrpoUpdateResult } from './grpo.ts';
import { LocalLearner, learnerOptimizer, type PolicyLearner } from './learner.ts';
import { UNPARSEABLE_REASONS, type UnparseableReason } from './prompt.ts';
import type { ResponseFormat } from './response-format.ts';
import { generateScored, planGeneration, rolloutGroups, type GenerationJob, type Rollout, type RolloutGroup, type RolloutSettings, type ScoredGeneration } from './rollout.ts';
import { Verifier, type GroupVerifier, type Verdict, type VerifierInput } from './verifier.ts';

/** With dynamic sampling, rounds of sampling a step may take to fill its batch before it trains on fewer groups. */
export const MAX_SAMPLING_ROUNDS = 8;

/** What the loop decides by: everything but where contexts, rollouts and weights are. */
export interface RptLoopSettings {
  format: ResponseFormat; // how prompts are built and responses read
  modelContext: number; // the policy's context length, which prompts are cut to
  policy: Pick<PolicyIR, 'think_tokens' | 'answer_tokens' | 'temperature' | 'top_p' | 'top_k'>;
  reward: RewardIR;
  learner: Omit<LearnerIR, 'algorithm'>;
  seed: number;
  configVersion: number;
}

/** The contexts RPT trains on, by index (the filter's kept positions in order). */
export interface ContextSource {
  readonly count: number;
  take(indices: readonly number[]): Promise<RptContext[]>;
  close?(): Promise<void>;
}

export interface RptLoopParts {
  contexts: ContextSource;
  engine: RolloutEngine;
  learner: PolicyLearner;
}

/** A loop in this thread: what it needs besides its settings. */
export interface RptLoopInputs extends Omit<RptLoopSettings, 'modelContext'> {
  model: Transformer; // the policy, trained in place
  reference: Transformer | null; // frozen, for the KL penalty; needed when learner.kl > 0
  contexts: { count: number; at(index: number): RptContext }; // e.g. keptContext over the filter's positions
  baseDir: string; // the experiment file's folder, for a reward module's path
}

/**
 * The live-safe part of an experiment, which a running loop takes at its next step without
 * losing learner state (runtime/reload.ts decides which edits are live). `actors` matters only
 * to a loop that spreads its work over threads.
 */
export interface LiveSettings {
  configVersion: number;
  policy: Pick<PolicyIR, 'temperature' | 'top_p' | 'top_k'>;
  reward: RewardIR;
  lr: number;
  actors: Pick<ActorsIR, 'samplers' | 'verifiers'>;
}

export interface ScoredRollout extends Rollout {
  logp: Float32Array; // per response token, under the weights that sampled it
  entropy: number; // mean top-k entropy of the policy over the response tokens
  reward: number;
  rewardError?: string;
}

export interface ScoredGroup extends Omit<RolloutGroup, 'rollouts'> {
  rollouts: ScoredRollout[];
  advantages: number[];
}

export interface StepMetrics {
  step: number;
  weight_version: number; // learner steps (each of one or more optimizer steps) behind the weights that sampled this step
  config_version: number;
  lr: number;
  mean_reward: number; // over every rollout sampled this step
  all_equal_fraction: number; // of the groups sampled
  groups_sampled: number;
  groups_trained: number;
  sampling_rounds: number;
  response_length: number; // mean tokens per response, markers included
  think_length: number; // mean thought tokens per response (all of an unclosed thought's, budget + 1)
  unparseable: Record<UnparseableReason, number>;
  reward_errors: string[]; // every error a reward module reported this step (those rollouts scored 0)
  entropy: number; // mean top-k entropy of the policy over sampled response tokens
  loss: number | null; // the GRPO update's figures; null when no group was left to train on
  clip_fraction: number | null;
  policy_kl: number | null;
  ref_kl: number | null; // also null without a KL penalty
  grad_norm: number | null;
  optimizer_steps: number; // mini-batches stepped on; 0 when no group was left to train on
  seconds: StepSeconds;
}

/** Wall seconds of one step: sampling (rollouts and the policy's scoring of them), reward verification, the GRPO update. */
export interface StepSeconds {
  sampling: number;
  verification: number;
  learning: number;
}

export interface StepResult {
  metrics: StepMetrics;
  trained: ScoredGroup[]; // the groups the update used
}

/** Where a loop's rollouts are generated and scored, and their rewards verified. */
export interface RolloutEngine extends GroupVerifier {
  /** The job's generations, one per seed, generated and scored by the learner's newest weights. */
  generate(job: GenerationJob): Promise<ScoredGeneration[]>;
  /** Takes live settings (the loop has taken its part of them) for the steps after the one in progress. */
  reconfigure(settings: LiveSettings): Promise<void>;
}

/** Generation on the learner's own model, verification in this thread (and a reward module's pool). */
class LocalEngine implements RolloutEngine {
  private verifier: Verifier;

  constructor(
    private readonly model: Transformer,
    reward: RewardIR,
    private readonly baseDir: string,
  ) {
    this.verifier = new Verifier(reward, baseDir);
  }

  generate(job: GenerationJob): Promise<ScoredGeneration[]> {
    return generateScored(this.model, job);
  }

  verifyGroups(groups: VerifierInput[][]): Promise<Verdict[][]> {
    return this.verifier.verifyGroups(groups);
  }

  /** A new reward rule, or a reward module whose code changed, gets a fresh verifier. */
  async reconfigure(settings: LiveSettings): Promise<void> {
    await this.verifier.close();
    this.verifier = new Verifier(settings.reward, this.baseDir);
  }

  close(): Promise<void> {
    return this.verifier.close();
  }
}

/** The loop with its contexts, sampling, verification and learning all in this thread. */
export function localRptLoop(inputs: RptLoopInputs): RptLoop {
  const { model, reference, contexts, baseDir, ...settings } = inputs;
  return new RptLoop({ ...settings, modelContext: model.config.context }, {
    contexts: { count: contexts.count, take: async (indices) => indices.map((index) => contexts.at(index)) },
    engine: new LocalEngine(model, inputs.reward, baseDir),
    learner: new LocalLearner(model, learnerOptimizer(model, inputs.learner), reference),
  });
}

export class RptLoop {
  step = 0; // loop steps taken
  weightVersion = 0; // learner steps that updated the weights
  private readonly inputs: RptLoopSettings;
  private readonly parts: RptLoopParts;

  constructor(settings: RptLoopSettings, parts: RptLoopParts) {
    // A copy, so that reconfigure() never writes into the caller's objects.
    this.inputs = { ...settings, policy: { ...settings.policy }, learner: { ...settings.learner } };
    if (parts.contexts.count < 1) throw new Error('no contexts to train on: the filter kept no positions');
    this.parts = parts;
  }

  /** Steps until learner.steps have been taken, handing each result to `onStep`. */
  async run(onStep: (result: StepResult) => void): Promise<void> {
    while (this.step < this.inputs.learner.steps) onStep(await this.takeStep());
  }

  async takeStep(): Promise<StepResult> {
    const { learner } = this.inputs;
    const step = this.step + 1;
    const weightVersion = this.weightVersion;
    const dynamic = learner.dynamic_sampling_after !== null && step >= learner.dynamic_sampling_after;
    // Each step's draws depend on (seed, step) alone, so a loop resumed at a step from a
    // checkpoint draws the same contexts and rollouts as one that never stopped.
    const random = new Random((this.inputs.seed ^ Math.imul(step, 0x9e3779b1)) >>> 0);
    const sampled: ScoredGroup[] = [];
    const kept: ScoredGroup[] = [];
    const seconds: StepSeconds = { sampling: 0, verification: 0, learning: 0 };
    let rounds = 0;
    while (rounds < (dynamic ? MAX_SAMPLING_ROUNDS : 1) && kept.length < learner.batch) {
      rounds++;
      const groups = await this.sampleGroups(learner.batch - kept.length, random, seconds);
      sampled.push(...groups);
      kept.push(...(dynamic ? groups.filter((group) => !allEqual(group.rollouts.map((r) => r.reward))) : groups));
    }
    const lr = learningRate({ maxLr: learner.lr, minLr: learner.lr, warmupSteps: learner.warmup, totalSteps: learner.steps }, step);
    let update: GrpoUpdateResult | null = null;
    const learningStart = performance.now();
    if (kept.length > 0) {
      const groups = kept.map((group) => group.rollouts.map((rollout, i) => ({ prompt: group.prompt, response: rollout.response, oldLogp: rollout.logp, advantage: group.advantages[i] })));
      update = await this.parts.learner.update(groups, {
        clipLow: learner.clip_low, clipHigh: learner.clip_high, aggregation: learner.loss, klCoefficient: learner.kl, updates: learner.updates_per_batch,
      }, lr);
      this.weightVersion++;
    }
    seconds.learning = (performance.now() - learningStart) / 1000;
    this.step = step;
    return { metrics: stepMetrics(step, weightVersion, this.inputs.configVersion, lr, sampled, kept.length, rounds, update, seconds), trained: kept };
  }

  /** Takes live settings for the steps after the one in progress (call it between steps). */
  async reconfigure(settings: LiveSettings): Promise<void> {
    const { inputs } = this;
    Object.assign(inputs.policy, settings.policy);
    inputs.learner.lr = settings.lr;
    inputs.configVersion = settings.configVersion;
    inputs.reward = settings.reward;
    await this.parts.engine.reconfigure(settings);
  }

  /** Continues from a checkpoint (loaded with its optimizer) taken after `step` loop steps and `weightVersion` learner steps. */
  async restore(loaded: LoadedModel, step: number, weightVersion: number): Promise<void> {
    await this.parts.learner.restore(loaded);
    this.step = step;
    this.weightVersion = weightVersion;
  }

  /** The policy's weights now, flat. */
  weights(): Promise<Float32Array> {
    return this.parts.learner.weights();
  }

  /** The learner's weights and optimizer state into the checkpoint folder `dir`. */
  save(dir: string, tokenizer: TokenizerReference, extra: Record<string, string>): Promise<void> {
    return this.parts.learner.save(dir, tokenizer, extra);
  }

  /** Ends every part, the learner last (the others may still hold its work). */
  async close(): Promise<void> {
    const { contexts, engine, learner } = this.parts;
    try {
      await Promise.all([engine.close(), contexts.close?.()]);
    } finally {
      await learner.close();
    }
  }

  /** `count` contexts drawn at random, G rollouts each, scored by the policy and rewarded. */
  private async sampleGroups(count: number, random: Random, seconds: StepSeconds): Promise<ScoredGroup[]> {
    const { format, modelContext, policy, learner, configVersion } = this.inputs;
    const { contexts, engine } = this.parts;
    const samplingStart = performance.now();
    const drawn = await contexts.take(Array.from({ length: count }, () => random.int(0, contexts.count - 1)));
    const settings: RolloutSettings = {
      budgets: { thinkTokens: policy.think_tokens, answerTokens: policy.answer_tokens },
      sampling: { temperature: policy.temperature, topK: policy.top_k, topP: policy.top_p },
      groupSize: learner.rollouts,
      weightVersion: this.weightVersion,
      configVersion,
    };
    const job = planGeneration(drawn, format, settings, modelContext, random);
    const generations = await engine.generate(job);
    const groups = rolloutGroups(drawn, job, generations, format, settings);
    const verificationStart = performance.now();
    seconds.sampling += (verificationStart - samplingStart) / 1000;
    // Each group's parseable rollouts are verified; an unparseable one earns 0.
    const scored: ScoredGroup[] = groups.map((group, c) => ({
      ...group,
      rollouts: group.rollouts.map((rollout, g) => {
        const { logp, entropy } = generations[c * learner.rollouts + g];
        return { ...rollout, logp, entropy: mean(entropy), reward: 0 };
      }),
      advantages: [],
    }));
    const inputs = scored.map((group) => {
      const context = format.bytes(group.context.context).bytes;
      const continuation = format.truth(group.context.continuation);
      return group.rollouts.flatMap(({ parsed, logp }): VerifierInput[] => {
        if (parsed.unparseable !== undefined) return [];
        const guessLogprob = logp.subarray(parsed.answerStart, parsed.answerEnd).reduce((total, x) => total + x, 0);
        return [{ context, prediction: parsed.prediction, continuation, guessLogprob }];
      });
    });
    const verdicts = await engine.verifyGroups(inputs);
    for (const [c, group] of scored.entries()) {
      const parseable = group.rollouts.filter((rollout) => rollout.parsed.unparseable === undefined);
      parseable.forEach((rollout, i) => {
        const { reward, error } = verdicts[c][i];
        rollout.reward = reward;
        if (error !== undefined) rollout.rewardError = error;
      });
      group.advantages = groupAdvantages(group.rollouts.map((r) => r.reward), learner.advantage_std);
    }
    seconds.verification += (performance.now() - verificationStart) / 1000;
    return scored;
  }
}

function stepMetrics(step: number, weightVersion: number, configVersion: number, lr: number, sampled: ScoredGroup[], trained: number, rounds: number, update: GrpoUpdateResult | null, seconds: StepSeconds): StepMetrics {
  const rollouts = sampled.flatMap((group) => group.rollouts);
  const unparseable = Object.fromEntries(UNPARSEABLE_REASONS.map((reason) => [reason, 0])) as Record<UnparseableReason, number>;
  for (const rollout of rollouts) if (rollout.parsed.unparseable !== undefined) unparseable[rollout.parsed.unparseable]++;
  const responseTokens = rollouts.reduce((total, r) => total + r.response.length, 0);
  return {
    step,
    weight_version: weightVersion,
    config_version: configVersion,
    lr,
    mean_reward: mean(rollouts.map((r) => r.reward)),
    all_equal_fraction: sampled.filter((group) => allEqual(group.rollouts.map((r) => r.reward))).length / sampled.length,
    groups_sampled: sampled.length,
    groups_trained: trained,
    sampling_rounds: rounds,
    response_length: responseTokens / rollouts.length,
    think_length: mean(rollouts.map((r) => r.parsed.thinkTokens)),
    unparseable,
    reward_errors: rollouts.flatMap((r) => (r.rewardError === undefined ? [] : [r.rewardError])),
    entropy: rollouts.reduce((total, r) => total + r.entropy * r.response.length, 0) / responseTokens,
    loss: update?.loss ?? null,
    clip_fraction: update?.clipFraction ?? null,
    policy_kl: update?.policyKl ?? null,
    ref_kl: update?.refKl ?? null,
    grad_norm: update?.gradNorm ?? null,
    optimizer_steps: update?.optimizerSteps ?? 0,
    seconds,
  };
}

function mean(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return values.length > 0 ? total / values.length : 0;
}

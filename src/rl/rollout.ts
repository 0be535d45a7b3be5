// Next-token reasoning rollouts: G responses per context, sampled in one batch through the KV
// cache, each from its own seed, then parsed into thought and prediction. The work is cut in
// three so that the actor runtime can do the middle part on other threads: planning (prompts,
// and the seeds drawn from the step's generator) and parsing happen where the contexts and the
// tokenizer are; generation (and the policy's scoring of what it generated) where the weights
// are. Each rollout depends only on its prompt, its seed and the weights, so the results do not
// depend on how the rollouts are spread over batches or threads.

import { generate, type GenerationPhase, type Generation } from '../model/generate.ts';
import type { Transformer } from '../model/transformer.ts';
import type { SamplingSettings } from '../sampling/sample.ts';
import type { Random } from '../util/random.ts';
import type { RptContext } from './context.ts';
import { perResponse, policyBatch, policyScores } from './policy-batch.ts';
import type { ParsedResponse, ResponseBudgets } from './prompt.ts';
import type { ResponseFormat } from './response-format.ts';

export interface Rollout {
  seed: number;
  response: Int32Array; // every generated token, markers included
  parsed: ParsedResponse;
}

export interface RolloutGroup {
  context: RptContext;
  prompt: Int32Array;
  rollouts: Rollout[];
  weightVersion: number; // learner steps taken by the weights that sampled it
  configVersion: number; // the experiment version it was sampled under
}

export interface RolloutSettings {
  budgets: ResponseBudgets;
  sampling: SamplingSettings;
  groupSize: number; // G, responses per context
  weightVersion: number;
  configVersion: number;
}

/** What generating a batch of groups takes: each prompt groupSize times, rollout i from seeds[i]. */
export interface GenerationJob {
  prompts: Int32Array[]; // one per context
  seeds: number[]; // one per rollout, groupSize per prompt, prompt by prompt
  groupSize: number;
  phases: GenerationPhase[];
  sampling: SamplingSettings;
}

/** A generated response with the policy's per-token scores of it, under the weights that generated it. */
export interface ScoredGeneration extends Generation {
  logp: Float32Array; // log-probability of each response token
  entropy: Float32Array; // top-k entropy of the policy where it chose each response token
}

/** The prompts of `contexts`, and one seed per rollout drawn from `random` (after nothing else). */
export function planGeneration(contexts: readonly RptContext[], format: ResponseFormat, settings: Pick<RolloutSettings, 'budgets' | 'sampling' | 'groupSize'>, modelContext: number, random: Random): GenerationJob {
  const { budgets, sampling, groupSize } = settings;
  const prompts = contexts.map((context) => format.prompt(context.context, budgets, modelContext));
  const seeds = Array.from({ length: contexts.length * groupSize }, () => random.uint32());
  return { prompts, seeds, groupSize, phases: format.phases(budgets), sampling };
}

/** The job's generations, one per seed. */
export function generateJob(model: Transformer, job: GenerationJob): Promise<Generation[]> {
  return generate(model, { prompts: job.seeds.map((_, i) => job.prompts[Math.floor(i / job.groupSize)]), seeds: job.seeds, phases: job.phases, sampling: job.sampling });
}

/**
 * The job's generations, each scored by a forward pass of the same model over prompt and
 * response: the old log-probabilities of GRPO, exact on-policy values since these weights
 * sampled the rollouts, and the entropy metric.
 */
export async function generateScored(model: Transformer, job: GenerationJob): Promise<ScoredGeneration[]> {
  const generations = await generateJob(model, job);
  const batch = policyBatch(generations.map((generation, i) => ({ prompt: job.prompts[Math.floor(i / job.groupSize)], response: generation.tokens })));
  const scores = await policyScores(model, batch);
  const logps = perResponse(scores.logp, batch), entropies = perResponse(scores.entropy, batch);
  return generations.map((generation, i) => ({ ...generation, logp: logps[i], entropy: entropies[i] }));
}

/** The job's generations parsed and grouped by context: rollout g of context c is generations[c * groupSize + g]. */
export function rolloutGroups(contexts: readonly RptContext[], job: GenerationJob, generations: readonly Generation[], format: ResponseFormat, settings: RolloutSettings): RolloutGroup[] {
  const { groupSize, budgets, weightVersion, configVersion } = settings;
  return contexts.map((context, c) => ({
    context,
    prompt: job.prompts[c],
    rollouts: generations.slice(c * groupSize, (c + 1) * groupSize).map((generation, g) => ({
      seed: job.seeds[c * groupSize + g],
      response: generation.tokens,
      parsed: format.parse(generation, budgets),
    })),
    weightVersion,
    configVersion,
  }));
}

/** G rollouts for each context; the seeds are drawn from `random`, one per rollout. */
export async function sampleRollouts(model: Transformer, format: ResponseFormat, contexts: readonly RptContext[], settings: RolloutSettings, random: Random): Promise<RolloutGroup[]> {
  const job = planGeneration(contexts, format, settings, model.config.context, random);
  const generations = await generateJob(model, job);
  return rolloutGroups(contexts, job, generations, format, settings);
}

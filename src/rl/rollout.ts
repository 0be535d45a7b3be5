// Next-token reasoning rollouts: G responses per context, sampled in one batch through the KV
// cache, each from its own seed, then parsed into thought and prediction.

import { generate } from '../model/generate.ts';
import type { Transformer } from '../model/transformer.ts';
import type { SamplingSettings } from '../sampling/sample.ts';
import type { Random } from '../util/random.ts';
import type { RptContext } from './context.ts';
import { buildPrompt, parseResponse, responsePhases, type ParsedResponse, type ReasoningVocabulary, type ResponseBudgets } from './prompt.ts';

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

/** G rollouts for each context; the seeds are drawn from `random`, one per rollout. */
export async function sampleRollouts(model: Transformer, vocabulary: ReasoningVocabulary, contexts: readonly RptContext[], settings: RolloutSettings, random: Random): Promise<RolloutGroup[]> {
  const { budgets, sampling, groupSize, weightVersion, configVersion } = settings;
  const prompts = contexts.map((context) => buildPrompt(context.context, vocabulary, budgets, model.config.context));
  const seeds = Array.from({ length: contexts.length * groupSize }, () => random.uint32());
  const generations = await generate(model, {
    prompts: seeds.map((_, i) => prompts[Math.floor(i / groupSize)]),
    seeds,
    phases: responsePhases(vocabulary, budgets),
    sampling,
  });
  return contexts.map((context, c) => ({
    context,
    prompt: prompts[c],
    rollouts: generations.slice(c * groupSize, (c + 1) * groupSize).map((generation, g) => ({
      seed: seeds[c * groupSize + g],
      response: generation.tokens,
      parsed: parseResponse(generation, vocabulary, budgets),
    })),
    weightVersion,
    configVersion,
  }));
}

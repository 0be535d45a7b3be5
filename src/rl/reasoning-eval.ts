// Next-token accuracy in reasoning mode: at each evaluated position the model thinks and then
// predicts, as in RPT training, and the prediction is judged against the true continuation.
// Two criteria, tallied by the filter's difficulty buckets:
// - prefixMatch: RPT's reward is 1 (the prediction is the next token, or the next few, exactly);
// - firstToken: the prediction begins with the true next token, the criterion closest to
//   standard mode's argmax accuracy.
// An unparseable response is wrong by both.

import { BucketTally, type Accuracy, type Bucket, type DifficultyThresholds } from '../eval/next-token.ts';
import type { Transformer } from '../model/transformer.ts';
import type { SamplingSettings } from '../sampling/sample.ts';
import { Random } from '../util/random.ts';
import type { RptContext } from './context.ts';
import { UNPARSEABLE_REASONS, type ResponseBudgets, type UnparseableReason } from './prompt.ts';
import type { ResponseFormat } from './response-format.ts';
import { firstTokenReward } from './rewards/first-token.ts';
import { prefixMatchReward } from './rewards/prefix-match.ts';
import { sampleRollouts } from './rollout.ts';

export interface EvaluatedPosition {
  context: RptContext;
  entropy: number; // the proxy's top-k entropy there, which places it in the buckets
}

export interface ReasoningEvalSettings {
  budgets: ResponseBudgets;
  sampling: SamplingSettings; // temperature 0 for greedy decoding
  seed: number; // for sampling at a temperature above 0
  thresholds: DifficultyThresholds;
  contextsPerBatch: number; // positions generated together
  checkStop?: () => void; // called before each batch; throws to stop the evaluation there
}

export interface ReasoningAccuracy {
  prefixMatch: Record<Bucket, Accuracy>;
  firstToken: Record<Bucket, Accuracy>;
  unparseable: Record<UnparseableReason, number>;
}

export async function reasoningAccuracy(model: Transformer, format: ResponseFormat, positions: readonly EvaluatedPosition[], settings: ReasoningEvalSettings): Promise<ReasoningAccuracy> {
  const prefixMatch = new BucketTally(settings.thresholds), firstToken = new BucketTally(settings.thresholds);
  const unparseable = Object.fromEntries(UNPARSEABLE_REASONS.map((reason) => [reason, 0])) as Record<UnparseableReason, number>;
  const random = new Random(settings.seed);
  for (let first = 0; first < positions.length; first += settings.contextsPerBatch) {
    settings.checkStop?.();
    const batch = positions.slice(first, first + settings.contextsPerBatch);
    const groups = await sampleRollouts(model, format, batch.map((position) => position.context), {
      budgets: settings.budgets, sampling: settings.sampling, groupSize: 1, weightVersion: 0, configVersion: 0,
    }, random);
    groups.forEach((group, i) => {
      const { parsed } = group.rollouts[0];
      const entropy = batch[i].entropy;
      if (parsed.unparseable !== undefined) {
        unparseable[parsed.unparseable]++;
        prefixMatch.add(entropy, false);
        firstToken.add(entropy, false);
        return;
      }
      const truth = format.truth(group.context.continuation);
      prefixMatch.add(entropy, prefixMatchReward(parsed.prediction, truth.bytes, truth.boundaries) === 1);
      firstToken.add(entropy, firstTokenReward(parsed.prediction, truth.bytes, truth.boundaries) === 1);
    });
  }
  return { prefixMatch: prefixMatch.result(), firstToken: firstToken.result(), unparseable };
}

// The learner of the RPT loop: the policy's weights and AdamW moments, GRPO's update of them,
// and their checkpoints. The loop (loop.ts) hands it the groups to train on and never touches
// the weights itself, so the learner may live in this thread (LocalLearner) or in an actor of
// its own (runtime/learner-actor.ts) that publishes every new version to the samplers.

import type { TokenizerReference } from '../checkpoint/checkpoint.ts';
import type { LearnerIR } from '../../dsl/ir.ts';
import { AdamW } from '../model/optimizer.ts';
import type { Transformer } from '../model/transformer.ts';
import { saveModel, type LoadedModel } from '../stages/model-checkpoint.ts';
import { grpoUpdate, type GrpoSettings, type GrpoUpdateResult, type LearnerRow } from './grpo.ts';

export interface PolicyLearner {
  /** GRPO's update on `groups` (rows of one context each), at learning rate `lr`. */
  update(groups: readonly (readonly LearnerRow[])[], settings: GrpoSettings, lr: number): Promise<GrpoUpdateResult>;
  /** The weights and optimizer state of a checkpoint (loaded with its optimizer). */
  restore(loaded: LoadedModel): Promise<void>;
  /** The policy's weights now, flat. */
  weights(): Promise<Float32Array>;
  /** Weights and optimizer state into the checkpoint folder `dir`. */
  save(dir: string, tokenizer: TokenizerReference, extra: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

/** AdamW as the learner block declares it. */
export function learnerOptimizer(model: Transformer, learner: Pick<LearnerIR, 'betas' | 'weight_decay' | 'grad_clip'>): AdamW {
  return new AdamW(model, { beta1: learner.betas[0], beta2: learner.betas[1], weightDecay: learner.weight_decay, maxGradNorm: learner.grad_clip });
}

/** The learner on a model of this thread (which a LocalEngine samples from as well). */
export class LocalLearner implements PolicyLearner {
  constructor(
    private readonly model: Transformer,
    private readonly optimizer: AdamW,
    private readonly reference: Transformer | null, // frozen, for the KL penalty
  ) {}

  update(groups: readonly (readonly LearnerRow[])[], settings: GrpoSettings, lr: number): Promise<GrpoUpdateResult> {
    return grpoUpdate(this.model, this.optimizer, this.reference, groups, settings, lr);
  }

  async restore(loaded: LoadedModel): Promise<void> {
    this.model.importFlat(loaded.flat);
    this.optimizer.importState(loaded.optimizer!);
  }

  weights(): Promise<Float32Array> {
    return this.model.exportFlat();
  }

  save(dir: string, tokenizer: TokenizerReference, extra: Record<string, string>): Promise<void> {
    return saveModel(dir, this.model, this.optimizer, tokenizer, extra);
  }

  async close(): Promise<void> {
    this.model.releaseActivations();
    this.reference?.releaseActivations();
  }
}

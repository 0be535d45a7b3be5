// The evaluator actor (runtime/evaluator.ts is its client): evaluates RPT's evaluation
// checkpoints on its own backend (with webgpu, its own GPUDevice) while the RL loop goes on.
// The holdout positions and the tokenizer are loaded once per thread; each checkpoint is loaded,
// evaluated in every mode of `eval.modes` and released again, and its accuracies are cached in
// the RPT stage's folder (src/eval/checkpoint-eval.ts), where the rpt-eval stage takes them.

import type { Backend } from '../src/backend/backend.ts';
import { createBackend, type BackendKind } from '../src/backend/select.ts';
import { checkpointEvaluation, loadEvaluationSet, type EvaluationSet, type EvaluationSource, type ModeAccuracy } from '../src/eval/checkpoint-eval.ts';
import type { ActorBehaviour } from './actor.ts';

/** The actor's `data`, set when its thread starts: plain JSON. */
export interface EvaluatorData {
  backend: BackendKind;
  source: EvaluationSource;
}

/** The reply to `evaluate`. */
export interface EvaluateReply {
  evaluator: string; // the actor's name
  id: string;
  step: number;
  accuracy: ModeAccuracy[]; // in the order of eval.modes
}

// What every evaluation of this thread shares; a restarted actor is a new thread and loads it again.
let loaded: { backend: Backend; set: EvaluationSet } | undefined;

const evaluator: ActorBehaviour<'evaluator'> = {
  role: 'evaluator',
  async handle(message, self) {
    const { backend, source } = self.data as EvaluatorData;
    loaded ??= { backend: await createBackend(backend), set: await loadEvaluationSet(source) };
    const { checkpoint, step } = message.item.payload;
    const accuracy = await checkpointEvaluation(loaded.backend, source, loaded.set, step, checkpoint);
    const reply: EvaluateReply = { evaluator: self.name, id: message.item.id, step, accuracy };
    return { value: reply };
  },
};
export default evaluator;

// The evaluator actor (runtime/evaluator.ts is its client): evaluates RPT's evaluation
// checkpoints on its own backend (with webgpu, its own GPUDevice) while the RL loop goes on.
// The holdout positions and the tokenizer are loaded once per thread; each checkpoint is loaded,
// evaluated in every mode of `eval.modes` and released again, and its accuracies are cached in
// the RPT stage's folder (src/eval/checkpoint-eval.ts), where the rpt-eval stage takes them.

import type { Backend } from '../src/backend/backend.ts';
import { createBackend, type BackendKind } from '../src/backend/select.ts';
import { checkpointEvaluation, loadEvaluationSet, type EvaluationSet, type EvaluationSource, type ModeAccuracy } from '../src/eval/checkpoint-eval.ts';
import type { ActorBehaviour } from './actor.ts';

/** The actor's `data`, set when its thread starts: plain JSON, and the stop flag. */
export interface EvaluatorData {
  backend: BackendKind;
  source: EvaluationSource;
  stop: SharedArrayBuffer; // Int32 [1]: set to 1 by the client to end the evaluation under way at its next batch
}

/** The reply to `evaluate`: the accuracies, or none when the evaluation was stopped. */
export interface EvaluateReply {
  evaluator: string; // the actor's name
  id: string;
  step: number;
  accuracy: ModeAccuracy[] | null; // in the order of eval.modes
}

class EvaluationStopped extends Error {}

// What every evaluation of this thread shares; a restarted actor is a new thread and loads it again.
let loaded: { backend: Backend; set: EvaluationSet } | undefined;

const evaluator: ActorBehaviour<'evaluator'> = {
  role: 'evaluator',
  async handle(message, self) {
    const { backend, source, stop } = self.data as EvaluatorData;
    const flag = new Int32Array(stop);
    loaded ??= { backend: await createBackend(backend), set: await loadEvaluationSet(source) };
    const { checkpoint, step } = message.item.payload;
    const reply: EvaluateReply = { evaluator: self.name, id: message.item.id, step, accuracy: null };
    try {
      reply.accuracy = await checkpointEvaluation(loaded.backend, source, loaded.set, step, checkpoint, () => {
        if (Atomics.load(flag, 0) === 1) throw new EvaluationStopped();
      });
    } catch (error) {
      if (!(error instanceof EvaluationStopped)) throw error;
    }
    return { value: reply };
  },
};
export default evaluator;

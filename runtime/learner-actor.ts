// The learner of the RPT graph (runtime/rpt-graph.ts): the policy and its AdamW state on its own
// backend (with webgpu, its own GPUDevice), the KL reference beside them when the learner block
// asks for one. It takes GRPO updates and checkpoint requests from the thread that drives the
// loop, and after every change of the weights (start, restore, update) publishes them to the
// weight store, from which the samplers pull them before their next batch.

import type { LearnerIR } from '../dsl/ir.ts';
import { createBackend, type BackendKind } from '../src/backend/select.ts';
import type { ModelConfig } from '../src/model/config.ts';
import type { AdamW } from '../src/model/optimizer.ts';
import { Transformer } from '../src/model/transformer.ts';
import { grpoUpdate, type LearnerRow } from '../src/rl/grpo.ts';
import { learnerOptimizer } from '../src/rl/learner.ts';
import { saveModel } from '../src/stages/model-checkpoint.ts';
import type { ActorBehaviour } from './actor.ts';
import type { RoleMessage } from './protocol.ts';
import { WeightStore } from './weight-store.ts';

/** The actor's `data`: where to publish, and the model and optimizer to build. */
export interface LearnerData {
  weights: SharedArrayBuffer; // a WeightStore's buffer, which only this actor writes
  config: ModelConfig;
  backend: BackendKind;
  learner: Pick<LearnerIR, 'betas' | 'weight_decay' | 'grad_clip' | 'kl'>;
}

interface Policy {
  model: Transformer;
  optimizer: AdamW;
  reference: Transformer | null;
  store: WeightStore;
}

let policy: Policy | undefined;

async function startPolicy(data: LearnerData, weights: Float32Array): Promise<Policy> {
  if (policy) throw new Error('the learner was started already');
  const backend = await createBackend(data.backend);
  const model = new Transformer(backend, data.config, weights);
  policy = {
    model,
    optimizer: learnerOptimizer(model, data.learner),
    reference: data.learner.kl > 0 ? new Transformer(backend, data.config, weights) : null,
    store: new WeightStore(data.weights),
  };
  return policy;
}

function started(): Policy {
  if (!policy) throw new Error('the learner has no weights: it was not started');
  return policy;
}

/** The weights as they are now, as the store's next version. */
async function publish({ model, store }: Policy): Promise<number> {
  const version = store.latestVersion() + 1;
  store.publish(await model.exportFlat(), version);
  return version;
}

/** The rows of an `update` message, group by group. */
function unpackRows(rows: Extract<RoleMessage<'learner'>, { type: 'update' }>['rows']): LearnerRow[][] {
  const prompts = new Int32Array(rows.prompts), responses = new Int32Array(rows.responses), oldLogp = new Float32Array(rows.oldLogp);
  const all = rows.advantages.map((advantage, r): LearnerRow => {
    const promptStart = r === 0 ? 0 : rows.promptEnds[r - 1], responseStart = r === 0 ? 0 : rows.responseEnds[r - 1];
    return {
      prompt: prompts.subarray(promptStart, rows.promptEnds[r]),
      response: responses.subarray(responseStart, rows.responseEnds[r]),
      oldLogp: oldLogp.subarray(responseStart, rows.responseEnds[r]),
      advantage,
    };
  });
  let first = 0;
  return rows.groups.map((n) => all.slice(first, (first += n)));
}

const learner: ActorBehaviour<'learner'> = {
  role: 'learner',
  async handle(message, self) {
    const data = self.data as LearnerData;
    switch (message.type) {
      case 'start':
        return { value: await publish(await startPolicy(data, new Float32Array(message.weights))) };
      case 'restore': {
        const p = started();
        p.model.importFlat(new Float32Array(message.weights));
        const arrays = (buffers: ArrayBuffer[]) => buffers.map((buffer) => new Float32Array(buffer));
        p.optimizer.importState({ step: message.optimizer.step, m: arrays(message.optimizer.m), v: arrays(message.optimizer.v) });
        return { value: await publish(p) };
      }
      case 'update': {
        const p = started();
        const result = await grpoUpdate(p.model, p.optimizer, p.reference, unpackRows(message.rows), message.settings, message.lr);
        await publish(p);
        return { value: result };
      }
      case 'save': {
        const p = started();
        await saveModel(message.dir, p.model, p.optimizer, message.tokenizer, message.extra);
        return { value: message.dir };
      }
    }
  },
};
export default learner;

// The sampler actor of the RPT graph (runtime/rpt-graph.ts): a copy of the policy on its own
// backend (with webgpu, its own GPUDevice), which generates batches of rollouts and scores them
// (log-probabilities and entropy of each response token). Before each batch it pulls the newest
// weights from the weight store when their version changed, so every batch is sampled by the
// weights the learner published last (on-policy). The batch's results go back as three
// transferred buffers (tokens, log-probabilities, entropies, every rollout end to end), never as
// copies.

import { createBackend, type BackendKind } from '../src/backend/select.ts';
import type { ModelConfig } from '../src/model/config.ts';
import { Transformer } from '../src/model/transformer.ts';
import { generateScored } from '../src/rl/rollout.ts';
import type { ActorBehaviour } from './actor.ts';
import { WeightStore } from './weight-store.ts';

/** The actor's `data`: where the weights are, and how to build the model that holds them. */
export interface SamplerData {
  weights: SharedArrayBuffer; // a WeightStore's buffer
  config: ModelConfig;
  backend: BackendKind;
}

/** The reply to `sample`: rollout i's tokens are tokens[offsets[i] .. offsets[i + 1]), and so are its logp and entropy. */
export interface SampleReply {
  sampler: string; // the actor's name
  id: string;
  weightVersion: number; // the weight store's version that sampled the batch
  tokens: ArrayBuffer; // Int32
  logp: ArrayBuffer; // Float32
  entropy: ArrayBuffer; // Float32
  offsets: number[]; // rollouts + 1
  phaseEnds: number[][];
  finish: ('stop' | 'length' | 'context')[];
}

interface Policy {
  store: WeightStore;
  flat: Float32Array;
  model: Transformer;
  version: number;
}

let policy: Policy | undefined;

async function newestPolicy(data: SamplerData): Promise<Policy> {
  if (!policy) {
    const store = new WeightStore(data.weights);
    const flat = new Float32Array(store.length);
    const version = store.readLatest(flat);
    if (version === 0) throw new Error('the weight store holds no weights yet');
    policy = { store, flat, model: new Transformer(await createBackend(data.backend), data.config, flat), version };
  } else if (policy.store.latestVersion() !== policy.version) {
    policy.version = policy.store.readLatest(policy.flat);
    policy.model.importFlat(policy.flat);
  }
  return policy;
}

const sampler: ActorBehaviour<'sampler'> = {
  role: 'sampler',
  async handle(message, self) {
    if (message.type === 'configure') return { value: { configVersion: message.configVersion } }; // every batch carries its settings
    const { model, version } = await newestPolicy(self.data as SamplerData);
    const { prompts, seeds, groupSize, phases, sampling } = message.item.payload;
    const generations = await generateScored(model, { prompts: prompts.map((buffer) => new Int32Array(buffer)), seeds, groupSize, phases, sampling });
    const offsets = [0];
    for (const generation of generations) offsets.push(offsets[offsets.length - 1] + generation.tokens.length);
    const total = offsets[offsets.length - 1];
    const tokens = new Int32Array(total), logp = new Float32Array(total), entropy = new Float32Array(total);
    generations.forEach((generation, i) => {
      tokens.set(generation.tokens, offsets[i]);
      logp.set(generation.logp, offsets[i]);
      entropy.set(generation.entropy, offsets[i]);
    });
    const reply: SampleReply = {
      sampler: self.name,
      id: message.item.id,
      weightVersion: version,
      tokens: tokens.buffer,
      logp: logp.buffer,
      entropy: entropy.buffer,
      offsets,
      phaseEnds: generations.map((generation) => generation.phaseEnds),
      finish: generations.map((generation) => generation.finish),
    };
    return { value: reply, transfer: [reply.tokens, reply.logp, reply.entropy] };
  },
};
export default sampler;

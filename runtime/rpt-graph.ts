// The RPT loop as a graph of actors, the shape of a run in DESIGN.md:
//
//   learner (this thread: RptLoop's step, GRPO update, AdamW)
//     -- publish flat weights --> weight store (SharedArrayBuffer, seqlock)
//     -- sample work items -----> sampler#0 .. sampler#N-1 (worker threads, supervised)
//                                   pull the newest weights, generate G rollouts per prompt, score them
//     <- tokens, logp, entropy (transferred buffers) --
//     -- one task per group ----> verifier pool (piscina threads; a reward module's own pool)
//     <- rewards --
//
// ActorRptLoop is RptLoop with an ActorEngine: everything that decides what is sampled (the
// step's contexts and per-rollout seeds, drawn from the step's Random) and everything the
// learner does stays in the loop, so the steps equal RptLoop's whatever the number of samplers.
// A sampler that crashes is restarted with backoff and its work item re-queued, delivered to
// the learner exactly once (runtime/supervisor.ts); past its restart budget, takeStep rejects
// with the SupervisionError naming it, and the learner's state is that of the last step taken,
// for the caller to checkpoint.

import type { ActorsIR } from '../dsl/ir.ts';
import type { BackendKind } from '../src/backend/select.ts';
import { paramCount } from '../src/model/params.ts';
import type { Transformer } from '../src/model/transformer.ts';
import { RptLoop, type LiveSettings, type RolloutEngine, type RptLoopInputs } from '../src/rl/loop.ts';
import type { GenerationJob, ScoredGeneration } from '../src/rl/rollout.ts';
import type { Verdict, VerifierInput } from '../src/rl/verifier.ts';
import { Actor } from './actor.ts';
import type { SampleReply, SamplerData } from './sampler-actor.ts';
import { SupervisedPool, type RestartPolicy, type SupervisionReport, type WorkItem } from './supervisor.ts';
import { siblingModule } from './tsx-worker.ts';
import { VerifierPool } from './verifier-pool.ts';
import { WeightStore } from './weight-store.ts';

export interface ActorRptLoopInputs extends RptLoopInputs {
  actors: Pick<ActorsIR, 'samplers' | 'verifiers'>;
  backend: BackendKind; // each sampler creates its own backend of this kind (webgpu: its own GPUDevice)
  samplerModule?: URL; // the sampler actor's module; runtime/sampler-actor.ts unless a test wraps it
  restarts?: RestartPolicy; // of each sampler
  batchTimeoutMs?: number; // a sampler that does not answer a batch within this is taken to have crashed
}

/** Within a minute, a sampler may restart twice, after 100 ms then 200 ms. */
export const SAMPLER_RESTARTS: RestartPolicy = { maxRestarts: 2, windowMs: 60_000, backoffMs: 100, maxBackoffMs: 5_000 };

// A sampler's first batch includes starting its thread, loading the code and creating its backend.
const BATCH_TIMEOUT_MS = 120_000;

export class ActorRptLoop extends RptLoop {
  private readonly graph: ActorEngine;

  constructor(inputs: ActorRptLoopInputs) {
    const graph = new ActorEngine(inputs);
    try {
      super(inputs, graph);
    } catch (error) {
      void graph.close(); // its verifier threads are running already
      throw error;
    }
    this.graph = graph;
  }

  /** What supervision did so far: batches delivered, re-queued after a crash, duplicates dropped, restarts. */
  get supervision(): SupervisionReport {
    return this.graph.report;
  }
}

interface Slice {
  first: number; // the index of its first context in the job
  prompts: Int32Array[];
  seeds: number[];
}

/** Generation on supervised sampler actors, verification on a verifier pool. */
class ActorEngine implements RolloutEngine {
  readonly report: SupervisionReport = { delivered: 0, requeued: 0, duplicates: 0, restarts: [] };
  private readonly model: Transformer;
  private readonly store: WeightStore;
  private readonly flat: Float32Array;
  private published = -1; // the learner's weight version the store holds; none yet
  private storeVersion = 0;
  private readonly samplers: SupervisedPool<'sampler'>;
  private verifiers: VerifierPool;
  private readonly baseDir: string;
  private batches = 0; // work items made, for their ids

  constructor(inputs: ActorRptLoopInputs) {
    const { model, actors, backend } = inputs;
    this.model = model;
    this.baseDir = inputs.baseDir;
    this.flat = new Float32Array(paramCount(model.config));
    this.store = WeightStore.create(this.flat.length);
    const data: SamplerData = { weights: this.store.buffer, config: model.config, backend };
    const module = inputs.samplerModule ?? siblingModule('./sampler-actor', import.meta.url);
    const timeoutMs = inputs.batchTimeoutMs ?? BATCH_TIMEOUT_MS;
    this.samplers = new SupervisedPool({
      name: 'sampler',
      count: actors.samplers,
      spawn: (name) => new Actor({ name, role: 'sampler', module, data, capacity: 1, timeoutMs }),
      restarts: inputs.restarts ?? SAMPLER_RESTARTS,
    });
    this.verifiers = new VerifierPool(inputs.reward, inputs.baseDir, actors.verifiers);
  }

  /** The job cut into one work item per sampler (contiguous runs of contexts), its replies put back in order. */
  async generate(job: GenerationJob, weightVersion: number): Promise<ScoredGeneration[]> {
    await this.publish(weightVersion);
    const { groupSize } = job;
    const count = Math.min(this.samplers.size, job.prompts.length);
    const items: WorkItem<Slice>[] = Array.from({ length: count }, (_, k) => {
      const first = Math.floor((k * job.prompts.length) / count), end = Math.floor(((k + 1) * job.prompts.length) / count);
      return { id: `batch-${++this.batches}`, attempt: 0, payload: { first, prompts: job.prompts.slice(first, end), seeds: job.seeds.slice(first * groupSize, end * groupSize) } };
    });
    const generations: ScoredGeneration[] = new Array(job.seeds.length);
    const report = await this.samplers.run<Slice>({
      items,
      request: (item) => {
        // Copies: the buffers move to the sampler, and a re-queued item is sent again.
        const prompts = item.payload.prompts.map((prompt) => prompt.slice().buffer);
        const payload = { prompts, seeds: item.payload.seeds, groupSize, phases: job.phases, sampling: job.sampling };
        return { message: { type: 'sample', item: { id: item.id, attempt: item.attempt, payload } }, transfer: prompts };
      },
      deliver: (item, value) => {
        const reply = value as SampleReply;
        if (reply.weightVersion !== this.storeVersion) throw new Error(`${reply.sampler} sampled ${item.id} with weight store version ${reply.weightVersion}, not the latest, ${this.storeVersion}`);
        unpackReply(reply).forEach((generation, i) => (generations[item.payload.first * groupSize + i] = generation));
      },
      // The learner is still at the last step taken; the caller checkpoints when takeStep rejects.
      checkpoint: async () => {},
    });
    this.report.delivered += report.delivered;
    this.report.requeued += report.requeued;
    this.report.duplicates += report.duplicates;
    this.report.restarts.push(...report.restarts);
    return generations;
  }

  /** Publishes the learner's weights at once (on-policy: the next batch samples them). */
  updated(weightVersion: number): Promise<void> {
    return this.publish(weightVersion);
  }

  verifyGroups(groups: VerifierInput[][]): Promise<Verdict[][]> {
    return this.verifiers.verifyGroups(groups);
  }

  /** Resizes the sampler pool from the next batch; a fresh verifier pool for the (perhaps new) reward rule, module code or thread count. */
  async reconfigure(settings: LiveSettings): Promise<void> {
    this.samplers.resize(settings.actors.samplers);
    await this.verifiers.close();
    this.verifiers = new VerifierPool(settings.reward, this.baseDir, settings.actors.verifiers);
  }

  async close(): Promise<void> {
    await Promise.all([this.samplers.close(), this.verifiers.close()]);
  }

  // Also reached from generate: a loop resumed from a checkpoint has weights nothing published.
  private async publish(weightVersion: number): Promise<void> {
    if (this.published === weightVersion) return;
    await this.model.exportFlat(this.flat);
    this.store.publish(this.flat, ++this.storeVersion);
    this.published = weightVersion;
  }
}

/** A reply's rollouts, as views of its transferred buffers. */
function unpackReply(reply: SampleReply): ScoredGeneration[] {
  const tokens = new Int32Array(reply.tokens), logp = new Float32Array(reply.logp), entropy = new Float32Array(reply.entropy);
  return reply.phaseEnds.map((phaseEnds, i): ScoredGeneration => {
    const start = reply.offsets[i], end = reply.offsets[i + 1];
    return { tokens: tokens.subarray(start, end), phaseEnds, finish: reply.finish[i], logp: logp.subarray(start, end), entropy: entropy.subarray(start, end) };
  });
}

// The RPT loop as a graph of actors, the shape of a run in DESIGN.md:
//
//   loop (this thread: RptLoop draws context indices and seeds, parses, rewards, advantages)
//     -- indices ---------------> feeder (worker thread: the train tokens and kept positions)
//     <- contexts (transferred) --
//     -- sample work items -----> sampler#0 .. sampler#N-1 (worker threads, supervised)
//                                   pull the newest weights, generate G rollouts per prompt, score them
//     <- tokens, logp, entropy (transferred buffers) --
//     -- one task per group ----> verifier pool (piscina threads; a reward module's own pool)
//     <- rewards --
//     -- rewarded rows ---------> learner (worker thread: policy, AdamW, KL reference; GRPO update)
//                                   -- publish flat weights --> weight store (SharedArrayBuffer, seqlock)
//     -- save -------------------> learner writes the checkpoint
//
// ActorRptLoop is RptLoop with its three parts in actors: everything that decides what is
// sampled (the step's context indices and per-rollout seeds, drawn from the step's Random)
// stays in the loop, and the learner runs the same GRPO update on the same rows, so the steps
// equal the single-process loop's whatever the number of samplers. A sampler or the feeder
// that crashes is restarted with backoff and its work re-queued, delivered exactly once
// (runtime/supervisor.ts); past its restart budget, takeStep rejects with the SupervisionError
// naming it, and the learner's state is that of the last step taken, for the caller to
// checkpoint. The learner is not restarted: its weights and moments exist only in it, so its
// crash fails the step with an ActorCrash naming it, and the run resumes from the last checkpoint.

import type { ActorsIR } from '../dsl/ir.ts';
import type { BackendKind } from '../src/backend/select.ts';
import type { TokenizerReference } from '../src/checkpoint/checkpoint.ts';
import { paramCount } from '../src/model/params.ts';
import type { RptContext } from '../src/rl/context.ts';
import type { GrpoSettings, GrpoUpdateResult, LearnerRow } from '../src/rl/grpo.ts';
import type { PolicyLearner } from '../src/rl/learner.ts';
import { RptLoop, type ContextSource, type LiveSettings, type RolloutEngine, type RptLoopSettings } from '../src/rl/loop.ts';
import type { GenerationJob, ScoredGeneration } from '../src/rl/rollout.ts';
import type { Verdict, VerifierInput } from '../src/rl/verifier.ts';
import type { LoadedModel } from '../src/stages/model-checkpoint.ts';
import type { RptLoopSpec } from '../src/stages/rpt.ts';
import { Actor } from './actor.ts';
import type { ContextsReply, FeederData } from './feeder-actor.ts';
import type { LearnerData } from './learner-actor.ts';
import type { RoleMessage } from './protocol.ts';
import type { SampleReply, SamplerData } from './sampler-actor.ts';
import { SupervisedPool, type RestartPolicy, type SupervisionReport, type WorkItem } from './supervisor.ts';
import { siblingModule } from './tsx-worker.ts';
import { VerifierPool } from './verifier-pool.ts';
import { WeightStore } from './weight-store.ts';

/** The RPT stage's loop spec (its settings, starting weights, data and filter results), and the actors to run it on. */
export interface ActorRptLoopInputs extends Omit<RptLoopSpec, 'backend'> {
  actors: Pick<ActorsIR, 'samplers' | 'verifiers'>;
  backendKind: BackendKind; // each sampler and the learner create their own backend of this kind (webgpu: their own GPUDevice)
  modules?: Partial<Record<'sampler' | 'learner' | 'feeder', URL>>; // runtime/<role>-actor.ts unless a test wraps one
  restarts?: RestartPolicy; // of each sampler, and of the feeder
  batchTimeoutMs?: number; // a sampler that does not answer a batch within this is taken to have crashed
}

/** Within a minute, a sampler may restart twice, after 100 ms then 200 ms. */
export const SAMPLER_RESTARTS: RestartPolicy = { maxRestarts: 2, windowMs: 60_000, backoffMs: 100, maxBackoffMs: 5_000 };

// A sampler's first batch includes starting its thread, loading the code and creating its backend.
const BATCH_TIMEOUT_MS = 120_000;
// A learner's update or checkpoint; its first request also starts its thread and backend.
const LEARNER_TIMEOUT_MS = 600_000;

export class ActorRptLoop extends RptLoop {
  private constructor(
    settings: RptLoopSettings,
    private readonly graph: { contexts: FeederContexts; engine: ActorEngine; learner: ActorLearner },
  ) {
    super(settings, graph);
  }

  /** The graph started: the feeder has counted the contexts and the learner published the starting weights. */
  static async start(inputs: ActorRptLoopInputs): Promise<ActorRptLoop> {
    const weights = await inputs.policy.weights();
    const store = WeightStore.create(paramCount(inputs.policy.config));
    const contexts = new FeederContexts(inputs);
    const learner = new ActorLearner(inputs, store);
    const engine = new ActorEngine(inputs, store);
    try {
      await Promise.all([contexts.countContexts(), learner.start(weights)]);
      return new ActorRptLoop(inputs.settings, { contexts, engine, learner });
    } catch (error) {
      await Promise.allSettled([contexts.close(), engine.close(), learner.close()]);
      throw error;
    }
  }

  /** What supervision did so far: sampler batches delivered, re-queued after a crash, duplicates dropped, restarts (the feeder's too). */
  get supervision(): SupervisionReport {
    const { engine, contexts } = this.graph;
    return { ...engine.report, restarts: [...engine.report.restarts, ...contexts.restarts] };
  }
}

/** The kept contexts, from the feeder actor. */
class FeederContexts implements ContextSource {
  count = 0;
  readonly restarts: SupervisionReport['restarts'] = [];
  private readonly feeder: SupervisedPool<'feeder'>;
  private requests = 0;

  constructor(inputs: ActorRptLoopInputs) {
    const data: FeederData = { data: inputs.data, filter: inputs.filter, windowTokens: inputs.windowTokens };
    const module = inputs.modules?.feeder ?? siblingModule('./feeder-actor', import.meta.url);
    this.feeder = new SupervisedPool({ name: 'feeder', count: 1, spawn: (name) => new Actor({ name, role: 'feeder', module, data, capacity: 1 }), restarts: inputs.restarts ?? SAMPLER_RESTARTS });
  }

  async countContexts(): Promise<void> {
    this.count = (await this.ask({ type: 'count' })) as number;
  }

  async take(indices: readonly number[]): Promise<RptContext[]> {
    const reply = (await this.ask({ type: 'contexts', indices: [...indices] })) as ContextsReply;
    const tokens = new Int32Array(reply.tokens);
    return reply.documents.map((document, i) => ({
      document,
      offset: reply.offsets[i],
      context: tokens.subarray(i === 0 ? 0 : reply.ends[2 * i - 1], reply.ends[2 * i]),
      continuation: tokens.subarray(reply.ends[2 * i], reply.ends[2 * i + 1]),
    }));
  }

  close(): Promise<void> {
    return this.feeder.close();
  }

  /** One request through the supervised feeder: a crash restarts it and asks again. */
  private async ask(message: RoleMessage<'feeder'>): Promise<unknown> {
    let answer: unknown;
    const report = await this.feeder.run({
      items: [{ id: `feeder-${++this.requests}`, attempt: 0, payload: null }],
      request: () => ({ message }),
      deliver: (_item, reply) => void (answer = reply),
      checkpoint: async () => {},
    });
    this.restarts.push(...report.restarts);
    return answer;
  }
}

/** The learner actor, which publishes every version of the weights it makes to the weight store. */
class ActorLearner implements PolicyLearner {
  private readonly actor: Actor<'learner'>;

  constructor(
    inputs: ActorRptLoopInputs,
    private readonly store: WeightStore,
  ) {
    const { betas, weight_decay, grad_clip, kl } = inputs.settings.learner;
    const data: LearnerData = { weights: store.buffer, config: inputs.policy.config, backend: inputs.backendKind, learner: { betas, weight_decay, grad_clip, kl } };
    const module = inputs.modules?.learner ?? siblingModule('./learner-actor', import.meta.url);
    this.actor = new Actor({ name: 'learner', role: 'learner', module, data, capacity: 1, timeoutMs: LEARNER_TIMEOUT_MS });
  }

  async start(weights: Float32Array): Promise<void> {
    const copy = weights.slice().buffer;
    await this.actor.request({ type: 'start', weights: copy }, [copy]);
  }

  async update(groups: readonly (readonly LearnerRow[])[], settings: GrpoSettings, lr: number): Promise<GrpoUpdateResult> {
    const rows = packRows(groups);
    return (await this.actor.request({ type: 'update', rows, settings, lr }, [rows.prompts, rows.responses, rows.oldLogp])) as GrpoUpdateResult;
  }

  async restore(loaded: LoadedModel): Promise<void> {
    const { step, m, v } = loaded.optimizer!;
    const weights = loaded.flat.slice().buffer, moments = [...m, ...v].map((moment) => moment.slice().buffer);
    const optimizer = { step, m: moments.slice(0, m.length), v: moments.slice(m.length) };
    await this.actor.request({ type: 'restore', weights, optimizer }, [weights, ...moments]);
  }

  /** The newest weights the learner published, which it publishes after every change. */
  async weights(): Promise<Float32Array> {
    const flat = new Float32Array(this.store.length);
    this.store.readLatest(flat);
    return flat;
  }

  async save(dir: string, tokenizer: TokenizerReference, extra: Record<string, string>): Promise<void> {
    await this.actor.request({ type: 'save', dir, tokenizer, extra });
  }

  close(): Promise<void> {
    return this.actor.stop();
  }
}

/** Groups of rows, end to end in three buffers (the learner's `update` message). */
function packRows(groups: readonly (readonly LearnerRow[])[]): Extract<RoleMessage<'learner'>, { type: 'update' }>['rows'] {
  const rows = groups.flat();
  const ends = (lengths: number[]) => lengths.map(((total) => (length: number) => (total += length))(0));
  const promptEnds = ends(rows.map((row) => row.prompt.length)), responseEnds = ends(rows.map((row) => row.response.length));
  const prompts = new Int32Array(promptEnds.at(-1) ?? 0), responses = new Int32Array(responseEnds.at(-1) ?? 0), oldLogp = new Float32Array(responses.length);
  rows.forEach((row, r) => {
    prompts.set(row.prompt, r === 0 ? 0 : promptEnds[r - 1]);
    responses.set(row.response, r === 0 ? 0 : responseEnds[r - 1]);
    oldLogp.set(row.oldLogp, r === 0 ? 0 : responseEnds[r - 1]);
  });
  return { prompts: prompts.buffer, promptEnds, responses: responses.buffer, oldLogp: oldLogp.buffer, responseEnds, advantages: rows.map((row) => row.advantage), groups: groups.map((group) => group.length) };
}

interface Slice {
  first: number; // the index of its first context in the job
  prompts: Int32Array[];
  seeds: number[];
}

/** Generation on supervised sampler actors, verification on a verifier pool. */
class ActorEngine implements RolloutEngine {
  readonly report: SupervisionReport = { delivered: 0, requeued: 0, duplicates: 0, restarts: [] };
  private readonly samplers: SupervisedPool<'sampler'>;
  private verifiers: VerifierPool;
  private readonly baseDir: string;
  private batches = 0; // work items made, for their ids

  constructor(
    inputs: ActorRptLoopInputs,
    private readonly store: WeightStore, // which the learner publishes to
  ) {
    const { actors } = inputs;
    this.baseDir = inputs.baseDir;
    const data: SamplerData = { weights: store.buffer, config: inputs.policy.config, backend: inputs.backendKind };
    const module = inputs.modules?.sampler ?? siblingModule('./sampler-actor', import.meta.url);
    const timeoutMs = inputs.batchTimeoutMs ?? BATCH_TIMEOUT_MS;
    this.samplers = new SupervisedPool({
      name: 'sampler',
      count: actors.samplers,
      spawn: (name) => new Actor({ name, role: 'sampler', module, data, capacity: 1, timeoutMs }),
      restarts: inputs.restarts ?? SAMPLER_RESTARTS,
    });
    this.verifiers = new VerifierPool(inputs.settings.reward, inputs.baseDir, actors.verifiers);
  }

  /** The job cut into one work item per sampler (contiguous runs of contexts), its replies put back in order. */
  async generate(job: GenerationJob): Promise<ScoredGeneration[]> {
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
        // On-policy: the learner publishes only between steps, so every batch of a step samples its newest weights.
        const latest = this.store.latestVersion();
        if (reply.weightVersion !== latest) throw new Error(`${reply.sampler} sampled ${item.id} with weight store version ${reply.weightVersion}, not the latest, ${latest}`);
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
}

/** A reply's rollouts, as views of its transferred buffers. */
function unpackReply(reply: SampleReply): ScoredGeneration[] {
  const tokens = new Int32Array(reply.tokens), logp = new Float32Array(reply.logp), entropy = new Float32Array(reply.entropy);
  return reply.phaseEnds.map((phaseEnds, i): ScoredGeneration => {
    const start = reply.offsets[i], end = reply.offsets[i + 1];
    return { tokens: tokens.subarray(start, end), phaseEnds, finish: reply.finish[i], logp: logp.subarray(start, end), entropy: entropy.subarray(start, end) };
  });
}

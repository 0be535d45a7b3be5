// The RPT stage's side of the evaluator actor (runtime/evaluator-actor.ts): each evaluation
// checkpoint is submitted as the RL loop writes it and evaluated on another thread while the
// loop goes on; the accuracies are cached in the RPT stage's folder, where the rpt-eval stage
// takes them instead of evaluating the same weights again.
//
// There is one evaluator thread. Its count is not part of the experiment language (`actors`
// sizes the samplers and verifiers only): evaluations are rare next to RL steps, and one at a
// time they finish in step order and take one core, not several, from the samplers.
//
// The evaluator is supervised as the samplers are (runtime/supervisor.ts): a thread that
// crashes, or one that answers no checkpoint within `timeoutMs`, is restarted after a backoff
// and the checkpoint it held is evaluated again by the new thread; each checkpoint is taken
// once. Past the restart budget the evaluator gives up: nothing more is evaluated, and drain()
// rejects with the SupervisionError naming it ("actor evaluator#0 crashed 3 times ...").

import type { BackendKind } from '../src/backend/select.ts';
import type { EvaluationSource, ModeAccuracy } from '../src/eval/checkpoint-eval.ts';
import { Actor } from './actor.ts';
import type { EvaluateReply, EvaluatorData } from './evaluator-actor.ts';
import { SupervisedPool, type RestartPolicy, type SupervisionReport, type WorkItem } from './supervisor.ts';
import { siblingModule } from './tsx-worker.ts';

export interface CheckpointEvaluatorOptions {
  backendKind: BackendKind; // the evaluator creates its own backend of this kind (webgpu: its own GPUDevice)
  source: EvaluationSource; // the settings, the holdout and the RPT stage's folder (for the cache)
  onResult?: (result: EvaluatedCheckpoint) => void; // each checkpoint's accuracies, as they arrive
  module?: URL; // the evaluator actor's module; runtime/evaluator-actor.ts unless a test wraps it
  restarts?: RestartPolicy;
  timeoutMs?: number; // an evaluator that does not answer a checkpoint within this is taken to have crashed
}

export interface EvaluatedCheckpoint {
  step: number;
  checkpoint: string; // its folder
  accuracy: ModeAccuracy[]; // in the order of eval.modes
  evaluator: string; // the actor that evaluated it
}

/** Within a minute, the evaluator may restart twice, after 100 ms then 200 ms (as SAMPLER_RESTARTS). */
export const EVALUATOR_RESTARTS: RestartPolicy = { maxRestarts: 2, windowMs: 60_000, backoffMs: 100, maxBackoffMs: 5_000 };

// Only a hung thread should reach it: an evaluation of a run's checkpoint takes seconds to minutes.
const EVALUATION_TIMEOUT_MS = 30 * 60_000;

interface Submitted {
  step: number;
  checkpoint: string;
}

export class CheckpointEvaluator {
  /** What supervision did so far: checkpoints delivered, re-queued after a crash, duplicates dropped, restarts. */
  readonly supervision: SupervisionReport = { delivered: 0, requeued: 0, duplicates: 0, restarts: [] };
  private readonly pool: SupervisedPool<'evaluator'>;
  private readonly onResult: (result: EvaluatedCheckpoint) => void;
  private readonly results: EvaluatedCheckpoint[] = [];
  private readonly submitted = new Set<number>(); // steps
  private queue: Promise<void> = Promise.resolve(); // the evaluations submitted, chained one after another
  private failure: unknown = null; // once set, nothing more is evaluated
  private closed = false;
  private readonly stop = new Int32Array(new SharedArrayBuffer(4)); // the actor's stop flag

  constructor(options: CheckpointEvaluatorOptions) {
    const data: EvaluatorData = { backend: options.backendKind, source: options.source, stop: this.stop.buffer as SharedArrayBuffer };
    const module = options.module ?? siblingModule('./evaluator-actor', import.meta.url);
    const timeoutMs = options.timeoutMs ?? EVALUATION_TIMEOUT_MS;
    this.onResult = options.onResult ?? (() => {});
    // The thread starts with the first evaluation, not here.
    this.pool = new SupervisedPool({
      name: 'evaluator',
      count: 1,
      spawn: (name) => new Actor({ name, role: 'evaluator', module, data, capacity: 1, timeoutMs }),
      restarts: options.restarts ?? EVALUATOR_RESTARTS,
    });
  }

  /** Queues the checkpoint in `checkpoint` (taken at `step`) for evaluation after those submitted before; returns at once. */
  submit(step: number, checkpoint: string): void {
    if (this.closed) throw new Error(`the evaluator is closed; step ${step} (${checkpoint}) cannot be evaluated`);
    if (this.submitted.has(step)) throw new Error(`step ${step} was submitted for evaluation already`);
    this.submitted.add(step);
    const item: WorkItem<Submitted> = { id: `step-${step}`, attempt: 0, payload: { step, checkpoint } };
    // Caught here, so that a failure waits for drain() instead of being an unhandled rejection.
    this.queue = this.queue.then(() => this.evaluate(item)).catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  /** Waits for every checkpoint submitted; resolves with all results so far in the order submitted, or rejects with what stopped the evaluator. */
  async drain(): Promise<EvaluatedCheckpoint[]> {
    await this.queue;
    if (this.failure) throw this.failure;
    return [...this.results];
  }

  /**
   * Stops the evaluator without waiting for its work (a stage stopped by Ctrl-C must not wait
   * for an evaluation of minutes): the evaluation under way ends at its next batch of contexts,
   * and it and those queued behind it are dropped; rpt-eval evaluates them later. The thread is
   * asked to stop rather than terminated, since terminating it inside a GPU call aborts the
   * process. Call drain() first to keep everything. Safe after a failure, and to call again.
   */
  async close(): Promise<void> {
    this.closed = true;
    Atomics.store(this.stop, 0, 1);
    await this.queue;
    await this.pool.close();
  }

  private async evaluate(item: WorkItem<Submitted>): Promise<void> {
    if (this.failure || this.closed) return;
    const report = await this.pool.run<Submitted>({
      items: [item],
      request: (work) => ({ message: { type: 'evaluate', item: work } }),
      deliver: (work, value) => {
        const reply = value as EvaluateReply;
        if (reply.accuracy === null) return; // stopped by close()
        if (reply.step !== work.payload.step) throw new Error(`${reply.evaluator} answered ${work.id} with the accuracies of step ${reply.step}`);
        const result: EvaluatedCheckpoint = { step: reply.step, checkpoint: work.payload.checkpoint, accuracy: reply.accuracy, evaluator: reply.evaluator };
        this.results.push(result);
        this.onResult(result);
      },
      // Nothing to save: what was evaluated is cached, and rpt-eval evaluates the rest itself.
      checkpoint: async () => {},
    });
    this.supervision.delivered += report.delivered;
    this.supervision.requeued += report.requeued;
    this.supervision.duplicates += report.duplicates;
    this.supervision.restarts.push(...report.restarts);
  }
}

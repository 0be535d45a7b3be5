import { ActorCrash, type Actor } from './actor.ts';
import type { Role, RoleMessage } from './protocol.ts';

// Supervision in the manner of Erlang/OTP: a pool of identical actors works through a queue of
// work items, one item per actor at a time. An actor that crashes is replaced after an
// exponential backoff, and the item it held goes back to the front of the queue with its
// attempt count raised, so no work is lost. Each actor may restart `maxRestarts` times within
// any `windowMs`; one more crash in the window stops the pool cleanly: the other actors finish
// the items they hold, the caller's checkpoint runs, and the run fails with a SupervisionError
// naming the actor and its error. The consumer takes each item id once (ExactlyOnce), so a
// retried item can never count twice in the learner's view.

export interface WorkItem<P> {
  id: string;
  attempt: number; // 0 the first time; raised each time the item is re-queued after a crash
  payload: P;
}

export interface RestartPolicy {
  maxRestarts: number; // per actor, within any window of windowMs
  windowMs: number;
  backoffMs: number; // before the first restart in a window; doubled for each further one
  maxBackoffMs: number;
}

export interface SupervisedWork<R extends Role, P> {
  items: WorkItem<P>[];
  count: number; // actors working in parallel, named `${name}#0`, `${name}#1`, ...
  name: string;
  // A fresh actor; generation counts the restarts of that actor (0 for the first).
  spawn: (name: string, generation: number) => Actor<R>;
  // The message for an item. A re-queued item is sent again, so buffers in `transfer` must be
  // copies, never the item's own payload (a transferred buffer is gone from this thread).
  request: (item: WorkItem<P>) => { message: RoleMessage<R>; transfer?: ArrayBuffer[] };
  deliver: (item: WorkItem<P>, reply: unknown) => void | Promise<void>;
  restarts: RestartPolicy;
  checkpoint: (failure: SupervisionError) => Promise<void>;
}

export interface SupervisionReport {
  delivered: number;
  requeued: number; // items handed back to the queue by a crash
  duplicates: number; // replies for items already delivered, dropped
  restarts: { actor: string; generation: number; reason: string }[];
}

export class SupervisionError extends Error {
  override name = 'SupervisionError';
  constructor(
    readonly actor: string,
    readonly reason: string,
    crashes: number,
    policy: RestartPolicy,
  ) {
    super(`actor ${actor} crashed ${crashes} times within ${policy.windowMs} ms, past its budget of ${policy.maxRestarts} restarts; last error: ${reason}`);
  }
}

/** Each item id is accepted once; later arrivals of the same id are counted and refused. */
export class ExactlyOnce {
  private readonly seen = new Set<string>();
  duplicates = 0;

  accept(id: string): boolean {
    if (this.seen.has(id)) {
      this.duplicates++;
      return false;
    }
    this.seen.add(id);
    return true;
  }
}

/** Runs every item through the pool; resolves with what happened, or rejects with a SupervisionError after the checkpoint. */
export async function superviseWork<R extends Role, P>(work: SupervisedWork<R, P>): Promise<SupervisionReport> {
  const queue = [...work.items];
  const once = new ExactlyOnce();
  const report: SupervisionReport = { delivered: 0, requeued: 0, duplicates: 0, restarts: [] };
  let failure: SupervisionError | null = null;

  const runActor = async (name: string): Promise<void> => {
    let generation = 0;
    let actor = work.spawn(name, generation);
    const crashTimes: number[] = [];
    try {
      for (let item = queue.shift(); item && !failure; item = queue.shift()) {
        const { message, transfer } = work.request(item);
        let reply: unknown;
        try {
          reply = await actor.request(message, transfer);
        } catch (error) {
          if (!(error instanceof ActorCrash)) throw error;
          queue.unshift({ ...item, attempt: item.attempt + 1 });
          report.requeued++;
          const now = Date.now();
          while (crashTimes.length > 0 && now - crashTimes[0] >= work.restarts.windowMs) crashTimes.shift();
          crashTimes.push(now);
          if (crashTimes.length > work.restarts.maxRestarts) {
            failure ??= new SupervisionError(name, error.reason, crashTimes.length, work.restarts);
            return;
          }
          await sleep(Math.min(work.restarts.maxBackoffMs, work.restarts.backoffMs * 2 ** (crashTimes.length - 1)));
          actor = work.spawn(name, ++generation);
          report.restarts.push({ actor: name, generation, reason: error.reason });
          continue;
        }
        if (once.accept(item.id)) {
          await work.deliver(item, reply);
          report.delivered++;
        }
      }
    } finally {
      await actor.stop();
    }
  };

  await Promise.all(Array.from({ length: work.count }, (_, i) => runActor(`${work.name}#${i}`)));
  report.duplicates = once.duplicates;
  if (failure) {
    await work.checkpoint(failure);
    throw failure;
  }
  return report;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

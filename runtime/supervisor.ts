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
//
// A SupervisedPool keeps its actors (and their crash history) from one batch of work to the
// next, as the RPT loop's samplers live from step to step; superviseWork is one batch through
// a pool that is closed afterwards.

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

export interface PoolSettings<R extends Role> {
  count: number; // actors working in parallel, named `${name}#0`, `${name}#1`, ...
  name: string;
  // A fresh actor; generation counts the restarts of that actor (0 for the first).
  spawn: (name: string, generation: number) => Actor<R>;
  restarts: RestartPolicy;
}

export interface Work<R extends Role, P> {
  items: WorkItem<P>[];
  // The message for an item. A re-queued item is sent again, so buffers in `transfer` must be
  // copies, never the item's own payload (a transferred buffer is gone from this thread).
  request: (item: WorkItem<P>) => { message: RoleMessage<R>; transfer?: ArrayBuffer[] };
  deliver: (item: WorkItem<P>, reply: unknown) => void | Promise<void>;
  checkpoint: (failure: SupervisionError) => Promise<void>;
}

export type SupervisedWork<R extends Role, P> = PoolSettings<R> & Work<R, P>;

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

interface Member<R extends Role> {
  name: string;
  actor: Actor<R>;
  generation: number;
  crashTimes: number[]; // of the crashes within the last window, oldest first
}

/** Runs every item through a fresh pool of `count` actors; resolves with what happened, or rejects with a SupervisionError after the checkpoint. */
export async function superviseWork<R extends Role, P>(work: SupervisedWork<R, P>): Promise<SupervisionReport> {
  const pool = new SupervisedPool(work);
  try {
    return await pool.run(work);
  } finally {
    await pool.close();
  }
}

export class SupervisedPool<R extends Role> {
  private readonly members: Member<R>[] = [];
  private count: number;
  private failure: SupervisionError | null = null; // once set, the pool takes no more work

  constructor(private readonly settings: PoolSettings<R>) {
    this.count = settings.count;
  }

  /** The number of actors in the next run. */
  get size(): number {
    return this.count;
  }

  /** The number of actors from the next run on: extra ones are stopped, missing ones started then. */
  resize(count: number): void {
    if (!Number.isInteger(count) || count < 1) throw new Error(`a pool of ${this.settings.name} actors needs at least one, was given ${count}`);
    this.count = count;
  }

  /** Runs every item through the pool; resolves with what happened, or rejects with a SupervisionError after the checkpoint. */
  async run<P>(work: Work<R, P>): Promise<SupervisionReport> {
    if (this.failure) throw this.failure;
    await Promise.all(this.members.splice(this.count).map((member) => member.actor.stop()));
    for (let i = this.members.length; i < this.count; i++) {
      const name = `${this.settings.name}#${i}`;
      this.members.push({ name, actor: this.settings.spawn(name, 0), generation: 0, crashTimes: [] });
    }
    const queue = [...work.items];
    const once = new ExactlyOnce();
    const report: SupervisionReport = { delivered: 0, requeued: 0, duplicates: 0, restarts: [] };
    const { restarts } = this.settings;

    const runMember = async (member: Member<R>): Promise<void> => {
      for (let item = queue.shift(); item && !this.failure; item = queue.shift()) {
        const { message, transfer } = work.request(item);
        let reply: unknown;
        try {
          reply = await member.actor.request(message, transfer);
        } catch (error) {
          if (!(error instanceof ActorCrash)) throw error;
          queue.unshift({ ...item, attempt: item.attempt + 1 });
          report.requeued++;
          const now = Date.now();
          while (member.crashTimes.length > 0 && now - member.crashTimes[0] >= restarts.windowMs) member.crashTimes.shift();
          member.crashTimes.push(now);
          if (member.crashTimes.length > restarts.maxRestarts) {
            this.failure ??= new SupervisionError(member.name, error.reason, member.crashTimes.length, restarts);
            return;
          }
          await sleep(Math.min(restarts.maxBackoffMs, restarts.backoffMs * 2 ** (member.crashTimes.length - 1)));
          member.actor = this.settings.spawn(member.name, ++member.generation);
          report.restarts.push({ actor: member.name, generation: member.generation, reason: error.reason });
          continue;
        }
        if (once.accept(item.id)) {
          await work.deliver(item, reply);
          report.delivered++;
        }
      }
    };

    await Promise.all(this.members.map(runMember));
    report.duplicates = once.duplicates;
    if (this.failure) {
      await this.close();
      await work.checkpoint(this.failure);
      throw this.failure;
    }
    return report;
  }

  /** Stops every actor once its requests in flight are answered. */
  async close(): Promise<void> {
    await Promise.all(this.members.splice(0).map((member) => member.actor.stop()));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

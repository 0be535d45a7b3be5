import { Worker } from 'node:worker_threads';
import { Mailbox } from './mailbox.ts';
import { validateMessage, type Envelope, type Role, type RoleMessage } from './protocol.ts';
import { tsxWorkerCode } from './tsx-worker.ts';

// A stateful actor: one worker thread running one module (.ts or .js) whose default export is
// an ActorBehaviour. The parent talks to it by request and reply: each request carries a
// correlation id, is validated against the role's schema before it leaves, and waits for a free
// slot when `capacity` requests are already in flight, so a fast sender slows to the actor's
// pace. The worker takes requests one at a time (worker-entry.ts). A thread that dies, or
// a request that outlives its timeout, fails the actor: it is terminated and every request in
// flight rejects with an ActorCrash, whose `message` names the actor and the error.

/** What an actor's handler returns: the reply, and the buffers to move (not copy) with it. */
export interface Reply {
  value: unknown;
  transfer?: ArrayBuffer[];
}

/** The default export of an actor module. A handler that throws crashes its actor (its state is suspect). */
export interface ActorBehaviour<R extends Role> {
  role: R;
  handle(message: RoleMessage<R>, self: { name: string; data: unknown }): Reply | Promise<Reply>;
}

export interface ActorOptions<R extends Role> {
  name: string; // unique within a run, e.g. `sampler#1`
  role: R;
  module: URL; // the actor module
  data?: unknown; // handed to every handler call (a SharedArrayBuffer is shared, not copied)
  capacity?: number; // requests in flight at most
  timeoutMs?: number; // per request, from the moment it is posted
}

// What worker-entry.ts receives as workerData.
export interface ActorWorkerData {
  module: string;
  name: string;
  role: Role;
  capacity: number;
  data: unknown;
}

export class ActorCrash extends Error {
  override name = 'ActorCrash';
  constructor(
    readonly actor: string,
    readonly reason: string,
  ) {
    super(`actor ${actor} crashed: ${reason}`);
  }
}

const DEFAULT_CAPACITY = 8;
// Generous: a request may wait behind its actor loading TypeScript on a busy machine.
const DEFAULT_TIMEOUT_MS = 60_000;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class Actor<R extends Role> {
  readonly name: string;
  readonly role: R;
  /** Settles when the thread is gone: with the crash, or with null after stop(). */
  readonly exited: Promise<ActorCrash | null>;
  private readonly thread: Worker;
  private readonly slots: Mailbox<number>; // the in-flight window: only how many it holds matters
  private readonly pending = new Map<number, Pending>();
  private readonly timeoutMs: number;
  private nextId = 1;
  private unanswered = 0; // requests made and not settled, including those waiting for a slot
  private crash: ActorCrash | null = null;
  private stopping = false;

  constructor(options: ActorOptions<R>) {
    this.name = options.name;
    this.role = options.role;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    this.slots = new Mailbox(capacity);
    const workerData: ActorWorkerData = { module: options.module.href, name: this.name, role: this.role, capacity, data: options.data };
    this.thread = new Worker(tsxWorkerCode('./worker-entry', import.meta.url), { eval: true, workerData });
    this.thread.on('message', (envelope: Envelope) => this.onReply(envelope));
    this.thread.on('error', (error) => this.fail(String(error)));
    this.exited = new Promise((resolve) => {
      this.thread.on('exit', (code) => {
        if (!this.stopping) this.fail(`its thread exited with code ${code}`);
        resolve(this.crash);
      });
    });
  }

  /** Sends `message` and resolves with the actor's reply; `transfer` lists buffers to move with it. */
  async request(message: RoleMessage<R>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    validateMessage(this.role, this.name, message);
    if (this.crash) throw this.crash;
    if (this.stopping) throw new Error(`actor ${this.name} was asked after it stopped`);
    this.unanswered++;
    try {
      return await this.post(message, transfer);
    } finally {
      this.unanswered--;
    }
  }

  private async post(message: RoleMessage<R>, transfer: ArrayBuffer[]): Promise<unknown> {
    const id = this.nextId++;
    await this.slots.put(id);
    // The actor may have crashed while this request waited for its slot.
    if (this.crash) throw this.crash;
    return new Promise((resolve, reject) => {
      const type = (message as { type: string }).type;
      const timer = setTimeout(() => this.fail(`no reply to '${type}' within ${this.timeoutMs} ms`), this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const envelope: Envelope = { kind: 'request', id, message };
      this.thread.postMessage(envelope, transfer);
    });
  }

  /** Waits for the requests already made to be answered, then ends the thread. */
  async stop(): Promise<void> {
    while (this.unanswered > 0 && !this.crash) await new Promise<void>((resolve) => setImmediate(resolve));
    this.stopping = true;
    await this.thread.terminate();
  }

  private onReply(envelope: Envelope): void {
    if (envelope.kind !== 'reply') return;
    const call = this.pending.get(envelope.id);
    if (!call) return;
    this.pending.delete(envelope.id);
    clearTimeout(call.timer);
    void this.slots.take();
    if (envelope.ok) call.resolve(envelope.value);
    else call.reject(new Error(envelope.error));
  }

  private fail(reason: string): void {
    if (this.crash || this.stopping) return;
    this.crash = new ActorCrash(this.name, reason);
    this.slots.close(this.crash);
    for (const call of this.pending.values()) {
      clearTimeout(call.timer);
      call.reject(this.crash);
    }
    this.pending.clear();
    void this.thread.terminate();
  }
}

// User reward modules (`reward module "file.ts"`), run in a small pool of worker threads so that
// a module that throws, returns something other than a finite number, or never returns costs
// one rollout's reward (0, with the error reported), never the run. A call that overruns its
// timeout has its worker terminated and replaced. The contract a module follows is in
// docs/rewards.md.
//
// Not piscina: its abort signal starts counting when a task is submitted, so time spent queued
// behind a hung call, or waiting for a fresh worker to load TypeScript, would count against an
// innocent call. Here the clock starts when a call reaches a worker that has loaded the module.

import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { tsxWorkerCode } from '../../runtime/tsx-worker.ts';
import type { WorkerReply } from './reward-module-worker.ts';

/** What a reward module's default export receives, per rollout. */
export interface RewardModuleInput {
  context: Uint8Array; // UTF-8 bytes of the document text before the predicted position
  prediction: Uint8Array; // the policy's parsed answer
  continuation: Uint8Array; // the true continuation: the next few tokens of the document
  boundaries: number[]; // cumulative byte lengths of the continuation's tokens
  options: Record<string, unknown>; // the `options` of the experiment's reward block
}

/** A module's reward, or why it has none: the rollout is then scored 0. */
export interface RewardModuleOutcome {
  reward: number;
  error?: string;
}

export interface RewardModuleSettings {
  path: string; // the module file; a relative path is taken from the current directory
  timeoutMs: number; // per call, from the moment a loaded worker receives it
  threads: number;
}

// Loading covers starting a thread and compiling TypeScript, slow on a busy machine; a module
// that takes longer than this to import is taken to hang at load.
const LOAD_TIMEOUT_MS = 30_000;

interface PendingCall {
  input: RewardModuleInput;
  settle: (outcome: RewardModuleOutcome) => void;
}

interface ModuleWorker {
  thread: Worker;
  loaded: boolean;
  call: PendingCall | undefined; // the call it is running
  timer: NodeJS.Timeout | undefined; // the running call's timeout, or the load timeout
}

export class RewardModulePool {
  readonly path: string;
  private readonly bootstrap = tsxWorkerCode('./reward-module-worker', import.meta.url);
  private readonly workers = new Set<ModuleWorker>();
  private readonly queue: PendingCall[] = [];
  private loadError: string | undefined; // set once the module failed to load: every call fails with it
  private closed = false;

  constructor(private readonly settings: RewardModuleSettings) {
    this.path = resolve(settings.path);
    for (let i = 0; i < settings.threads; i++) this.startWorker();
  }

  /** Runs the module on one input. Never rejects: a failure is an outcome with reward 0 and the error. */
  score(input: Omit<RewardModuleInput, 'options'>, options: Record<string, unknown>): Promise<RewardModuleOutcome> {
    if (this.closed) return Promise.resolve(this.failure('was called after its pool closed'));
    if (this.loadError !== undefined) return Promise.resolve(this.failure(this.loadError));
    return new Promise((settle) => {
      this.queue.push({ input: { ...input, options }, settle });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failQueued('was closed before the call ran');
    for (const worker of this.workers) this.finishCall(worker, this.failure('was closed while the call ran'));
    await Promise.all([...this.workers].map((worker) => this.stopWorker(worker)));
  }

  private startWorker(): void {
    const thread = new Worker(this.bootstrap, { eval: true, workerData: { modulePath: this.path } });
    const worker: ModuleWorker = { thread, loaded: false, call: undefined, timer: undefined };
    this.workers.add(worker);
    worker.timer = setTimeout(() => this.loadFailed(`did not load within ${LOAD_TIMEOUT_MS} ms`), LOAD_TIMEOUT_MS);
    thread.on('message', (reply: WorkerReply) => this.onReply(worker, reply));
    // A worker that dies before loading would die again in its replacement.
    const died = (what: string) => {
      if (!this.workers.has(worker)) return; // stopped on purpose
      if (worker.loaded) this.replaceWorker(worker, what);
      else this.loadFailed(`could not be loaded: its worker ${what}`);
    };
    thread.on('error', (error) => died(`crashed: ${error.message}`));
    thread.on('exit', (code) => died(`exited with code ${code}`));
  }

  private onReply(worker: ModuleWorker, reply: WorkerReply): void {
    if (reply.kind === 'load-failed') return this.loadFailed(`could not be loaded: ${reply.message}`);
    if (reply.kind === 'loaded') {
      clearTimeout(worker.timer);
      worker.loaded = true;
    } else if (reply.kind === 'threw') {
      this.finishCall(worker, this.failure(`threw: ${reply.message}`));
    } else {
      const value = reply.value;
      this.finishCall(worker, typeof value === 'number' && Number.isFinite(value) ? { reward: value } : this.failure(`returned ${describe(value)}, not a finite number`));
    }
    this.dispatch();
  }

  /** Hands queued calls to loaded, idle workers, each with its timeout. */
  private dispatch(): void {
    for (const worker of this.workers) {
      if (this.queue.length === 0) return;
      if (!worker.loaded || worker.call !== undefined) continue;
      const call = this.queue.shift()!;
      worker.call = call;
      worker.timer = setTimeout(() => this.replaceWorker(worker, `did not return within ${this.settings.timeoutMs} ms`), this.settings.timeoutMs);
      worker.thread.postMessage(call.input);
    }
  }

  private finishCall(worker: ModuleWorker, outcome: RewardModuleOutcome): void {
    clearTimeout(worker.timer);
    const call = worker.call;
    worker.call = undefined;
    call?.settle(outcome);
  }

  /** Fails the worker's call with `what`, stops it and starts a fresh one in its place. */
  private replaceWorker(worker: ModuleWorker, what: string): void {
    this.finishCall(worker, this.failure(what));
    void this.stopWorker(worker);
    if (this.closed || this.loadError !== undefined) return;
    this.startWorker();
    this.dispatch();
  }

  /** The module cannot be loaded: no worker will ever run it, so every call fails with `what`. */
  private loadFailed(what: string): void {
    if (this.loadError !== undefined) return; // the first reason is the one reported
    this.loadError = what;
    for (const worker of [...this.workers]) void this.stopWorker(worker);
    this.failQueued(what);
  }

  private failQueued(what: string): void {
    for (const call of this.queue.splice(0)) call.settle(this.failure(what));
  }

  private async stopWorker(worker: ModuleWorker): Promise<void> {
    clearTimeout(worker.timer);
    this.workers.delete(worker);
    await worker.thread.terminate();
  }

  private failure(what: string): RewardModuleOutcome {
    return { reward: 0, error: `reward module ${this.path} ${what}` };
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number' || value === undefined || value === null) return String(value);
  return `a value of type ${typeof value}`;
}

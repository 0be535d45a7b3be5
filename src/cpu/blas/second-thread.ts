// The second core for the main thread's large matrix products. OpenBLAS runs single-threaded
// here (see library.ts), so a product large enough to pay for waking a thread is split in two
// (by rows or by columns, library.ts says which): this thread computes the first half while a
// helper thread, which calls the same library on the same memory by address, computes the
// second. An element of C is the same dot product whichever thread computes it, so the result is
// the same bit for bit as one call (tested). The main
// thread is blocked in Atomics.wait until the helper is done, so the arrays cannot move under it.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const IDLE = 0, WORK = 1, DONE = 2;

/**
 * Products of at least this many multiply-adds are split: ~100 µs of work on one core, against
 * ~10 µs to wake the helper (splitting from 4M up made sampling's 64-row products slower).
 */
export const SPLIT_MIN_MACS = 1 << 23;

// The helper: waits for work, runs cblas_sgemm on the addresses it is given, says it is done.
const HELPER = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const gemm = koffi.load(workerData.library).func('void cblas_sgemm(int, int, int, int, int, int, float, intptr_t, int, intptr_t, int, float, intptr_t, int)');
const control = new Int32Array(workerData.control), args = new Float64Array(workerData.args);
for (;;) {
  Atomics.wait(control, 0, ${IDLE});
  if (Atomics.load(control, 0) !== ${WORK}) continue;
  gemm(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9], args[10], args[11], args[12], args[13]);
  Atomics.store(control, 0, ${DONE});
  Atomics.notify(control, 0);
  Atomics.wait(control, 0, ${DONE});
}
`;

// One helper per library for the whole thread (the main thread), however many backends load it.
const helpers = new Map<string, SecondThread>();

/** The helper thread that calls `library`, started on first use. */
export function secondThread(library: string): SecondThread {
  let helper = helpers.get(library);
  if (helper === undefined) helpers.set(library, (helper = new SecondThread(library)));
  return helper;
}

class SecondThread {
  private readonly control = new Int32Array(new SharedArrayBuffer(4));
  private readonly args = new Float64Array(new SharedArrayBuffer(14 * 8));

  constructor(library: string) {
    const koffi = createRequire(import.meta.url).resolve('koffi');
    const worker = new Worker(HELPER, { eval: true, workerData: { koffi, library, control: this.control.buffer, args: this.args.buffer } });
    worker.unref(); // it lives as long as the process, and never keeps it alive
  }

  /**
   * Runs cblasArgs (row-major order, transposes, sizes, alpha, A, lda, B, ldb, beta, C, ldc,
   * with A, B and C as addresses) on the helper while `ownHalf` runs here; returns when both are done.
   */
  run(cblasArgs: number[], ownHalf: () => void): void {
    this.args.set(cblasArgs);
    Atomics.store(this.control, 0, WORK);
    Atomics.notify(this.control, 0);
    ownHalf();
    while (Atomics.load(this.control, 0) !== DONE) Atomics.wait(this.control, 0, WORK);
    Atomics.store(this.control, 0, IDLE);
    Atomics.notify(this.control, 0);
  }
}

import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { tsxWorkerCode } from '../runtime/tsx-worker.ts';
import { WeightStore } from '../runtime/weight-store.ts';

function runWorker<T>(workerData: Record<string, unknown>): Promise<T> {
  const worker = new Worker(tsxWorkerCode('./fixtures/runtime/weights', import.meta.url), { eval: true, workerData });
  return new Promise((resolve, reject) => {
    worker.once('message', (result: T) => resolve(result));
    worker.once('error', reject);
  });
}

describe('weight store', () => {
  it('reads back what was published, with its version; 0 before any publish', () => {
    const store = WeightStore.create(5);
    const into = new Float32Array(5).fill(-1);
    expect(store.readLatest(into)).toBe(0);
    expect([...into]).toEqual([-1, -1, -1, -1, -1]);
    store.publish(Float32Array.from([1, 2, 3, 4, 5]), 7);
    expect(store.readLatest(into)).toBe(7);
    expect([...into]).toEqual([1, 2, 3, 4, 5]);
    expect(new WeightStore(store.buffer).latestVersion()).toBe(7);
  });

  it('refuses a version that does not advance, and a wrong length', () => {
    const store = WeightStore.create(3);
    store.publish(new Float32Array(3), 2);
    expect(() => store.publish(new Float32Array(3), 2)).toThrow(/above the latest, 2/);
    expect(() => store.publish(new Float32Array(4), 3)).toThrow(/holds 3 parameters, was given 4/);
    expect(() => store.readLatest(new Float32Array(2))).toThrow(/room for 2/);
    store.publish(new Float32Array(3), 3); // the refused publish left the store writable
    expect(store.latestVersion()).toBe(3);
  });

  it('readers in other workers never see a torn version while a writer publishes', async () => {
    // Large enough that a copy takes far longer than the gap between two publishes.
    const store = WeightStore.create(200_000);
    const last = 300;
    const signal = new SharedArrayBuffer(8); // the writer starts once all three readers are reading
    const readers = [1, 2, 3].map(() => runWorker<{ reads: number; torn: number }>({ mode: 'read', buffer: store.buffer, last, signal }));
    const writer = runWorker<{ published: number }>({ mode: 'write', buffer: store.buffer, last, signal, readers: 3 });
    expect(await writer).toEqual({ published: last });
    for (const result of await Promise.all(readers)) {
      expect(result.torn).toBe(0);
      expect(result.reads).toBeGreaterThan(0);
    }
    const into = new Float32Array(store.length);
    expect(store.readLatest(into)).toBe(last);
    expect(into.every((value) => value === last)).toBe(true);
  });
});

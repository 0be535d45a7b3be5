import { describe, expect, it } from 'vitest';
import { Actor } from '../runtime/actor.ts';
import { ExactlyOnce, SupervisionError, superviseWork, type WorkItem } from '../runtime/supervisor.ts';
import { rolloutBatch } from './fixtures/runtime/rollout-batch.ts';

const SAMPLER = new URL('./fixtures/runtime/sampler.ts', import.meta.url);
const restarts = { maxRestarts: 2, windowMs: 60_000, backoffMs: 10, maxBackoffMs: 100 };

const items = (n: number): WorkItem<number[]>[] => Array.from({ length: n }, (_, i) => ({ id: `batch-${i}`, attempt: 0, payload: [i, i + 1] }));
const request = (item: WorkItem<number[]>) => {
  const context = new Uint8Array(item.payload).buffer;
  return { message: { type: 'sample' as const, item: { ...item, payload: rolloutBatch([context]) } }, transfer: [context] };
};

describe('supervision', () => {
  it('restarts a sampler that throws on its 3rd batch, and the consumer gets every item exactly once', async () => {
    const received: { id: string; attempt: number; reversed: number[] }[] = [];
    const report = await superviseWork({
      items: items(10),
      count: 2,
      name: 'sampler',
      // Only the first generation of each sampler is faulty, so each crashes once.
      spawn: (name, generation) => new Actor({ name, role: 'sampler', module: SAMPLER, data: generation === 0 ? { crashOnBatch: 3 } : {} }),
      request,
      deliver: (item, reply) => {
        const { id, rollouts } = reply as { id: string; rollouts: ArrayBuffer[] };
        expect(id).toBe(item.id);
        received.push({ id, attempt: item.attempt, reversed: [...new Uint8Array(rollouts[0])] });
      },
      restarts,
      checkpoint: () => Promise.reject(new Error('no checkpoint is due when the work completes')),
    });
    expect(received.map((r) => r.id).sort()).toEqual(items(10).map((i) => i.id).sort());
    for (const r of received) expect(r.reversed).toEqual([Number(r.id.slice(6)) + 1, Number(r.id.slice(6))]);
    // Two crashes, two retries; both may fall on the same item (a retry can be another sampler's 3rd batch).
    expect(received.reduce((sum, r) => sum + r.attempt, 0)).toBe(2);
    expect(report).toMatchObject({ delivered: 10, requeued: 2, duplicates: 0 });
    expect(report.restarts.map((r) => [r.actor, r.generation]).sort()).toEqual([['sampler#0', 1], ['sampler#1', 1]]);
    for (const r of report.restarts) expect(r.reason).toContain(`${r.actor} fails on batch 3`);
  });

  it('a crash loop stops the run after the restart budget, checkpointing once and naming the actor and its error', async () => {
    const checkpoints: SupervisionError[] = [];
    const delivered: string[] = [];
    let spawned = 0;
    const run = superviseWork({
      items: items(4),
      count: 1,
      name: 'sampler',
      spawn: (name) => {
        spawned++;
        return new Actor({ name, role: 'sampler', module: SAMPLER, data: { crashOnBatch: 1 } });
      },
      request,
      deliver: (item) => void delivered.push(item.id),
      restarts,
      checkpoint: async (failure) => void checkpoints.push(failure),
    });
    const error = await run.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SupervisionError);
    expect((error as SupervisionError).actor).toBe('sampler#0');
    expect((error as Error).message).toMatch(/^actor sampler#0 crashed 3 times within 60000 ms, past its budget of 2 restarts; last error: .*sampler#0 fails on batch 1/);
    expect(checkpoints).toEqual([error]);
    expect(spawned).toBe(3);
    expect(delivered).toEqual([]);
  });

  it('the consumer refuses an item id it has already taken', () => {
    const once = new ExactlyOnce();
    expect([once.accept('a'), once.accept('b'), once.accept('a')]).toEqual([true, true, false]);
    expect(once.duplicates).toBe(1);
  });
});

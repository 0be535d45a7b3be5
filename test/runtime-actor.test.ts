import { afterEach, describe, expect, it } from 'vitest';
import { Actor, ActorCrash } from '../runtime/actor.ts';
import { rolloutBatch } from './fixtures/runtime/rollout-batch.ts';

const SAMPLER = new URL('./fixtures/runtime/sampler.ts', import.meta.url);
const running: Actor<'sampler'>[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((actor) => actor.stop()));
});

function sampler(data: Record<string, unknown> = {}, options: { timeoutMs?: number; capacity?: number } = {}): Actor<'sampler'> {
  const actor = new Actor({ name: 'sampler#0', role: 'sampler', module: SAMPLER, data, ...options });
  running.push(actor);
  return actor;
}

const batch = (id: string, ...prompts: number[][]) => ({
  type: 'sample' as const,
  item: { id, attempt: 0, payload: rolloutBatch(prompts.map((p) => new Uint8Array(p).buffer)) },
});

describe('actor', () => {
  it('answers requests in order, with the state it keeps between them', async () => {
    const actor = sampler();
    expect(await actor.request({ type: 'configure', configVersion: 2, settings: { temperature: 0.5 } })).toEqual({ configVersion: 2, temperature: 0.5 });
    const replies = (await Promise.all([1, 2, 3].map((i) => actor.request(batch(`b${i}`, [i, 0]))))) as { id: string; temperature: number }[];
    expect(replies.map((r) => [r.id, r.temperature])).toEqual([['b1', 0.5], ['b2', 0.5], ['b3', 0.5]]);
  });

  it('moves rollout buffers both ways instead of copying them', async () => {
    const actor = sampler({}, { capacity: 1 });
    const request = batch('b1', [1, 2, 3]);
    const sent = request.item.payload.prompts[0];
    const reply = (await actor.request(request, [sent])) as { rollouts: ArrayBuffer[] };
    expect(sent.byteLength).toBe(0); // detached here: it was transferred
    expect([...new Uint8Array(reply.rollouts[0])]).toEqual([3, 2, 1]);
  });

  it('rejects a malformed message before it leaves, and keeps working', async () => {
    const actor = sampler();
    const bad = { type: 'sample', item: { id: 'b1', attempt: 0, payload: { ...rolloutBatch([]), prompts: [] } } } as never;
    await expect(actor.request(bad)).rejects.toThrow("sampler#0 (sampler) rejected 'sample': item.payload.prompts: ");
    expect(await actor.request(batch('b2', [1]))).toMatchObject({ id: 'b2' });
  });

  it('a handler that throws crashes the actor: the request rejects with the actor and the error', async () => {
    const actor = sampler({ crashOnBatch: 2 });
    await actor.request(batch('b1', [1]));
    const crash = await actor.request(batch('b2', [1])).catch((error: unknown) => error);
    expect(crash).toBeInstanceOf(ActorCrash);
    expect((crash as ActorCrash).message).toMatch(/^actor sampler#0 crashed: .*sampler#0 fails on batch 2/);
    expect(await actor.exited).toBe(crash);
    await expect(actor.request(batch('b3', [1]))).rejects.toBe(crash);
  });

  it('a request with no reply within its timeout fails the actor', async () => {
    const actor = sampler({ hangOnBatch: 1 }, { timeoutMs: 2000 });
    await expect(actor.request(batch('b1', [1]))).rejects.toThrow("actor sampler#0 crashed: no reply to 'sample' within 2000 ms");
  });

  it('stops cleanly once the requests in flight are answered', async () => {
    const actor = sampler();
    const reply = actor.request(batch('b1', [1]));
    await actor.stop();
    expect(await reply).toMatchObject({ id: 'b1' });
    expect(await actor.exited).toBe(null);
  });
});

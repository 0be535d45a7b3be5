import { describe, expect, it } from 'vitest';
import { Mailbox } from '../runtime/mailbox.ts';

describe('mailbox', () => {
  it('keeps order and makes a sender wait while it is full', async () => {
    const box = new Mailbox<number>(2);
    await box.put(1);
    await box.put(2);
    let thirdIn = false;
    const third = box.put(3).then(() => (thirdIn = true));
    await Promise.resolve();
    expect(thirdIn).toBe(false);
    expect(box.length).toBe(2);
    expect(await box.take()).toBe(1);
    await third;
    expect(thirdIn).toBe(true);
    expect([await box.take(), await box.take()]).toEqual([2, 3]);
  });

  it('makes a receiver wait while it is empty, and serves waiting receivers in order', async () => {
    const box = new Mailbox<string>(1);
    const first = box.take();
    const second = box.take();
    await box.put('a');
    await box.put('b');
    expect([await first, await second]).toEqual(['a', 'b']);
  });

  it('a fast producer runs at the pace of a slow consumer, never holding more than the capacity', async () => {
    const box = new Mailbox<number>(3);
    let most = 0;
    const producer = (async () => {
      for (let i = 0; i < 50; i++) {
        await box.put(i);
        most = Math.max(most, box.length);
      }
    })();
    const received: number[] = [];
    for (let i = 0; i < 50; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      received.push(await box.take());
    }
    await producer;
    expect(received).toEqual([...Array(50).keys()]);
    expect(most).toBeLessThanOrEqual(3);
  });

  it('closing fails the waiters and every later call', async () => {
    const box = new Mailbox<number>(1);
    const waiting = box.take();
    box.close(new Error('actor gone'));
    await expect(waiting).rejects.toThrow('actor gone');
    await expect(box.put(1)).rejects.toThrow('actor gone');
    await expect(box.take()).rejects.toThrow('actor gone');
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new Mailbox(0)).toThrow(/positive integer, was 0/);
  });
});

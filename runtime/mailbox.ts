// A bounded first-in first-out queue. `put` waits while the queue is full, which is how a fast
// sender is slowed to the pace of its receiver (backpressure); `take` waits while it is empty.
// Waiters are served in arrival order. Closing fails every waiter and every later call.

export class Mailbox<T> {
  private readonly items: T[] = [];
  private readonly takers: { resolve: (item: T) => void; reject: (error: Error) => void }[] = [];
  private readonly putters: { item: T; resolve: () => void; reject: (error: Error) => void }[] = [];
  private closedWith: Error | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`mailbox capacity must be a positive integer, was ${capacity}`);
  }

  get length(): number {
    return this.items.length;
  }

  put(item: T): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const taker = this.takers.shift();
    if (taker) {
      taker.resolve(item);
      return Promise.resolve();
    }
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.putters.push({ item, resolve, reject }));
  }

  take(): Promise<T> {
    if (this.items.length > 0) {
      const item = this.items.shift()!;
      const putter = this.putters.shift();
      if (putter) {
        this.items.push(putter.item);
        putter.resolve();
      }
      return Promise.resolve(item);
    }
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => this.takers.push({ resolve, reject }));
  }

  /** Fails every waiting and later put and take with `error`; items already queued are dropped. */
  close(error: Error): void {
    this.closedWith = error;
    this.items.length = 0;
    for (const waiter of [...this.takers.splice(0), ...this.putters.splice(0)]) waiter.reject(error);
  }
}

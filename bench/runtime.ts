// The actor runtime's costs: a request/reply round trip to an actor thread (one at a time:
// median and p99 latency), messages per second with 64 requests in flight, and the time to
// broadcast weights through the weight store (publish by this thread, then a complete read by
// another worker) for a 1M and a 10M parameter model. The actor and the reading worker are the
// test fixtures (test/fixtures/runtime).
import { Worker } from 'node:worker_threads';
import { Actor } from '../runtime/actor.ts';
import { tsxWorkerCode } from '../runtime/tsx-worker.ts';
import { WeightStore } from '../runtime/weight-store.ts';
import { printFigures, type Figure } from './report.ts';

const ROUND_TRIPS = 5000;
const THROUGHPUT_MESSAGES = 50_000;
const BROADCASTS = 20;

function quantile(samples: number[], q: number): number {
  return [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.floor(samples.length * q))];
}

async function actorFigures(): Promise<Figure[]> {
  const actor = new Actor({ name: 'sampler#0', role: 'sampler', module: new URL('../test/fixtures/runtime/sampler.ts', import.meta.url), capacity: 64 });
  const message = (i: number) => ({ type: 'configure' as const, configVersion: i + 1, settings: { temperature: 0.8 } });
  for (let i = 0; i < 500; i++) await actor.request(message(i)); // loads the module, warms the JIT
  const latencies: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const start = performance.now();
    await actor.request(message(i));
    latencies.push(performance.now() - start);
  }
  const start = performance.now();
  await Promise.all(Array.from({ length: THROUGHPUT_MESSAGES }, (_, i) => actor.request(message(i))));
  const seconds = (performance.now() - start) / 1000;
  await actor.stop();
  return [
    { name: 'actor round trip, median', value: quantile(latencies, 0.5) * 1000, unit: 'us' },
    { name: 'actor round trip, p99', value: quantile(latencies, 0.99) * 1000, unit: 'us' },
    { name: 'actor throughput, 64 in flight', value: THROUGHPUT_MESSAGES / seconds, unit: 'messages/s' },
  ];
}

async function broadcastFigures(parameters: number, label: string): Promise<Figure[]> {
  const store = WeightStore.create(parameters);
  const signal = new SharedArrayBuffer(8); // [published, read]
  const flags = new Int32Array(signal);
  const reader = new Worker(tsxWorkerCode('../test/fixtures/runtime/weights', import.meta.url), {
    eval: true,
    workerData: { mode: 'follow', buffer: store.buffer, last: BROADCASTS, signal },
  });
  const flat = new Float32Array(parameters);
  const publishes: number[] = [];
  const broadcasts: number[] = [];
  for (let version = 1; version <= BROADCASTS; version++) {
    flat.fill(version);
    const start = performance.now();
    store.publish(flat, version);
    publishes.push(performance.now() - start);
    Atomics.store(flags, 0, version);
    Atomics.notify(flags, 0);
    while (Atomics.load(flags, 1) < version) Atomics.wait(flags, 1, version - 1, 1000);
    broadcasts.push(performance.now() - start);
  }
  await reader.terminate();
  return [
    { name: `weight publish, ${label}`, value: quantile(publishes, 0.5), unit: 'ms' },
    { name: `weight broadcast (publish + read in another worker), ${label}`, value: quantile(broadcasts, 0.5), unit: 'ms' },
  ];
}

export async function main(args: string[]): Promise<void> {
  printFigures([...(await actorFigures()), ...(await broadcastFigures(1_000_000, '1M')), ...(await broadcastFigures(10_000_000, '10M'))], args);
}

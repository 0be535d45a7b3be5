// One worker thread of the reward-module pool (reward-module.ts). It imports the user's module
// once, says whether that worked, then answers calls one at a time: the module's default export
// is called with the input, and whatever it returns (or resolves to) goes back for the pool to
// check, or the message of what it threw.

import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { RewardModuleInput } from './reward-module.ts';

export type WorkerReply =
  | { kind: 'loaded' }
  | { kind: 'load-failed'; message: string }
  | { kind: 'returned'; value: unknown }
  | { kind: 'threw'; message: string };

const port = parentPort!;
const post = (reply: WorkerReply) => port.postMessage(reply);

try {
  const module = (await import(pathToFileURL((workerData as { modulePath: string }).modulePath).href)) as { default?: unknown };
  if (typeof module.default !== 'function') throw new Error('it has no default export that is a function');
  const reward = module.default as (input: RewardModuleInput) => unknown;
  port.on('message', async (input: RewardModuleInput) => {
    try {
      post({ kind: 'returned', value: await reward(input) });
    } catch (error) {
      post({ kind: 'threw', message: messageOf(error) });
    }
  });
  post({ kind: 'loaded' });
} catch (error) {
  post({ kind: 'load-failed', message: messageOf(error) });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// User reward modules run isolated: a module that throws, returns NaN or something else, or
// never returns is reported with its path and scored 0, and later calls are scored as usual.

import { afterAll, expect, test } from 'vitest';
import { RewardModulePool } from '../src/rl/reward-module.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const call = (prediction: string) => ({ context: bytes('the cat'), prediction: bytes(prediction), continuation: bytes(' sat on'), boundaries: [4, 7] });

const pools: RewardModulePool[] = [];
function pool(name: string, threads = 1): RewardModulePool {
  const created = new RewardModulePool({ path: `test/fixtures/rewards/${name}.ts`, timeoutMs: 500, threads });
  pools.push(created);
  return created;
}
afterAll(() => Promise.all(pools.map((p) => p.close())));

test('a good call scores, with the options of the reward block', async () => {
  const module = pool('misbehaves');
  expect(await module.score(call(' sat'), {})).toEqual({ reward: 1 });
  expect(await module.score(call('x'), { scale: 3 })).toEqual({ reward: 1.5 });
});

test('a throw, NaN or a string is reported with the module path and scored 0; the next call scores', async () => {
  const module = pool('misbehaves');
  const path = module.path;
  expect(path).toMatch(/test\/fixtures\/rewards\/misbehaves\.ts$/);
  expect(await module.score(call('throw'), {})).toEqual({ reward: 0, error: `reward module ${path} threw: asked to throw` });
  expect(await module.score(call('nan'), {})).toEqual({ reward: 0, error: `reward module ${path} returned NaN, not a finite number` });
  expect(await module.score(call('text'), {})).toEqual({ reward: 0, error: `reward module ${path} returned a value of type string, not a finite number` });
  expect(await module.score(call(' sat'), {})).toEqual({ reward: 1 });
});

test('calls that never return time out one by one; calls queued behind them still score', async () => {
  const module = pool('misbehaves'); // one thread: the good calls wait behind the hung ones
  const outcomes = await Promise.all(['loop', ' sat', 'wait', 'x'].map((prediction) => module.score(call(prediction), {})));
  const timedOut = `reward module ${module.path} did not return within 500 ms`;
  expect(outcomes).toEqual([{ reward: 0, error: timedOut }, { reward: 1 }, { reward: 0, error: timedOut }, { reward: 0.5 }]);
});

test('a call that crashes or ends its thread is reported, and a fresh thread scores the next call', async () => {
  const module = pool('misbehaves');
  const outcomes = await Promise.all(['crash', 'exit', ' sat'].map((prediction) => module.score(call(prediction), {})));
  expect(outcomes).toEqual([
    { reward: 0, error: `reward module ${module.path} crashed: thrown in a timer` },
    { reward: 0, error: `reward module ${module.path} exited with code 3` },
    { reward: 1 },
  ]);
});

test('closing the pool settles the calls it still holds', async () => {
  const module = pool('misbehaves');
  await module.score(call(' sat'), {}); // loaded, so the next call runs at once
  const running = module.score(call('wait'), {});
  const queued = module.score(call(' sat'), {});
  await module.close();
  expect(await running).toEqual({ reward: 0, error: `reward module ${module.path} was closed while the call ran` });
  expect(await queued).toEqual({ reward: 0, error: `reward module ${module.path} was closed before the call ran` });
  expect(await module.score(call(' sat'), {})).toEqual({ reward: 0, error: `reward module ${module.path} was called after its pool closed` });
});

test('a module that cannot be loaded fails every call with the reason', async () => {
  const missing = pool('no-such-module');
  const outcome = await missing.score(call(' sat'), {});
  expect(outcome.reward).toBe(0);
  expect(outcome.error).toMatch(/no-such-module\.ts could not be loaded: /);
  expect(await missing.score(call(' sat'), {})).toEqual(outcome);
  expect(await pool('no-default').score(call(' sat'), {})).toEqual({ reward: 0, error: expect.stringMatching(/no-default\.ts could not be loaded: it has no default export that is a function$/) });
});

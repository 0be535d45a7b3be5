// The RPT stage on the tiny experiment: it takes its steps from the pre-trained policy, writes
// each step's metrics and the evaluation checkpoints, is reused when cached, and an interrupted
// run resumes from its checkpoint to exactly the uninterrupted result.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { runStages, type StagesResult } from '../src/stages/pipeline.ts';
import { loadModel } from '../src/stages/model-checkpoint.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

const backend = new CpuBackend();
const ir = tinyExperiment(['learner.steps=4', 'learner.batch=4', 'eval.every=2', 'checkpoint.every=2']);
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let whole: StagesResult;

async function rptMetrics(runDir: string): Promise<Record<string, unknown>[]> {
  const lines = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  return lines.filter((line) => line.stage === 'rpt');
}

beforeAll(async () => {
  temp = await temporaryDirectory();
  whole = await runStages(ir, 'rpt', { runDir: join(temp.dir, 'whole'), baseDir: temp.dir, backend });
});
afterAll(async () => {
  backend.destroy();
  await temp.remove();
});

test('it takes the learner\'s steps and writes one metrics line per step, with the time split and the compute', async () => {
  const rpt = whole.rpt!;
  expect(rpt.steps).toBe(4);
  expect(rpt.evalSteps).toEqual([2, 4]);
  expect(rpt.rollouts).toBe(4 * 4 * 4);
  expect(rpt.flops.sampling).toBeGreaterThan(0);
  expect(rpt.flops.learning).toBeGreaterThan(0);
  const metrics = await rptMetrics(join(temp.dir, 'whole'));
  expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4]);
  for (const m of metrics) {
    expect(Object.keys(m.seconds as object).sort()).toEqual(['learning', 'sampling', 'verification']);
    expect(typeof m.mean_reward).toBe('number');
  }
  expect(metrics[3].flops).toBeCloseTo(rpt.flops.sampling + rpt.flops.learning, -3);
});

test('`keep last` removes older checkpoints but never those of evaluation steps', async () => {
  const kept = tinyExperiment(['learner.steps=4', 'learner.batch=4', 'eval.every=2', 'checkpoint.every=1', 'checkpoint.keep=last 1']);
  const result = await runStages(kept, 'rpt', { runDir: join(temp.dir, 'kept'), baseDir: temp.dir, backend });
  expect(await readdir(join(result.rpt!.dir, 'checkpoints'))).toEqual(['step-000002', 'step-000003', 'step-000004']);
});

test('a second run with the same inputs reuses the result', async () => {
  const again = await runStages(ir, 'rpt', { runDir: join(temp.dir, 'whole'), baseDir: temp.dir, backend });
  expect(again.rpt!.cached).toBe(true);
  expect(again.rpt!.hash).toBe(whole.rpt!.hash);
});

test('a run interrupted after step 2 resumes from its checkpoint to the uninterrupted weights and metrics', async () => {
  const runDir = join(temp.dir, 'interrupted');
  const controller = new AbortController();
  const onProgress = (p: { stage: string; step: number }) => {
    if (p.stage === 'rpt' && p.step === 2) controller.abort(new Error('stop'));
  };
  await expect(runStages(ir, 'rpt', { runDir, baseDir: temp.dir, backend, onProgress, signal: controller.signal })).rejects.toThrow('stop');
  const resumed = await runStages(ir, 'rpt', { runDir, baseDir: temp.dir, backend });
  expect(resumed.rpt!.resumedFrom).toBe(2);
  expect(resumed.rpt!.flops).toEqual(whole.rpt!.flops);
  const [a, b] = await Promise.all([loadModel(whole.rpt!.checkpoint), loadModel(resumed.rpt!.checkpoint)]);
  expect(Buffer.from(b.flat.buffer).equals(Buffer.from(a.flat.buffer))).toBe(true);
  const strip = (m: Record<string, unknown>) => [m.step, m.mean_reward, m.loss, m.grad_norm, m.weight_version];
  expect((await rptMetrics(runDir)).map(strip)).toEqual((await rptMetrics(join(temp.dir, 'whole'))).map(strip));
});

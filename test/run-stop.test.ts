// The RPT stage stopped through its signal (Ctrl-C under rpt run, or a structural edit) keeps
// the step it reached in a checkpoint, between its cadence's checkpoints, and resumes from it to
// the uninterrupted result.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { checkpointDir, latestCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { createBackend } from '../src/backend/select.ts';
import { loadModel } from '../src/stages/model-checkpoint.ts';
import { runStages } from '../src/stages/pipeline.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

const backend = await createBackend('cpu');
const ir = tinyExperiment(['learner.steps=5', 'learner.batch=4', 'checkpoint.every=100']);
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
beforeAll(async () => {
  temp = await temporaryDirectory();
});
afterAll(async () => {
  backend.destroy();
  await temp.remove();
});

test('RPT stopped between checkpoints keeps the step reached and resumes from it to the uninterrupted weights', async () => {
  const whole = await runStages(ir, 'rpt', { runDir: join(temp.dir, 'whole'), baseDir: temp.dir, backend });
  const runDir = join(temp.dir, 'stopped');
  const controller = new AbortController();
  const onProgress = (p: { stage: string; step: number }) => {
    if (p.stage === 'rpt' && p.step === 3) controller.abort(new Error('stop'));
  };
  // Its cadence is every 100 steps and the last: step 3 is kept only because the stage stopped there.
  await expect(runStages(ir, 'rpt', { runDir, baseDir: temp.dir, backend, onProgress, signal: controller.signal })).rejects.toThrow('stop');
  const resumed = await runStages(ir, 'rpt', { runDir, baseDir: temp.dir, backend });
  expect(resumed.rpt!.resumedFrom).toBe(3);
  expect(await latestCheckpoint(resumed.rpt!.dir)).toEqual({ step: 5, dir: checkpointDir(resumed.rpt!.dir, 5) });
  const [a, b] = await Promise.all([loadModel(whole.rpt!.checkpoint), loadModel(resumed.rpt!.checkpoint)]);
  expect(Buffer.from(b.flat.buffer).equals(Buffer.from(a.flat.buffer))).toBe(true);
}, 120_000);

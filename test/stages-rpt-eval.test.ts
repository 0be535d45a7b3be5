// Evaluation of RPT against its baselines on the tiny experiment: every arm and mode asked for,
// on the same holdout positions, the compute-matched control pre-trained for RPT's FLOPs, and
// numbers that repeat bit for bit when the same checkpoints are evaluated again.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { runStages, type StagesResult } from '../src/stages/pipeline.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

const backend = new CpuBackend();
const ir = tinyExperiment(['learner.steps=2', 'learner.batch=4', 'eval.every=1', 'eval.positions=48', 'eval.documents=20', 'eval.baselines=[ntp_matched]']);
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let first: StagesResult;

beforeAll(async () => {
  temp = await temporaryDirectory();
  first = await runStages(ir, 'rpt-eval', { runDir: join(temp.dir, 'run'), baseDir: temp.dir, backend });
});
afterAll(async () => {
  backend.destroy();
  await temp.remove();
});

test('every arm is evaluated in both modes on the same positions; RPT at each evaluation step', () => {
  const points = first.rptEval!.points;
  expect(points.map((p) => `${p.arm}/${p.mode}/${p.step}`)).toEqual([
    'base/standard/0', 'base/reasoning/0', 'rpt/standard/1', 'rpt/reasoning/1', 'rpt/standard/2', 'rpt/reasoning/2', 'ntp_matched/standard/0', 'ntp_matched/reasoning/0',
  ]);
  for (const p of points) expect(p.accuracy.all.total).toBe(first.rptEval!.positions);
  expect(first.rptEval!.positions).toBe(48);
});

test('the compute-matched control trains past the base for the steps that cost RPT\'s FLOPs', () => {
  const matched = first.rptEval!.ntpMatched!;
  expect(matched.extraSteps).toBeGreaterThanOrEqual(1);
  expect(matched.steps).toBe(ir.models.base.pretrain!.steps + matched.extraSteps);
});

test('evaluating the same checkpoints again gives the same numbers bit for bit', async () => {
  // The RPT checkpoints' cached evaluations too, so that every point is computed again.
  await rm(first.rptEval!.dir, { recursive: true });
  await rm(join(first.rpt!.dir, 'evals'), { recursive: true });
  const again = await runStages(ir, 'rpt-eval', { runDir: join(temp.dir, 'run'), baseDir: temp.dir, backend });
  expect(again.rptEval!.cached).toBe(false);
  expect(again.rptEval!.points).toEqual(first.rptEval!.points);
});

test('a baseline not asked for is not computed', async () => {
  const without = await runStages(tinyExperiment(['learner.steps=2', 'learner.batch=4', 'eval.every=1', 'eval.positions=16', 'eval.documents=20', 'eval.modes=[standard]']), 'rpt-eval', { runDir: join(temp.dir, 'run'), baseDir: temp.dir, backend });
  expect(without.rptEval!.ntpMatched).toBeNull();
  expect(without.rptEval!.points.map((p) => `${p.arm}/${p.mode}`)).toEqual(['base/standard', 'rpt/standard', 'rpt/standard']);
});

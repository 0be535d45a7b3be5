// The RPT stage and live-safe settings: they are not in the stage's hash, so a run resumed with
// an edited learning rate, or an edited reward module, continues from its checkpoint under a new
// config version, recorded in the metrics; and the stage runs whatever loop its factory makes.
import { appendFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createBackend } from '../src/backend/select.ts';
import { runStages } from '../src/stages/pipeline.ts';
import { localLoop, rptHash, type RptLoopFactory } from '../src/stages/rpt.ts';
import { metricsRows, rptSteps } from './run-fixture.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

const backend = await createBackend('cpu');
const inputs = { data: 'd', filter: 'f', policy: 'p' };
const base = ['learner.steps=4', 'learner.batch=4', 'checkpoint.every=100'];
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
beforeAll(async () => {
  temp = await temporaryDirectory();
});
afterAll(async () => {
  backend.destroy();
  await temp.remove();
});

describe('live-safe settings in the RPT stage', () => {
  test('live-safe edits leave the stage hash alone; structural ones change it', () => {
    const hash = (overrides: string[]) => rptHash(tinyExperiment(overrides), inputs);
    const before = hash([]);
    for (const live of ['policy.temperature=0.5', 'policy.top_p=0.9', 'policy.top_k=20', 'reward=first_token', 'learner.lr=3e-4', 'eval.every=5', 'actors.samplers=2', 'actors.verifiers=2']) {
      expect(hash([live]), live).toBe(before);
    }
    for (const structural of ['learner.batch=4', 'learner.rollouts=8', 'policy.think=4 tokens', 'seed=4']) expect(hash([structural]), structural).not.toBe(before);
  });

  test('a run stopped at step 2 and resumed with another learning rate continues from its checkpoint as config version 2', async () => {
    const runDir = join(temp.dir, 'lr');
    const controller = new AbortController();
    let made = 0;
    const loop: RptLoopFactory = (spec) => {
      made++;
      return localLoop(spec);
    };
    const onProgress = (p: { stage: string; step: number }) => {
      if (p.stage === 'rpt' && p.step === 2) controller.abort(new Error('stop'));
    };
    await expect(runStages(tinyExperiment(base), 'rpt', { runDir, baseDir: temp.dir, backend, onProgress, signal: controller.signal, loop })).rejects.toThrow('stop');
    const resumed = await runStages(tinyExperiment([...base, 'learner.lr=3e-4']), 'rpt', { runDir, baseDir: temp.dir, backend, loop });
    expect(made).toBe(2);
    expect(resumed.rpt!.resumedFrom).toBe(2);
    expect(resumed.rpt!.config).toMatchObject({ configVersion: 2, step: 3, values: { lr: 3e-4 } });
    const config = (await metricsRows(runDir)).filter((row) => row.stage === 'rpt-config');
    expect(config.map((row) => [row.config_version, row.step, row.lr])).toEqual([[1, 1, 1e-4], [2, 3, 3e-4]]);
    const steps = await rptSteps(runDir);
    expect([...steps.values()].map((row) => [row.step, row.config_version, row.lr])).toEqual([[1, 1, 1e-4], [2, 1, 1e-4], [3, 2, 3e-4], [4, 2, 3e-4]]);
  }, 120_000);

  test('a reward module whose code changed while the run was stopped is a new config version when it resumes; the same code is not', async () => {
    const runDir = join(temp.dir, 'module');
    const module = join(temp.dir, 'reward.ts');
    await copyFile(fileURLToPath(new URL('./fixtures/rewards/first-byte.ts', import.meta.url)), module);
    const ir = tinyExperiment([...base, `reward=module "${module}"`]);
    const stopAt = (step: number) => {
      const controller = new AbortController();
      return { signal: controller.signal, onProgress: (p: { stage: string; step: number }) => p.stage === 'rpt' && p.step === step && controller.abort(new Error('stop')) };
    };
    await expect(runStages(ir, 'rpt', { runDir, baseDir: temp.dir, backend, ...stopAt(1) })).rejects.toThrow('stop');
    await expect(runStages(ir, 'rpt', { runDir, baseDir: temp.dir, backend, ...stopAt(2) })).rejects.toThrow('stop');
    await appendFile(module, '// edited: the same rule, other code\n');
    await runStages(ir, 'rpt', { runDir, baseDir: temp.dir, backend });
    const config = (await metricsRows(runDir)).filter((row) => row.stage === 'rpt-config');
    expect(config.map((row) => [row.config_version, row.step])).toEqual([[1, 1], [2, 3]]);
  }, 120_000);
});

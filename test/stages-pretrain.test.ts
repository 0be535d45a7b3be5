// The pre-training stage on the cpu backend: it learns, it resumes bit-exactly, it is reused.
import { readdir, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { ExperimentIR } from '../dsl/ir.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { initParams } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';
import { packWindows } from '../src/stages/batching.ts';
import { loadModel } from '../src/stages/model-checkpoint.ts';
import { declaredModelConfig } from '../src/stages/models.ts';
import { evenlySpaced, HOLDOUT_EVAL_WINDOWS, meanHoldoutLoss, runPretrainStage, type PretrainInputs } from '../src/stages/pretrain.ts';
import type { Progress } from '../src/stages/progress.ts';
import { loadSplit, runDataStage } from '../src/stages/token-data.ts';
import { runTokenizerStage } from '../src/stages/tokenizer.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

const backend = new CpuBackend();
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
beforeEach(async () => {
  temp = await temporaryDirectory();
});
afterEach(async () => {
  await temp.remove();
});

/** The inputs of the pretrain stage of model `base` in `runDir`, its tokenizer and data prepared. */
async function pretrainInputs(ir: ExperimentIR, runDir: string): Promise<PretrainInputs> {
  const tokenizer = await runTokenizerStage(ir, runDir, temp.dir);
  const data = await runDataStage(ir, runDir, temp.dir, tokenizer);
  return { ir, model: 'base', runDir, backend, tokenizer, data };
}

async function pretrainDir(runDir: string): Promise<string> {
  const names = (await readdir(join(runDir, 'stages'))).filter((name) => name.startsWith('pretrain-'));
  expect(names).toHaveLength(1);
  return join(runDir, 'stages', names[0]);
}

/** The inputs with a signal that aborts once step `step` has been reported. */
function interruptedAt(step: number, inputs: PretrainInputs): PretrainInputs {
  const controller = new AbortController();
  const onProgress = (progress: Progress) => {
    if (progress.step === step) controller.abort(new Error(`stopped at step ${step}`));
  };
  return { ...inputs, onProgress, signal: controller.signal };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('pretrain stage', () => {
  test('lowers the holdout loss well below that of the initial model', async () => {
    const inputs = await pretrainInputs(tinyExperiment(), join(temp.dir, 'run'));
    const config = declaredModelConfig(inputs.ir, 'base', inputs.tokenizer);
    const holdout = packWindows(await loadSplit(inputs.data, 'holdout'), inputs.tokenizer.endToken, config.context);
    const untrained = new Transformer(backend, config, initParams(config, inputs.ir.models.base.transformer!.init_seed));
    const before = await meanHoldoutLoss(untrained, holdout, evenlySpaced(holdout.count, HOLDOUT_EVAL_WINDOWS), 8);
    expect(Math.abs(before - Math.log(config.vocabSize))).toBeLessThan(0.1); // near-uniform at initialisation

    const result = await runPretrainStage(inputs);
    expect(result.cached).toBe(false);
    expect(result.steps).toBe(60);
    expect(result.holdoutLoss).toBeLessThan(before - 2);
    expect(result.perplexity).toBeCloseTo(Math.exp(result.holdoutLoss), 6);

    // Holdout evaluations at steps 20 and 40 and the final one are in the metrics, falling.
    const metrics = (await readFile(join(inputs.runDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    const holdoutCurve = metrics.filter((m) => m.holdout_loss !== undefined).map((m) => [m.step, m.holdout_loss]);
    expect(holdoutCurve.map(([step]) => step)).toEqual([20, 40, 60]);
    expect(holdoutCurve[2][1]).toBeLessThan(holdoutCurve[0][1]);
    expect(metrics.filter((m) => m.loss !== undefined)).toHaveLength(60);
  });

  test('interrupted and resumed, it ends with the same weights and optimizer state as an uninterrupted run', async () => {
    const ir = tinyExperiment(['model.base.pretrain.steps=30', 'model.base.pretrain.checkpoint=10 steps']);
    const uninterrupted = await runPretrainStage(await pretrainInputs(ir, join(temp.dir, 'a')));

    const inputs = await pretrainInputs(ir, join(temp.dir, 'b'));
    // Stopped after step 15, between the checkpoints of steps 10 and 20: it keeps step 15 too.
    await expect(runPretrainStage(interruptedAt(15, inputs))).rejects.toThrow('stopped at step 15');
    expect(await readdir(join(await pretrainDir(inputs.runDir), 'checkpoints'))).toEqual(['step-000010', 'step-000015']);

    const steps: number[] = [];
    const resumed = await runPretrainStage({ ...inputs, onProgress: (p) => steps.push(p.step) });
    expect(resumed.resumedFrom).toBe(15);
    expect(steps[0]).toBe(16);
    expect(resumed.hash).toBe(uninterrupted.hash);
    expect(resumed.holdoutLoss).toBe(uninterrupted.holdoutLoss);

    const expected = await loadModel(uninterrupted.checkpoint, { withOptimizer: true });
    const actual = await loadModel(resumed.checkpoint, { withOptimizer: true });
    expect(sameBits(actual.flat, expected.flat)).toBe(true);
    expect(actual.optimizer!.step).toBe(30);
    actual.optimizer!.m.forEach((m, i) => expect(sameBits(m, expected.optimizer!.m[i])).toBe(true));
    actual.optimizer!.v.forEach((v, i) => expect(sameBits(v, expected.optimizer!.v[i])).toBe(true));
  });

  test('keeps the newest `keep last` checkpoints', async () => {
    const ir = tinyExperiment(['model.base.pretrain.steps=20', 'model.base.pretrain.checkpoint=5 steps', 'checkpoint.keep=last 2']);
    const inputs = await pretrainInputs(ir, join(temp.dir, 'run'));
    await runPretrainStage(inputs);
    expect(await readdir(join(await pretrainDir(inputs.runDir), 'checkpoints'))).toEqual(['step-000015', 'step-000020']);
  });

  test('a second run with the same inputs reuses the result without training', async () => {
    const ir = tinyExperiment(['model.base.pretrain.steps=10']);
    const inputs = await pretrainInputs(ir, join(temp.dir, 'run'));
    const first = await runPretrainStage(inputs);
    const modified = (await stat(join(first.checkpoint, 'model.safetensors'))).mtimeMs;

    const progress: Progress[] = [];
    const second = await runPretrainStage({ ...inputs, onProgress: (p) => progress.push(p) });
    expect(second.cached).toBe(true);
    expect(progress).toEqual([]);
    expect(second.checkpoint).toBe(first.checkpoint);
    expect(second.holdoutLoss).toBe(first.holdoutLoss);
    expect((await stat(join(first.checkpoint, 'model.safetensors'))).mtimeMs).toBe(modified);

    // Only what the weights depend on is in the hash: a new evaluation cadence reuses the result,
    // a new learning rate does not.
    const sameWeights = tinyExperiment(['model.base.pretrain.steps=10', 'model.base.pretrain.eval=5 steps']);
    expect((await runPretrainStage({ ...inputs, ir: sameWeights })).cached).toBe(true);
    const otherWeights = tinyExperiment(['model.base.pretrain.steps=10', 'model.base.pretrain.lr=3e-3']);
    const retrained = await runPretrainStage({ ...inputs, ir: otherWeights });
    expect(retrained.cached).toBe(false);
    expect(retrained.dir).not.toBe(first.dir);
  });

  test('a damaged checkpoint stops the resume with its path and the cause, and stays where it is', async () => {
    const ir = tinyExperiment(['model.base.pretrain.steps=30', 'model.base.pretrain.checkpoint=10 steps']);
    const inputs = await pretrainInputs(ir, join(temp.dir, 'run'));
    await expect(runPretrainStage(interruptedAt(12, inputs))).rejects.toThrow('stopped at step 12');
    const stageDir = await pretrainDir(inputs.runDir);
    const damaged = join(stageDir, 'checkpoints', 'step-000012', 'model.safetensors');
    await truncate(damaged, 100);

    const error = await runPretrainStage(inputs).then(() => null, (e: Error) => e);
    expect(error?.message).toContain(`cannot resume pre-training of \`base\` from ${join(stageDir, 'checkpoints', 'step-000012')}`);
    expect(error?.message).toContain('model.safetensors');
    expect((await stat(damaged)).size).toBe(100);
  });
});

// The evaluator actor (runtime/evaluator.ts) on the tiny experiment's RPT checkpoints, cpu
// backend: its accuracies are those of the evaluation in this thread, its cache is what the
// rpt-eval stage takes, a damaged cache file is computed again, a crash is restarted with every
// checkpoint evaluated once, a crash loop stops it with an error naming it, and close() and the
// stop flag end its work without waiting for it.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Actor } from '../runtime/actor.ts';
import type { EvaluatorData } from '../runtime/evaluator-actor.ts';
import { CheckpointEvaluator } from '../runtime/evaluator.ts';
import { SupervisionError } from '../runtime/supervisor.ts';
import { checkpointDir } from '../src/checkpoint/checkpoint.ts';
import { createBackend } from '../src/backend/select.ts';
import { checkpointEvaluation, evalSettings, evaluateModel, loadEvaluationSet, releaseModel, type EvaluationSet, type EvaluationSource, type ModeAccuracy } from '../src/eval/checkpoint-eval.ts';
import { Transformer } from '../src/model/transformer.ts';
import { loadModel } from '../src/stages/model-checkpoint.ts';
import { runStages } from '../src/stages/pipeline.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';
import { policyFormatSpec } from '../src/stages/rpt.ts';

const backend = await createBackend('cpu');
const ir = tinyExperiment(['learner.steps=3', 'learner.batch=4', 'eval.every=1', 'eval.positions=48', 'eval.documents=20']);
const faultyEvaluator = (crashOn: number) => new URL(`./fixtures/runtime/faulty-actor.ts?actor=evaluator-actor&type=evaluate&crashOn=${crashOn}`, import.meta.url);
const quickRestarts = { maxRestarts: 2, windowMs: 60_000, backoffMs: 10, maxBackoffMs: 100 };

interface Evaluated {
  step: number;
  dir: string;
  reference: ModeAccuracy[]; // evaluated in this thread, with no cache
}

let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let source: EvaluationSource;
let set: EvaluationSet;
let rptCheckpoints: Evaluated[]; // the RPT stage's evaluation steps 1, 2, 3
// The base model's pre-training checkpoints at steps 20, 40, 60. Three RPT steps of the tiny
// model leave its accuracies as they were, so these are the checkpoints whose accuracies differ,
// and a result given to the wrong checkpoint shows.
let distinct: Evaluated[];

async function inThisThread(step: number, dir: string): Promise<Evaluated> {
  const loaded = await loadModel(dir);
  const model = new Transformer(backend, loaded.config, loaded.flat);
  try {
    return { step, dir, reference: await evaluateModel(model, set, source.settings) };
  } finally {
    releaseModel(model);
  }
}

beforeAll(async () => {
  temp = await temporaryDirectory();
  const stages = await runStages(ir, 'rpt', { runDir: join(temp.dir, 'run'), baseDir: temp.dir, backend });
  const rpt = stages.rpt!;
  source = { settings: evalSettings(ir, stages.tokenizer.endToken), data: stages.data!, filter: stages.filter!, format: policyFormatSpec(ir, stages.tokenizer, temp.dir), rptDir: rpt.dir };
  set = await loadEvaluationSet(source);
  rptCheckpoints = [];
  for (const step of rpt.evalSteps) rptCheckpoints.push(await inThisThread(step, checkpointDir(rpt.dir, step)));
  distinct = [];
  for (const step of [20, 40, 60]) distinct.push(await inThisThread(step, checkpointDir(stages.pretrain.base.dir, step)));
});
afterAll(async () => {
  backend.destroy();
  await temp.remove();
});

/** The cache file of a step in the cache folder of `rptDir` (one per step for these settings). */
async function cacheFile(rptDir: string, step: number): Promise<string> {
  const dir = join(rptDir, 'evals');
  const names = (await readdir(dir)).filter((name) => name.startsWith(`step-${String(step).padStart(6, '0')}-`));
  expect(names).toHaveLength(1);
  return join(dir, names[0]);
}

function submitAll(evaluator: CheckpointEvaluator, checkpoints: Evaluated[]): void {
  for (const { step, dir } of checkpoints) evaluator.submit(step, dir);
}

test('the checkpoints evaluated: each mode on every position, and accuracies that tell the three pre-training checkpoints apart', () => {
  expect(rptCheckpoints.map((c) => c.step)).toEqual([1, 2, 3]);
  for (const { reference } of [...rptCheckpoints, ...distinct]) expect(reference.map((m) => [m.mode, m.accuracy.all.total])).toEqual([['standard', 48], ['reasoning', 48]]);
  expect(new Set(distinct.map((c) => JSON.stringify(c.reference))).size).toBe(3);
});

test('the evaluator\'s accuracies for each checkpoint are those of the evaluation in this thread, cached in the folder it is given', async () => {
  const arrived: number[] = [];
  const rptDir = join(temp.dir, 'distinct');
  const evaluator = new CheckpointEvaluator({ backendKind: 'cpu', source: { ...source, rptDir }, onResult: (result) => arrived.push(result.step) });
  submitAll(evaluator, distinct);
  const results = await evaluator.drain();
  await evaluator.close();
  expect(results.map((r) => [r.step, r.checkpoint, r.evaluator])).toEqual(distinct.map((c) => [c.step, c.dir, 'evaluator#0']));
  expect(results.map((r) => r.accuracy)).toEqual(distinct.map((c) => c.reference));
  expect(arrived).toEqual([20, 40, 60]);
  for (const { step, reference } of distinct) expect(JSON.parse(await readFile(await cacheFile(rptDir, step), 'utf8')).accuracy).toEqual(reference);
});

test('the rpt-eval stage takes RPT\'s accuracies from the evaluator\'s cache: a doctored file shows through', async () => {
  const evaluator = new CheckpointEvaluator({ backendKind: 'cpu', source });
  submitAll(evaluator, rptCheckpoints);
  expect((await evaluator.drain()).map((r) => r.accuracy)).toEqual(rptCheckpoints.map((c) => c.reference));
  await evaluator.close();
  const path = await cacheFile(source.rptDir, 2);
  const record = JSON.parse(await readFile(path, 'utf8'));
  record.accuracy[0].accuracy.all.correct = 12345; // no evaluation of 48 positions gives it
  await writeFile(path, JSON.stringify(record));
  const stages = await runStages(ir, 'rpt-eval', { runDir: join(temp.dir, 'run'), baseDir: temp.dir, backend });
  const points = stages.rptEval!.points.filter((p) => p.arm === 'rpt');
  expect(points.map((p) => `${p.mode}/${p.step}`)).toEqual(['standard/1', 'reasoning/1', 'standard/2', 'reasoning/2', 'standard/3', 'reasoning/3']);
  expect(points[2].accuracy.all.correct).toBe(12345);
  const expected = rptCheckpoints.flatMap((c) => c.reference.map((m) => m.accuracy));
  expect(points.filter((_, i) => i !== 2).map((p) => p.accuracy)).toEqual(expected.filter((_, i) => i !== 2));
});

test('a cache file that is damaged, or records other weights, is computed again and replaced', async () => {
  const rptDir = join(temp.dir, 'distinct'); // filled by the evaluator above
  const { step, dir, reference } = distinct[1];
  const path = await cacheFile(rptDir, step);
  await writeFile(path, '{"hash": "trunc');
  expect(await checkpointEvaluation(backend, { ...source, rptDir }, set, step, dir)).toEqual(reference);
  const record = JSON.parse(await readFile(path, 'utf8'));
  expect(record.accuracy).toEqual(reference);
  await writeFile(path, JSON.stringify({ ...record, weights: '0'.repeat(64), accuracy: distinct[0].reference }));
  expect(await checkpointEvaluation(backend, { ...source, rptDir }, set, step, dir)).toEqual(reference);
  expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(record);
});

test('an evaluator that crashes on its 2nd checkpoint is restarted, and every checkpoint is evaluated once', async () => {
  // A cache folder of its own, so that every checkpoint is evaluated rather than read.
  const evaluator = new CheckpointEvaluator({ backendKind: 'cpu', source: { ...source, rptDir: join(temp.dir, 'crash-on-2') }, module: faultyEvaluator(2), restarts: quickRestarts });
  submitAll(evaluator, distinct);
  const results = await evaluator.drain();
  await evaluator.close();
  expect(results.map((r) => r.step)).toEqual([20, 40, 60]);
  expect(results.map((r) => r.accuracy)).toEqual(distinct.map((c) => c.reference));
  // Each thread fails on its 2nd checkpoint: the first on step 40, its successor on step 60.
  const { supervision } = evaluator;
  expect(supervision).toMatchObject({ delivered: 3, requeued: 2, duplicates: 0 });
  expect(supervision.restarts.map((r) => [r.actor, r.generation])).toEqual([['evaluator#0', 1], ['evaluator#0', 2]]);
  for (const r of supervision.restarts) expect(r.reason).toContain('evaluator#0 fails on evaluate 2');
});

test('close() does not wait for the checkpoints submitted: those not done are dropped', async () => {
  const evaluator = new CheckpointEvaluator({ backendKind: 'cpu', source: { ...source, rptDir: join(temp.dir, 'closed-early') } });
  submitAll(evaluator, distinct);
  await evaluator.close();
  expect((await evaluator.drain()).length).toBeLessThan(distinct.length);
});

test('the stop flag ends an evaluation at its next batch: the actor answers without accuracies and caches nothing', async () => {
  const rptDir = join(temp.dir, 'stopped');
  const stop = new SharedArrayBuffer(4);
  Atomics.store(new Int32Array(stop), 0, 1);
  const data: EvaluatorData = { backend: 'cpu', source: { ...source, rptDir }, stop };
  const actor = new Actor({ name: 'evaluator#0', role: 'evaluator', module: new URL('../runtime/evaluator-actor.ts', import.meta.url), data });
  const reply = await actor.request({ type: 'evaluate', item: { id: 'step-20', attempt: 0, payload: { checkpoint: distinct[0].dir, step: 20 } } });
  await actor.stop();
  expect(reply).toEqual({ evaluator: 'evaluator#0', id: 'step-20', step: 20, accuracy: null });
  await expect(readdir(join(rptDir, 'evals'))).rejects.toThrow('ENOENT');
});

test('an evaluator in a crash loop makes drain() reject with a SupervisionError naming it past its budget; close() still returns', async () => {
  const evaluator = new CheckpointEvaluator({ backendKind: 'cpu', source: { ...source, rptDir: join(temp.dir, 'crash-loop') }, module: faultyEvaluator(1), restarts: quickRestarts });
  submitAll(evaluator, distinct);
  const error = await evaluator.drain().catch((caught: unknown) => caught);
  await evaluator.close();
  await evaluator.close();
  expect(error).toBeInstanceOf(SupervisionError);
  expect((error as SupervisionError).actor).toBe('evaluator#0');
  expect((error as Error).message).toMatch(/^actor evaluator#0 crashed 3 times within 60000 ms, past its budget of 2 restarts; last error: .*evaluator#0 fails on evaluate 1/);
  expect(evaluator.supervision.delivered).toBe(0);
  expect(() => evaluator.submit(1, rptCheckpoints[0].dir)).toThrow(/closed/);
});

// The RPT loop as an actor graph (runtime/rpt-graph.ts: feeder, samplers, verifier pool,
// learner) against the single-process loop on the tiny experiment, cpu backend: the same steps
// and weights with two samplers, the same again when samplers and the feeder crash and are
// restarted, a crash loop stopped by the restart budget, a learner crash reported, a checkpoint
// of the learner actor resumed in a new graph, live settings that shrink the sampler pool, and
// a process that exits once the loop is closed; where a WebGPU adapter exists, samplers that
// each compute on their own GPUDevice.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ActorCrash } from '../runtime/actor.ts';
import { ActorRptLoop } from '../runtime/rpt-graph.ts';
import { SupervisionError } from '../runtime/supervisor.ts';
import { webgpuForTests } from '../src/backend/select.ts';
import type { LiveSettings, RptLoop, StepResult } from '../src/rl/loop.ts';
import { perResponse, policyBatch, policyScores } from '../src/rl/policy-batch.ts';
import { loadModel } from '../src/stages/model-checkpoint.ts';
import { runStages } from '../src/stages/pipeline.ts';
import type { RptLoopSpec } from '../src/stages/rpt.ts';
import { actorLoop, prepareTiny, referenceLoop, type Tiny } from './fixtures/runtime/rpt-graph-setup.ts';
import { temporaryDirectory } from './stages-fixture.ts';

const gpu = await webgpuForTests();
gpu.backend?.destroy(); // only asked whether an adapter exists: the samplers create their own devices
const faulty = (actor: string, type: string, crashOn: number) => new URL(`./fixtures/runtime/faulty-actor.ts?actor=${actor}&type=${type}&crashOn=${crashOn}`, import.meta.url);
const quickRestarts = { maxRestarts: 2, windowMs: 60_000, backoffMs: 10, maxBackoffMs: 100 };

interface Run {
  steps: StepResult[];
  weights: Float32Array[]; // after each step
}

let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let tiny: Tiny;
let reference: Run; // RptLoop's 3 steps
let live: LiveSettings; // 1 sampler, a new temperature, a reward module, a new config version

// What must agree between two loops: every metric but the wall seconds, and every trained rollout.
function comparable({ metrics, trained }: StepResult) {
  const { seconds: _, ...rest } = metrics;
  const groups = trained.map((group) => ({
    context: [group.context.document, group.context.offset],
    prompt: Array.from(group.prompt),
    versions: [group.weightVersion, group.configVersion],
    advantages: group.advantages,
    rollouts: group.rollouts.map((r) => ({ seed: r.seed, response: Array.from(r.response), logp: Array.from(r.logp), entropy: r.entropy, reward: r.reward })),
  }));
  return { ...rest, groups };
}

async function takeSteps(loop: RptLoop, steps: number, run: Run = { steps: [], weights: [] }): Promise<Run> {
  for (let i = 0; i < steps; i++) {
    run.steps.push(await loop.takeStep());
    run.weights.push(await loop.weights());
  }
  return run;
}

beforeAll(async () => {
  temp = await temporaryDirectory();
  tiny = await prepareTiny(temp.dir);
  const firstByte = fileURLToPath(new URL('./fixtures/rewards/first-byte.ts', import.meta.url));
  live = { configVersion: 2, policy: { temperature: 0.5, top_p: 1, top_k: 0 }, reward: { kind: 'module', path: firstByte, timeout_ms: 10_000, options: {} }, lr: tiny.ir.learner.lr, actors: { samplers: 1, verifiers: 1 } };
  const single = await referenceLoop(tiny);
  reference = await takeSteps(single, 3);
  await single.close();
});
afterAll(async () => {
  tiny.backend.destroy();
  await temp.remove();
});

test('with two samplers, the steps and the weights after them are those of the single-process loop', async () => {
  const graph = await actorLoop(tiny, { samplers: 2, verifiers: 2 });
  const run = await takeSteps(graph, 2);
  await graph.close();
  expect(run.steps.map(comparable)).toEqual(reference.steps.slice(0, 2).map(comparable));
  expect(run.weights).toEqual(reference.weights.slice(0, 2));
  expect(reference.weights[1]).not.toEqual(reference.weights[0]); // the steps trained
  expect(graph.supervision).toMatchObject({ delivered: 4, requeued: 0, duplicates: 0, restarts: [] });
});

test('samplers that crash on their 3rd batch and a feeder that crashes on its 2nd request are restarted, and the learner gets every group once: the same steps', async () => {
  const modules = { sampler: faulty('sampler-actor', 'sample', 3), feeder: faulty('feeder-actor', 'contexts', 2) };
  const graph = await actorLoop(tiny, { samplers: 2, verifiers: 1 }, { modules, restarts: quickRestarts });
  const run = await takeSteps(graph, 3);
  await graph.close();
  expect(run.steps.map(comparable)).toEqual(reference.steps.map(comparable));
  expect(run.weights).toEqual(reference.weights);
  // Each sampler takes one batch a step, so both crash in step 3 and their batches are re-queued.
  const { supervision } = graph;
  expect(supervision).toMatchObject({ delivered: 6, requeued: 2, duplicates: 0 });
  // Each new feeder thread crashes on its own 2nd request too: in step 2 and again in step 3.
  expect(supervision.restarts.map((r) => [r.actor, r.generation]).sort()).toEqual([['feeder#0', 1], ['feeder#0', 2], ['sampler#0', 1], ['sampler#1', 1]]);
  for (const r of supervision.restarts) expect(r.reason).toContain(r.actor === 'feeder#0' ? 'feeder#0 fails on contexts 2' : `${r.actor} fails on sample 3`);
});

test('a sampler in a crash loop stops the step past its restart budget with a SupervisionError naming it', async () => {
  const graph = await actorLoop(tiny, { samplers: 1, verifiers: 1 }, { modules: { sampler: faulty('sampler-actor', 'sample', 1) }, restarts: quickRestarts });
  const error = await graph.takeStep().catch((caught: unknown) => caught);
  await graph.close();
  expect(error).toBeInstanceOf(SupervisionError);
  expect((error as SupervisionError).actor).toBe('sampler#0');
  expect((error as Error).message).toMatch(/^actor sampler#0 crashed 3 times within 60000 ms, past its budget of 2 restarts; last error: .*sampler#0 fails on sample 1/);
  expect(graph.step).toBe(0); // the learner is still where it was, for the caller to checkpoint
});

test('the learner, which holds the only copy of its state, is not restarted: its crash fails the step with an ActorCrash naming it', async () => {
  const graph = await actorLoop(tiny, { samplers: 1, verifiers: 1 }, { modules: { learner: faulty('learner-actor', 'update', 2) } });
  await graph.takeStep();
  const error = await graph.takeStep().catch((caught: unknown) => caught);
  await graph.close();
  expect(error).toBeInstanceOf(ActorCrash);
  expect((error as ActorCrash).actor).toBe('learner');
  expect((error as Error).message).toMatch(/^actor learner crashed: .*learner fails on update 2/);
  expect(graph.step).toBe(1);
});

test('a checkpoint the learner actor writes after step 1, restored into a new graph, continues as the single-process loop does', async () => {
  const first = await actorLoop(tiny, { samplers: 1, verifiers: 1 });
  await first.takeStep();
  const dir = join(temp.dir, 'graph-step-1');
  await first.save(dir, { path: 'tokenizer.json', sha256: '0'.repeat(64) }, { weight_version: String(first.weightVersion) });
  await first.close();
  const loaded = await loadModel(dir, { withOptimizer: true });
  expect(loaded.flat).toEqual(reference.weights[0]);
  const resumed = await actorLoop(tiny, { samplers: 2, verifiers: 1 });
  await resumed.restore(loaded, 1, Number(loaded.extra.weight_version));
  const run = await takeSteps(resumed, 2);
  await resumed.close();
  expect(run.steps.map(comparable)).toEqual(reference.steps.slice(1).map(comparable));
  expect(run.weights).toEqual(reference.weights.slice(1));
});

test('in the RPT stage, a sampler past its restart budget stops the stage with a checkpoint of the steps taken, from which the run resumes', async () => {
  const runDir = join(temp.dir, 'stage');
  const crashing = (spec: RptLoopSpec) => ActorRptLoop.start({ ...spec, actors: { samplers: 1, verifiers: 1 }, backendKind: 'cpu', modules: { sampler: faulty('sampler-actor', 'sample', 3) }, restarts: { ...quickRestarts, maxRestarts: 0 } });
  const options = { runDir, baseDir: temp.dir, backend: tiny.backend };
  await expect(runStages(tiny.ir, 'rpt', { ...options, loop: crashing })).rejects.toThrow(/^actor sampler#0 crashed 1 times .*sampler#0 fails on sample 3; stopped with a checkpoint at step 2$/);
  const healthy = (spec: RptLoopSpec) => ActorRptLoop.start({ ...spec, actors: { samplers: 1, verifiers: 1 }, backendKind: 'cpu' });
  const { rpt } = await runStages(tiny.ir, 'rpt', { ...options, loop: healthy });
  expect(rpt!.resumedFrom).toBe(2);
  expect((await loadModel(rpt!.checkpoint)).flat).toEqual(reference.weights[2]);
});

test('live settings (2 samplers to 1, a new temperature, a reward module) apply at the next step, as in the single-process loop', async () => {
  const single = await referenceLoop(tiny);
  const graph = await actorLoop(tiny, { samplers: 2, verifiers: 2 });
  const expected = await takeSteps(single, 1), run = await takeSteps(graph, 1);
  await single.reconfigure(live);
  await graph.reconfigure(live);
  await takeSteps(single, 1, expected);
  await takeSteps(graph, 1, run);
  await Promise.all([single.close(), graph.close()]);
  expect(run.steps.map(comparable)).toEqual(expected.steps.map(comparable));
  expect(run.weights).toEqual(expected.weights);
  expect(run.steps.map((step) => step.metrics.config_version)).toEqual([1, 2]);
  expect(comparable(run.steps[1])).not.toEqual(comparable(reference.steps[1])); // the temperature changed what was sampled
  expect(run.steps[1].metrics.reward_errors).toEqual([]); // the module ran, in the verifier pool's module workers
  expect(graph.supervision.delivered).toBe(3); // step 1 in two batches, step 2 in one
});

test('a process whose loop took a step and closed exits by itself: no thread is left running', async () => {
  const script = fileURLToPath(new URL('./fixtures/runtime/graph-exit.ts', import.meta.url));
  // The timeout only stops a hung child from hanging the suite; the assertion is the exit.
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, temp.dir], { timeout: 120_000 });
  expect(stdout.trim()).toBe('step 1 closed');
});

test.skipIf(!gpu.backend)(`samplers on the webgpu backend, each on its own device, sample with the published weights ${gpu.skipReason}`, async () => {
  const graph = await actorLoop(tiny, { samplers: 2, verifiers: 1 }, { backendKind: 'webgpu' });
  const { metrics, trained } = await graph.takeStep();
  await graph.close();
  expect(metrics.groups_sampled).toBe(tiny.ir.learner.batch);
  // The samplers' log-probabilities are those of the starting weights, as the cpu reference scores the same rollouts.
  const rollouts = trained.flatMap((group) => group.rollouts.map((rollout) => ({ prompt: group.prompt, response: rollout.response, logp: rollout.logp })));
  const batch = policyBatch(rollouts);
  const cpu = perResponse((await policyScores(await tiny.spec.policy.load(tiny.backend), batch)).logp, batch);
  rollouts.forEach((rollout, i) => rollout.logp.forEach((value, t) => expect(value).toBeCloseTo(cpu[i][t], 3)));
});

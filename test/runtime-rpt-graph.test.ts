// The RPT loop as an actor graph (runtime/rpt-graph.ts) against the single-process RptLoop on the
// tiny experiment, cpu backend: the same steps and weights with two samplers, the same again
// when a sampler crashes and is restarted, a crash loop stopped by the restart budget, live
// settings that shrink the sampler pool, and a process that exits once the loop is closed;
// where a WebGPU adapter exists, samplers that each compute on their own GPUDevice.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { SupervisionError } from '../runtime/supervisor.ts';
import { webgpuForTests } from '../src/backend/select.ts';
import type { Transformer } from '../src/model/transformer.ts';
import type { LiveSettings, RptLoop, StepResult } from '../src/rl/loop.ts';
import { perResponse, policyBatch, policyScores } from '../src/rl/policy-batch.ts';
import { actorLoop, prepareTiny, referenceLoop, type Tiny } from './fixtures/runtime/rpt-graph-setup.ts';
import { temporaryDirectory } from './stages-fixture.ts';

const gpu = await webgpuForTests();
gpu.backend?.destroy(); // only asked whether an adapter exists: the samplers create their own devices
const faultySampler = (crashOnBatch: number) => new URL(`./fixtures/runtime/faulty-sampler.ts?crashOnBatch=${crashOnBatch}`, import.meta.url);
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

async function takeSteps({ loop, model }: { loop: RptLoop; model: Transformer }, steps: number, run: Run = { steps: [], weights: [] }): Promise<Run> {
  for (let i = 0; i < steps; i++) {
    run.steps.push(await loop.takeStep());
    run.weights.push(await model.exportFlat());
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
  await single.loop.close();
});
afterAll(async () => {
  tiny.backend.destroy();
  await temp.remove();
});

test('with two samplers, the steps and the weights after them are those of the single-process loop', async () => {
  const graph = await actorLoop(tiny, { samplers: 2, verifiers: 2 });
  const run = await takeSteps(graph, 2);
  await graph.loop.close();
  expect(run.steps.map(comparable)).toEqual(reference.steps.slice(0, 2).map(comparable));
  expect(run.weights).toEqual(reference.weights.slice(0, 2));
  expect(reference.weights[1]).not.toEqual(reference.weights[0]); // the steps trained
  expect(graph.loop.supervision).toMatchObject({ delivered: 4, requeued: 0, duplicates: 0, restarts: [] });
});

test('a sampler that crashes on its 3rd batch is restarted, and the learner gets every group once: the same steps', async () => {
  const graph = await actorLoop(tiny, { samplers: 2, verifiers: 1 }, { samplerModule: faultySampler(3), restarts: quickRestarts });
  const run = await takeSteps(graph, 3);
  await graph.loop.close();
  expect(run.steps.map(comparable)).toEqual(reference.steps.map(comparable));
  expect(run.weights).toEqual(reference.weights);
  // Each sampler takes one batch a step, so both crash in step 3 and their batches are re-queued.
  const { supervision } = graph.loop;
  expect(supervision).toMatchObject({ delivered: 6, requeued: 2, duplicates: 0 });
  expect(supervision.restarts.map((r) => [r.actor, r.generation]).sort()).toEqual([['sampler#0', 1], ['sampler#1', 1]]);
  for (const r of supervision.restarts) expect(r.reason).toContain(`${r.actor} fails on batch 3`);
});

test('a sampler in a crash loop stops the step past its restart budget with a SupervisionError naming it', async () => {
  const graph = await actorLoop(tiny, { samplers: 1, verifiers: 1 }, { samplerModule: faultySampler(1), restarts: quickRestarts });
  const error = await graph.loop.takeStep().catch((caught: unknown) => caught);
  await graph.loop.close();
  expect(error).toBeInstanceOf(SupervisionError);
  expect((error as SupervisionError).actor).toBe('sampler#0');
  expect((error as Error).message).toMatch(/^actor sampler#0 crashed 3 times within 60000 ms, past its budget of 2 restarts; last error: .*sampler#0 fails on batch 1/);
  expect(graph.loop.step).toBe(0); // the learner is still where it was, for the caller to checkpoint
});

test('live settings (2 samplers to 1, a new temperature, a reward module) apply at the next step, as in the single-process loop', async () => {
  const single = await referenceLoop(tiny);
  const graph = await actorLoop(tiny, { samplers: 2, verifiers: 2 });
  const expected = await takeSteps(single, 1), run = await takeSteps(graph, 1);
  await single.loop.reconfigure(live);
  await graph.loop.reconfigure(live);
  await takeSteps(single, 1, expected);
  await takeSteps(graph, 1, run);
  await Promise.all([single.loop.close(), graph.loop.close()]);
  expect(run.steps.map(comparable)).toEqual(expected.steps.map(comparable));
  expect(run.weights).toEqual(expected.weights);
  expect(run.steps.map((step) => step.metrics.config_version)).toEqual([1, 2]);
  expect(comparable(run.steps[1])).not.toEqual(comparable(reference.steps[1])); // the temperature changed what was sampled
  expect(run.steps[1].metrics.reward_errors).toEqual([]); // the module ran, in the verifier pool's module workers
  expect(graph.loop.supervision.delivered).toBe(3); // step 1 in two batches, step 2 in one
});

test('a process whose loop took a step and closed exits by itself: no thread is left running', async () => {
  const script = fileURLToPath(new URL('./fixtures/runtime/graph-exit.ts', import.meta.url));
  // The timeout only stops a hung child from hanging the suite; the assertion is the exit.
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, temp.dir], { timeout: 120_000 });
  expect(stdout.trim()).toBe('step 1 closed');
});

test.skipIf(!gpu.backend)(`samplers on the webgpu backend, each on its own device, sample with the published weights ${gpu.skipReason}`, async () => {
  const graph = await actorLoop(tiny, { samplers: 2, verifiers: 1 }, { backend: 'webgpu' });
  const { metrics, trained } = await graph.loop.takeStep();
  await graph.loop.close();
  expect(metrics.groups_sampled).toBe(tiny.ir.learner.batch);
  // The samplers' log-probabilities are those of the starting weights, as the cpu reference scores the same rollouts.
  const rollouts = trained.flatMap((group) => group.rollouts.map((rollout) => ({ prompt: group.prompt, response: rollout.response, logp: rollout.logp })));
  const batch = policyBatch(rollouts);
  const cpu = perResponse((await policyScores((await tiny.inputs()).model, batch)).logp, batch);
  rollouts.forEach((rollout, i) => rollout.logp.forEach((value, t) => expect(value).toBeCloseTo(cpu[i][t], 3)));
});

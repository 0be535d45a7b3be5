// The RPT loop end to end on the stage pipeline's output: a tiny arithmetic experiment is
// tokenized, pre-trained and filtered, then its policy takes RPT steps on the filter's kept
// positions with the experiment's own policy, reward and learner settings; between its 2nd and
// 3rd step it takes live settings, as a hot reload hands them over.

import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { ExperimentIR } from '../dsl/ir.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import type { Transformer } from '../src/model/transformer.ts';
import { keptContext } from '../src/rl/context.ts';
import { localRptLoop, type StepResult } from '../src/rl/loop.ts';
import { responseLength } from '../src/rl/prompt.ts';
import { loadKeptPositions } from '../src/stages/filter.ts';
import { resolveModel } from '../src/stages/models.ts';
import { runStages } from '../src/stages/pipeline.ts';
import { loadSplit, type TokenizedSplit } from '../src/stages/token-data.ts';
import { loadTokenizer } from '../src/tokenizer/tokenizer-json.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';
import { specialFormat } from '../src/rl/special-format.ts';

const backend = new CpuBackend();
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let ir: ExperimentIR;
let split: TokenizedSplit;
let kept: Int32Array;
let policy: Transformer;
let results: StepResult[];

beforeAll(async () => {
  temp = await temporaryDirectory();
  ir = tinyExperiment(['learner.steps=3']);
  const stages = await runStages(ir, 'filter', { runDir: join(temp.dir, 'run'), baseDir: temp.dir, backend });
  split = await loadSplit(stages.data!, 'train');
  kept = await loadKeptPositions(stages.filter!);
  policy = await (await resolveModel(ir, ir.policy.init, stages.pretrain, stages.tokenizer, temp.dir)).load(backend);
  const loop = localRptLoop({
    model: policy,
    reference: null,
    format: specialFormat(await loadTokenizer(stages.tokenizer.path)),
    contexts: { count: kept.length / 2, at: (index) => keptContext(split, kept, index, ir.filter.window_tokens) },
    policy: ir.policy,
    reward: ir.reward,
    learner: ir.learner,
    baseDir: temp.dir,
    seed: ir.seed,
    configVersion: 7,
  });
  results = [await loop.takeStep(), await loop.takeStep()];
  await loop.reconfigure({ configVersion: 8, policy: { temperature: 0.5, top_p: 0.9, top_k: 0 }, reward: { kind: 'first_token' }, lr: 2e-3, actors: ir.actors });
  results.push(await loop.takeStep());
  await loop.close();
});
afterAll(async () => {
  backend.destroy();
  await temp.remove();
});

test('it takes the experiment\'s steps, each on a full batch of groups, stamped with weight and config versions', () => {
  expect(results.map(({ metrics }) => [metrics.step, metrics.weight_version, metrics.config_version])).toEqual([[1, 0, 7], [2, 1, 7], [3, 2, 8]]);
  for (const { metrics, trained } of results) {
    expect(metrics.groups_sampled).toBe(ir.learner.batch);
    expect(trained.length).toBe(ir.learner.batch);
    expect(trained.every((group) => group.rollouts.length === ir.learner.rollouts)).toBe(true);
    expect(metrics.mean_reward).toBeGreaterThanOrEqual(0);
    expect(metrics.mean_reward).toBeLessThanOrEqual(1);
    expect(Number.isFinite(metrics.entropy) && metrics.entropy > 0).toBe(true);
    expect(metrics.optimizer_steps).toBe(1);
  }
});

test('every context is a kept filter position, and every prompt with its longest response fits the model', () => {
  const keptPairs = new Set(Array.from({ length: kept.length / 2 }, (_, i) => `${kept[2 * i]}:${kept[2 * i + 1]}`));
  const budgets = { thinkTokens: ir.policy.think_tokens, answerTokens: ir.policy.answer_tokens };
  for (const group of results.flatMap(({ trained }) => trained)) {
    const { document, offset, context, continuation } = group.context;
    expect(keptPairs.has(`${document}:${offset}`)).toBe(true);
    expect(Array.from(context)).toEqual(Array.from(split.tokens.subarray(split.starts[document], split.starts[document] + offset)));
    expect(Array.from(continuation)).toEqual(Array.from(split.tokens.subarray(split.starts[document] + offset, Math.min(split.starts[document + 1], split.starts[document] + offset + ir.filter.window_tokens))));
    expect(group.prompt.length + responseLength(budgets)).toBeLessThanOrEqual(policy.config.context);
    for (const rollout of group.rollouts) expect(rollout.response.length).toBeLessThanOrEqual(responseLength(budgets));
  }
});

test('live settings apply from the next step: its learning rate, and its groups carry the new config version', () => {
  expect(results.map(({ metrics }) => metrics.lr)).toEqual([ir.learner.lr, ir.learner.lr, 2e-3]);
  expect(results.map(({ trained }) => new Set(trained.map((group) => group.configVersion)))).toEqual([new Set([7]), new Set([7]), new Set([8])]);
});

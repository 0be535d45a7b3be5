import { checkpointDir, latestCheckpoint } from '../checkpoint/checkpoint.ts';
import { paramCount } from '../model/params.ts';
import { keptContext } from '../rl/context.ts';
import { RptLoop, type StepResult } from '../rl/loop.ts';
import { loadTokenizer } from '../tokenizer/tokenizer-json.ts';
import { contentHash, readDone, stageDirectory, writeDone } from './cache.ts';
import { loadKeptPositions, type FilterResult } from './filter.ts';
import { appendMetrics } from './metrics.ts';
import { loadModel, saveModel } from './model-checkpoint.ts';
import type { ResolvedModel } from './models.ts';
import type { StageInputs } from './stage-inputs.ts';
import { loadSplit } from './token-data.ts';

// The RPT stage: the RL loop of src/rl over the filter's kept train positions, starting from the
// policy's init, for learner.steps steps. Every step's metrics go to metrics.jsonl (stage "rpt").
// A checkpoint (weights, AdamW moments, step, weight version) is written every
// `checkpoint.every` steps, at every evaluation step (`eval.every`, which rpt-eval reads) and at
// the end, into `stages/rpt-<hash12>/checkpoints/`. Started again after an interruption it
// continues from the newest one; since each step's draws depend only on (seed, step), the result
// equals an uninterrupted run's.
//
// Compute, for the compute-matched control, in the standard approximation for a model of P
// parameters: a forward pass costs 2·P FLOPs per token and a training pass (forward and
// backward) 6·P. Each rollout's sequence (prompt and response) is run forward twice while
// sampling (generation, then the policy's scoring for the old log-probabilities), and each
// trained rollout's sequence once forward and backward (mini-batches split the batch, so every
// rollout is in exactly one optimizer step):
//   flops = 2·P·2·(sampled sequence tokens) + 6·P·(trained sequence tokens)

export interface RptInputs extends StageInputs {
  filter: FilterResult;
  policy: ResolvedModel; // the weights RPT starts from
  baseDir: string; // the experiment file's folder, for a reward module's path
}

export interface RptSeconds {
  sampling: number;
  verification: number;
  learning: number;
}

export interface RptResult {
  hash: string;
  dir: string;
  policy: string; // the starting model's label
  steps: number;
  checkpoint: string; // the final weights
  evalSteps: number[]; // steps with a checkpoint for evaluation, 0 (the starting weights) excluded
  flops: { sampling: number; learning: number }; // over all steps, resumed ones included
  trainedTokens: number; // sequence tokens the learner trained on
  seconds: RptSeconds; // of the steps run by the call that finished the stage
  rollouts: number; // sampled by that call
  resumedFrom: number | null;
  cached: boolean;
}

const VERSION = 1;

/** The steps at which RPT keeps weights for evaluation: every `eval.every` and the last. */
export function rptEvalSteps(steps: number, every: number): number[] {
  const result: number[] = [];
  for (let step = every; step < steps; step += every) result.push(step);
  result.push(steps);
  return result;
}

export async function runRptStage(inputs: RptInputs): Promise<RptResult> {
  const { ir, runDir, backend, tokenizer, data, filter, policy, baseDir, onProgress, signal } = inputs;
  const { learner } = ir;
  // Cadences of checkpoints and evaluation do not change the weights, except that evaluation
  // steps decide which checkpoints exist; they stay in the hash for that reason.
  const hash = contentHash({
    stage: 'rpt', version: VERSION, data: data.hash, filter: filter.hash, policy: policy.hash, seed: ir.seed,
    policySettings: ir.policy, reward: ir.reward, learner, evalEvery: ir.eval.every,
  });
  const dir = await stageDirectory(runDir, 'rpt', hash);
  const done = await readDone<RptResult>(dir, hash);
  if (done) return { ...done, dir, checkpoint: checkpointDir(dir, done.steps), cached: true };

  const split = await loadSplit(data, 'train');
  const kept = await loadKeptPositions(filter);
  const vocabulary = await loadTokenizer(tokenizer.path);
  const model = await policy.load(backend);
  const reference = learner.kl > 0 ? await policy.load(backend) : null;
  const loop = new RptLoop({
    model,
    reference,
    vocabulary,
    contexts: { count: kept.length / 2, at: (index) => keptContext(split, kept, index, ir.filter.window_tokens) },
    policy: ir.policy,
    reward: ir.reward,
    learner,
    baseDir,
    seed: ir.seed,
    configVersion: 0,
  });
  const latest = await latestCheckpoint(dir);
  let totals = { sampling: 0, learning: 0, trainedTokens: 0 };
  if (latest) {
    const resumeError = (cause: string) => new Error(`cannot resume RPT from ${latest.dir}: ${cause}; move that directory aside to resume from an earlier checkpoint`);
    let loaded;
    try {
      loaded = await loadModel(latest.dir, { withOptimizer: true });
    } catch (error) {
      throw resumeError((error as Error).message);
    }
    if (loaded.extra.stage_hash !== hash) throw resumeError('it belongs to other inputs');
    model.importFlat(loaded.flat);
    loop.optimizer.importState(loaded.optimizer!);
    loop.step = latest.step;
    loop.weightVersion = Number(loaded.extra.weight_version);
    totals = JSON.parse(loaded.extra.totals);
  }
  const params = paramCount(policy.config);
  const evalSteps = rptEvalSteps(learner.steps, ir.eval.every);
  const seconds: RptSeconds = { sampling: 0, verification: 0, learning: 0 };
  let rollouts = 0;
  const tokenizerRef = { path: tokenizer.path, sha256: tokenizer.sha256 };
  try {
    while (loop.step < learner.steps) {
      signal?.throwIfAborted();
      const started = performance.now();
      const result = await loop.takeStep();
      const { metrics } = result;
      const tokens = sequenceTokens(result, learner.rollouts);
      totals.sampling += 2 * params * 2 * tokens.sampled;
      totals.learning += 6 * params * tokens.trained;
      totals.trainedTokens += tokens.trained;
      for (const key of ['sampling', 'verification', 'learning'] as const) seconds[key] += metrics.seconds[key];
      rollouts += metrics.groups_sampled * learner.rollouts;
      await appendMetrics(runDir, { stage: 'rpt', ...metrics, rollouts: metrics.groups_sampled * learner.rollouts, wall_seconds: (performance.now() - started) / 1000, flops: totals.sampling + totals.learning });
      const step = metrics.step;
      if (step % ir.checkpoint.every === 0 || evalSteps.includes(step)) {
        await saveModel(checkpointDir(dir, step), model, loop.optimizer, tokenizerRef, {
          stage_hash: hash, weight_version: String(loop.weightVersion), totals: JSON.stringify(totals),
        });
      }
      onProgress?.({ stage: 'rpt', step, total: learner.steps });
    }
  } finally {
    await loop.close();
    model.releaseActivations();
  }
  const result: RptResult = {
    hash,
    dir,
    policy: policy.label,
    steps: learner.steps,
    checkpoint: checkpointDir(dir, learner.steps),
    evalSteps,
    flops: { sampling: totals.sampling, learning: totals.learning },
    trainedTokens: totals.trainedTokens,
    seconds,
    rollouts,
    resumedFrom: latest?.step ?? null,
    cached: false,
  };
  await writeDone(dir, hash, result);
  return result;
}

/**
 * Sequence tokens (prompt and response) of a step's rollouts: all sampled, and those trained
 * on. The loop hands back only the trained groups, so a sampled group dropped by dynamic
 * sampling is counted with the trained groups' mean prompt length.
 */
function sequenceTokens({ metrics, trained }: StepResult, groupSize: number): { sampled: number; trained: number } {
  const prompts = trained.reduce((total, group) => total + group.prompt.length * groupSize, 0);
  const responses = trained.reduce((total, group) => total + group.rollouts.reduce((sum, r) => sum + r.response.length, 0), 0);
  const sampledRollouts = metrics.groups_sampled * groupSize;
  const meanPrompt = trained.length > 0 ? prompts / (trained.length * groupSize) : 0;
  return { sampled: sampledRollouts * (meanPrompt + metrics.response_length), trained: prompts + responses };
}

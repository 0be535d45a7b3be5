import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Backend } from '../backend/backend.ts';
import { checkpointDir, pruneCheckpoints } from '../checkpoint/checkpoint.ts';
import { paramCount } from '../model/params.ts';
import { keptContext } from '../rl/context.ts';
import type { ActorsIR, ExperimentIR, PolicyIR, RewardIR } from '../../dsl/ir.ts';
import { localRptLoop, type RptLoop, type RptLoopSettings, type StepResult } from '../rl/loop.ts';
import { evalSettings, type EvaluationSource, type ModeAccuracy } from '../eval/checkpoint-eval.ts';
import type { Accuracy } from '../eval/next-token.ts';
import { formatSpec, loadResponseFormat, type FormatSpec } from '../rl/response-format.ts';
import { contentHash, readDone, stageDirectory, writeDone } from './cache.ts';
import { loadKeptPositions, type FilterResult } from './filter.ts';
import { appendMetrics } from './metrics.ts';
import { loadResumePoint } from './model-checkpoint.ts';
import type { ResolvedModel } from './models.ts';
import type { StageInputs } from './stage-inputs.ts';
import { loadSplit, type DataResult } from './token-data.ts';
import type { TokenizerResult } from './tokenizer.ts';

// The RPT stage: the RL loop of src/rl over the filter's kept train positions, starting from the
// policy's init, for learner.steps steps. Every step's metrics go to metrics.jsonl (stage "rpt").
// A checkpoint (weights, AdamW moments, step, weight version, config version and live values) is
// written every `checkpoint.every` steps, at every evaluation step (`eval.every`, which rpt-eval
// reads), at the end, and when the stage is stopped through its signal, into
// `stages/rpt-<hash12>/checkpoints/`, where `checkpoint { keep last K }` keeps the K newest
// besides the evaluation steps'. Started again after an interruption it continues from the
// newest one; since each step's draws depend only on (seed, step), the result equals an
// uninterrupted run's. Live-safe settings (sampling, reward, learning rate, actor counts, eval
// cadence, a reward module's code) may change between steps: from a watched file (`live`) or, on
// resume, from an edited one; each change is a new config version from the next step on.
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
  loop?: RptLoopFactory; // what runs the steps; RptLoop, the single-process reference, by default
  evaluator?: EvaluatorFactory; // evaluates the evaluation checkpoints while the loop goes on; none by default
  live?: LiveSource; // the watched experiment file, for live edits while the stage runs
  onConfig?: (config: RptConfig) => void; // told when a new config version is in force
  log?: (message: string) => void; // what the evaluator found, or why it stopped
}

/**
 * An evaluator of the stage's evaluation checkpoints (runtime/evaluator.ts): each is submitted
 * when written and evaluated elsewhere while the loop goes on, its accuracies cached in the
 * stage's folder (src/eval/checkpoint-eval.ts), where the rpt-eval stage takes them.
 */
export interface CheckpointEvaluatorLike {
  submit(step: number, checkpoint: string): void;
  drain(): Promise<unknown>; // waits for everything submitted
  close(): Promise<void>; // at once, dropping what is not done
}
export type EvaluatorFactory = (source: EvaluationSource, onResult: (result: { step: number; accuracy: ModeAccuracy[] }) => void) => CheckpointEvaluatorLike;

/** What the stage needs of a loop: RptLoop's interface (an actor-based loop provides the same). */
export type RptLoopLike = Pick<RptLoop, 'step' | 'weightVersion' | 'takeStep' | 'reconfigure' | 'restore' | 'save' | 'close'>;
export type RptLoopFactory = (spec: RptLoopSpec, ir: ExperimentIR) => RptLoopLike | Promise<RptLoopLike>;

/** What a loop is made from: its settings, and where its contexts and starting weights are. */
export interface RptLoopSpec {
  settings: RptLoopSettings;
  policy: ResolvedModel; // the starting weights (also the KL reference's)
  backend: Backend; // this thread's
  data: DataResult; // the train side's tokens
  filter: FilterResult; // its kept positions
  windowTokens: number; // of ground truth after each position
  baseDir: string; // the experiment file's folder, for a reward module's path
}

/** The loop spec of an experiment's RPT stage, under the live values of `config` (the file's own, as version 1, by default). */
export async function rptLoopSpec(
  ir: ExperimentIR,
  inputs: Pick<RptInputs, 'backend' | 'tokenizer' | 'data' | 'filter' | 'policy' | 'baseDir'>,
  config: Pick<RptConfig, 'configVersion' | 'values'> = { configVersion: 1, values: rptLiveValues(ir) },
): Promise<RptLoopSpec> {
  const { backend, tokenizer, data, filter, policy, baseDir } = inputs;
  const { values } = config;
  const settings: RptLoopSettings = {
    format: await loadResponseFormat(policyFormatSpec(ir, tokenizer, baseDir)),
    modelContext: policy.config.context,
    policy: { ...ir.policy, ...values.policy },
    reward: values.reward,
    learner: { ...ir.learner, lr: values.lr },
    seed: ir.seed,
    configVersion: config.configVersion,
  };
  return { settings, policy, backend, data, filter, windowTokens: ir.filter.window_tokens, baseDir };
}

/** The response format of the experiment's policy: the chat template it needs is its Hugging Face model's. */
export function policyFormatSpec(ir: ExperimentIR, tokenizer: TokenizerResult, baseDir: string): FormatSpec {
  const init = ir.policy.init;
  const huggingface = init.kind === 'model' ? ir.models[init.name]?.huggingface : null;
  return formatSpec(ir.policy.format, tokenizer, huggingface ? resolve(baseDir, huggingface.path) : undefined);
}

/** The single-process loop (localRptLoop) on this thread's backend: the reference for the actor graph. */
export async function localLoop(spec: RptLoopSpec): Promise<RptLoop> {
  const { settings, policy, backend, data, filter, windowTokens, baseDir } = spec;
  const split = await loadSplit(data, 'train');
  const kept = await loadKeptPositions(filter);
  const model = await policy.load(backend);
  const reference = settings.learner.kl > 0 ? await policy.load(backend) : null;
  const { modelContext: _, ...inputs } = settings;
  return localRptLoop({ ...inputs, model, reference, contexts: { count: kept.length / 2, at: (index) => keptContext(split, kept, index, windowTokens) }, baseDir });
}

/**
 * The newest accepted version of a watched experiment file. `revision` rises with every accepted
 * edit, a reward module's new code included; the edits that reach a running stage are live-safe
 * ones, since a structural edit stops the stage (through its signal) before its next step.
 */
export interface LiveSource {
  current(): { ir: ExperimentIR; revision: number };
}

/**
 * The live-safe values the stage runs under (runtime/reload.ts classifies edits; these are its
 * LIVE_PATHS). They are not stage inputs: they stay out of the stage's hash, so that a run
 * resumed with another learning rate continues, and are recorded instead: in each checkpoint, on
 * every step's metrics line (config_version) and on a `stage: "rpt-config"` line per version.
 */
export interface RptLiveValues {
  policy: Pick<PolicyIR, 'temperature' | 'top_p' | 'top_k'>;
  reward: RewardIR;
  lr: number;
  actors: Pick<ActorsIR, 'samplers' | 'verifiers'>;
  evalEvery: number;
}

/** A config version and the first step it applies to. */
export interface RptConfig {
  configVersion: number;
  step: number;
  values: RptLiveValues;
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
  config: RptConfig; // the live values in force at the last step
  cached: boolean;
}

const VERSION = 2;

export function rptLiveValues(ir: ExperimentIR): RptLiveValues {
  const { policy, reward, learner, actors } = ir;
  return {
    policy: { temperature: policy.temperature, top_p: policy.top_p, top_k: policy.top_k },
    reward,
    lr: learner.lr,
    actors: { samplers: actors.samplers, verifiers: actors.verifiers },
    evalEvery: ir.eval.every,
  };
}

/** The stage's hash: every input that changes what the loop computes, except the live values. */
export function rptHash(ir: ExperimentIR, inputs: { data: string; filter: string; policy: string }): string {
  const { temperature: _t, top_p: _p, top_k: _k, ...policySettings } = ir.policy;
  const { lr: _lr, ...learner } = ir.learner;
  return contentHash({ stage: 'rpt', version: VERSION, ...inputs, seed: ir.seed, policySettings, learner });
}

export async function runRptStage(inputs: RptInputs): Promise<RptResult> {
  const { ir, runDir, backend, tokenizer, data, filter, policy, baseDir, onProgress, signal } = inputs;
  const { learner } = ir;
  const hash = rptHash(ir, { data: data.hash, filter: filter.hash, policy: policy.hash });
  const dir = await stageDirectory(runDir, 'rpt', hash);
  const done = await readDone<RptResult>(dir, hash);
  if (done) return { ...done, dir, checkpoint: checkpointDir(dir, done.steps), cached: true };

  // Live edits made before this stage began count from its first step.
  const live = inputs.live ?? { current: () => ({ ir, revision: 0 }) };
  const start = live.current();
  let revision = start.revision;
  let config: RptConfig = { configVersion: 1, step: 1, values: rptLiveValues(start.ir) };

  const latest = await loadResumePoint(dir, hash, 'RPT');
  if (latest) {
    // The file may have been edited since the checkpoint: a new version from the next step.
    // A reward module's code counts as a live value too (a watched run takes an edit of it at
    // the next step); it is recorded by its hash.
    const recorded = JSON.parse(latest.loaded.extra.config) as RptConfig;
    const sameCode = (latest.loaded.extra.reward_code ?? '') === (await rewardCodeHash(config.values.reward, baseDir));
    config = sameCode && liveDifferences(recorded.values, config.values).length === 0 ? recorded : { configVersion: recorded.configVersion + 1, step: latest.step + 1, values: config.values };
  }

  const spec = await rptLoopSpec(ir, { backend, tokenizer, data, filter, policy, baseDir }, config);
  const loop = await (inputs.loop ?? localLoop)(spec, start.ir);
  let totals = { sampling: 0, learning: 0, trainedTokens: 0 };
  let evalSteps: number[] = [];
  const params = paramCount(policy.config);
  const seconds: RptSeconds = { sampling: 0, verification: 0, learning: 0 };
  let rollouts = 0;
  let savedStep = latest?.step ?? 0;
  const tokenizerRef = { path: tokenizer.path, sha256: tokenizer.sha256 };
  const save = async (step: number) => {
    await loop.save(checkpointDir(dir, step), tokenizerRef, {
      stage_hash: hash, weight_version: String(loop.weightVersion), totals: JSON.stringify(totals), eval_steps: JSON.stringify(evalSteps), config: JSON.stringify(config),
      reward_code: await rewardCodeHash(config.values.reward, baseDir),
    });
    savedStep = step;
    // Evaluation reads every evaluation step's weights, so `keep last` never removes those.
    await pruneCheckpoints(dir, ir.checkpoint.keep_last, (kept) => evalSteps.includes(kept));
  };
  let evaluator: CheckpointEvaluatorLike | undefined;
  try {
    if (latest) {
      const { loaded } = latest;
      await loop.restore(loaded, latest.step, Number(loaded.extra.weight_version));
      totals = JSON.parse(loaded.extra.totals);
      evalSteps = JSON.parse(loaded.extra.eval_steps);
    }
    const source: EvaluationSource = { settings: evalSettings(ir, tokenizer.endToken), data, filter, format: policyFormatSpec(ir, tokenizer, baseDir), rptDir: dir };
    evaluator = inputs.evaluator?.(source, ({ step, accuracy }) => inputs.log?.(`rpt: step ${step} evaluated: ${describeAccuracy(accuracy)}`));
    // After a resume, the evaluation checkpoints written before: those already evaluated are read from the cache.
    for (const step of evalSteps) evaluator?.submit(step, checkpointDir(dir, step));
    if (!latest || config.step > latest.step) await recordConfig(runDir, config, inputs.onConfig);
    while (loop.step < learner.steps) {
      // Stopped (Ctrl-C, or a structural edit): keep every step taken in a checkpoint first.
      if (signal?.aborted) {
        if (loop.step > savedStep) await save(loop.step);
        signal.throwIfAborted();
      }
      const now = live.current();
      if (now.revision !== revision) {
        revision = now.revision;
        config = { configVersion: config.configVersion + 1, step: loop.step + 1, values: rptLiveValues(now.ir) };
        await loop.reconfigure({ configVersion: config.configVersion, ...config.values });
        await recordConfig(runDir, config, inputs.onConfig);
      }
      const started = performance.now();
      const result = await loop.takeStep().catch(async (error: Error) => {
        // A failed step (an actor past its restart budget, say) leaves the learner at the last
        // step taken: those steps go into a checkpoint before the stage stops.
        if (loop.step === savedStep) throw error;
        try {
          await save(loop.step);
        } catch (saveError) {
          throw new Error(`${error.message}; the checkpoint of step ${loop.step} failed too: ${(saveError as Error).message}`, { cause: error });
        }
        throw new Error(`${error.message}; stopped with a checkpoint at step ${loop.step}`, { cause: error });
      });
      const { metrics } = result;
      const tokens = sequenceTokens(result, learner.rollouts);
      totals.sampling += 2 * params * 2 * tokens.sampled;
      totals.learning += 6 * params * tokens.trained;
      totals.trainedTokens += tokens.trained;
      for (const key of ['sampling', 'verification', 'learning'] as const) seconds[key] += metrics.seconds[key];
      const stepRollouts = metrics.groups_sampled * learner.rollouts;
      rollouts += stepRollouts;
      const wallSeconds = (performance.now() - started) / 1000;
      await appendMetrics(runDir, { stage: 'rpt', rpt_hash: hash, ...metrics, rollouts: stepRollouts, wall_seconds: wallSeconds, flops: totals.sampling + totals.learning });
      const step = metrics.step;
      // Evaluation reads the weights of every `eval every` step (at the cadence in force then) and the last.
      if (step % config.values.evalEvery === 0 || step === learner.steps) evalSteps.push(step);
      if (step % ir.checkpoint.every === 0 || evalSteps.includes(step)) await save(step);
      if (evalSteps.includes(step)) evaluator?.submit(step, checkpointDir(dir, step));
      onProgress?.({ stage: 'rpt', step, total: learner.steps, reward: metrics.mean_reward, rolloutsPerSecond: stepRollouts / wallSeconds });
    }
    // An evaluator that gave up costs only its head start: rpt-eval evaluates what is missing.
    await evaluator?.drain().catch((error: Error) => inputs.log?.(`rpt: the evaluator stopped (${error.message}); rpt-eval evaluates the remaining checkpoints itself`));
  } finally {
    await Promise.all([loop.close(), evaluator?.close()]);
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
    config,
    cached: false,
  };
  await writeDone(dir, hash, result);
  return result;
}

/** Each mode's accuracy on all positions and on the hard ones, e.g. `standard 39.1% (hard 18.3%), reasoning 2.0% (hard 0.0%)`. */
function describeAccuracy(accuracy: ModeAccuracy[]): string {
  const percent = (a: Accuracy) => `${(100 * a.accuracy).toFixed(1)}%`;
  return accuracy.map(({ mode, accuracy: buckets }) => `${mode} ${percent(buckets.all)} (hard ${percent(buckets.hard)})`).join(', ');
}

/** The sha256 of a reward module's file (its path taken from `baseDir`); '' for a built-in reward. */
async function rewardCodeHash(reward: RewardIR, baseDir: string): Promise<string> {
  if (reward.kind !== 'module') return '';
  const path = resolve(baseDir, reward.path);
  try {
    return createHash('sha256').update(await readFile(path)).digest('hex');
  } catch (error) {
    throw new Error(`reward module ${path}: cannot read it (${(error as Error).message})`);
  }
}

/** The live values (policy, reward, lr, actors, evalEvery) that differ between two sets. */
export function liveDifferences(a: RptLiveValues, b: RptLiveValues): (keyof RptLiveValues)[] {
  return (Object.keys(a) as (keyof RptLiveValues)[]).filter((key) => contentHash(a[key]) !== contentHash(b[key]));
}

/** A `stage: "rpt-config"` metrics line: the version, the first step under it and its values. */
async function recordConfig(runDir: string, config: RptConfig, onConfig?: (config: RptConfig) => void): Promise<void> {
  await appendMetrics(runDir, { stage: 'rpt-config', step: config.step, config_version: config.configVersion, ...config.values });
  onConfig?.(config);
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

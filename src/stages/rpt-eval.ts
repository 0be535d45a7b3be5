import type { ExperimentIR } from '../../dsl/ir.ts';
import { checkpointDir } from '../checkpoint/checkpoint.ts';
import { checkpointEvaluation, evalSettings, evaluateModel, loadEvaluationSet, releaseModel, type EvaluationSource, type Mode, type ModeAccuracy } from '../eval/checkpoint-eval.ts';
import type { Accuracy, Bucket } from '../eval/next-token.ts';
import { paramCount } from '../model/params.ts';
import { Transformer } from '../model/transformer.ts';
import { contentHash, readDone, stageDirectory, writeDone } from './cache.ts';
import type { FilterResult } from './filter.ts';
import { appendMetrics } from './metrics.ts';
import { loadModel } from './model-checkpoint.ts';
import type { ResolvedModel } from './models.ts';
import { runPretrainStage, type PretrainResult } from './pretrain.ts';
import { policyFormatSpec, type RptResult } from './rpt.ts';
import type { StageInputs } from './stage-inputs.ts';

// Evaluation of RPT against its baselines on the same holdout positions: `eval.positions`
// positions spread evenly over the first `eval.documents` holdout documents (each with at least
// one token of ground truth after it), tallied by the filter's difficulty buckets with Wilson 95%
// intervals. Arms, each in the modes `eval.modes` asks for:
// - base: the policy's starting weights (step 0);
// - rpt: the RPT stage's weights at every evaluation step;
// - ntp_matched (when `eval.baselines` names it): the base model pre-trained on the same data
//   for its own steps plus as many more as cost the RPT stage's FLOPs (6·params·B·T each), from
//   the same seed. Its learning-rate schedule spans all its steps, so it is matched in total
//   compute rather than a continuation of the base checkpoint.
// The modes and positions are those of src/eval/checkpoint-eval.ts. RPT's checkpoints are
// evaluated through its per-checkpoint cache in the RPT stage's folder: what the evaluator actor
// (runtime/evaluator.ts) computed while the RL loop ran is taken from there, the rest computed.

export type Arm = 'base' | 'rpt' | 'ntp_matched';

export interface EvalPoint {
  arm: Arm;
  mode: Mode;
  step: number; // RPT step of the weights; 0 for base and ntp_matched
  rlFlops: number; // RPT compute behind the weights (for ntp_matched: the extra NTP compute)
  accuracy: Record<Bucket, Accuracy>;
}

export interface RptEvalResult {
  hash: string;
  dir: string;
  positions: number;
  points: EvalPoint[];
  ntpMatched: { steps: number; extraSteps: number; checkpoint: string } | null;
  cached: boolean;
}

export interface RptEvalInputs extends StageInputs {
  filter: FilterResult;
  base: ResolvedModel; // the policy's starting weights
  rpt: RptResult;
  baseDir: string; // the experiment file's folder: a Hugging Face policy's chat template is in its model folder
}

const VERSION = 2;

export async function runRptEvalStage(inputs: RptEvalInputs): Promise<RptEvalResult> {
  const { ir, runDir, backend, tokenizer, data, filter, base, rpt, onProgress, signal } = inputs;
  const matched = ir.eval.baselines.includes('ntp_matched') ? await runNtpMatched(inputs) : null;
  const hash = contentHash({
    stage: 'rpt-eval', version: VERSION, data: data.hash, filter: filter.hash, base: base.hash, rpt: rpt.hash, matched: matched?.result.hash ?? null,
    documents: ir.eval.documents, positions: ir.eval.positions, modes: ir.eval.modes, policy: ir.policy, difficulty: ir.filter.difficulty,
  });
  const dir = await stageDirectory(runDir, 'rpt-eval', hash);
  const done = await readDone<RptEvalResult>(dir, hash);
  if (done) return { ...done, dir, cached: true };

  const source: EvaluationSource = { settings: evalSettings(ir, tokenizer.endToken), data, filter, format: policyFormatSpec(ir, tokenizer, inputs.baseDir), rptDir: rpt.dir };
  const set = await loadEvaluationSet(source);
  // Base and the control are evaluated here; RPT's checkpoints by checkpointEvaluation, which
  // takes the result the evaluator actor cached when there is one.
  const inThisThread = (load: () => Promise<Transformer>) => async () => {
    const model = await load();
    try {
      return await evaluateModel(model, set, source.settings);
    } finally {
      releaseModel(model);
    }
  };
  const weights: { arm: Arm; step: number; rlFlops: number; evaluate: () => Promise<ModeAccuracy[]> }[] = [{ arm: 'base', step: 0, rlFlops: 0, evaluate: inThisThread(() => base.load(backend)) }];
  for (const step of rpt.evalSteps) {
    const dirOfStep = checkpointDir(rpt.dir, step);
    const totals = JSON.parse((await loadModel(dirOfStep)).extra.totals) as { sampling: number; learning: number };
    weights.push({ arm: 'rpt', step, rlFlops: totals.sampling + totals.learning, evaluate: () => checkpointEvaluation(backend, source, set, step, dirOfStep) });
  }
  if (matched) {
    const loaded = await loadModel(matched.result.checkpoint);
    weights.push({ arm: 'ntp_matched', step: 0, rlFlops: rpt.flops.sampling + rpt.flops.learning, evaluate: inThisThread(async () => new Transformer(backend, loaded.config, loaded.flat)) });
  }
  const points: EvalPoint[] = [];
  for (const [i, w] of weights.entries()) {
    signal?.throwIfAborted();
    for (const { mode, accuracy } of await w.evaluate()) {
      points.push({ arm: w.arm, mode, step: w.step, rlFlops: w.rlFlops, accuracy });
      await appendMetrics(runDir, { stage: 'rpt-eval', eval_hash: hash, rpt_hash: rpt.hash, arm: w.arm, mode, step: w.step, rl_flops: w.rlFlops, accuracy: Object.fromEntries(Object.entries(accuracy).map(([bucket, a]) => [bucket, { correct: a.correct, total: a.total }])) });
    }
    onProgress?.({ stage: 'rpt-eval', step: i + 1, total: weights.length });
  }
  const result: RptEvalResult = {
    hash,
    dir,
    positions: set.positions.length,
    points,
    ntpMatched: matched && { steps: matched.result.steps, extraSteps: matched.extraSteps, checkpoint: matched.result.checkpoint },
    cached: false,
  };
  await writeDone(dir, hash, result);
  return result;
}

/** The compute-matched next-token control: the policy's base model pre-trained for RPT's FLOPs more. */
async function runNtpMatched(inputs: RptEvalInputs): Promise<{ result: PretrainResult; extraSteps: number }> {
  const { ir, rpt, runDir, backend, tokenizer, data, onProgress, signal } = inputs;
  const init = ir.policy.init;
  const declared = init.kind === 'model' ? ir.models[init.name] : undefined;
  if (init.kind !== 'model' || !(declared?.pretrain || declared?.huggingface)) {
    throw new Error('baseline ntp_matched needs the policy to start from a declared model: one with a pretrain block, or a Hugging Face model');
  }
  const { config } = inputs.base;
  const rptFlops = rpt.flops.sampling + rpt.flops.learning;
  const name = `${init.name}_ntp_matched`;
  if (declared.pretrain) {
    // A model trained here: its own pre-training, continued for RPT's FLOPs on its schedule.
    const settings = declared.pretrain;
    const extraSteps = Math.max(1, Math.round(rptFlops / (6 * paramCount(config) * settings.batch * config.context)));
    const matchedIr: ExperimentIR = { ...ir, models: { ...ir.models, [name]: { ...declared, pretrain: { ...settings, steps: settings.steps + extraSteps } } } };
    const result = await runPretrainStage({ ir: matchedIr, model: name, runDir, backend, tokenizer, data, onProgress, signal });
    return { result, extraSteps };
  }
  // A Hugging Face model: next-token training from its weights with the learner's optimizer
  // settings, at a constant learning rate, on batches of `learner.batch` windows of the context.
  const { batch, lr, betas, weight_decay, grad_clip } = ir.learner;
  const extraSteps = Math.max(1, Math.round(rptFlops / (6 * paramCount(config) * batch * config.context)));
  const pretrain = {
    steps: extraSteps, batch, lr, min_lr: lr, warmup: 0, schedule: 'constant' as const, betas, weight_decay, grad_clip,
    format_share: 0, eval_every: extraSteps, checkpoint_every: ir.checkpoint.every,
  };
  const matchedIr: ExperimentIR = { ...ir, models: { ...ir.models, [name]: { ...declared, pretrain } } };
  const result = await runPretrainStage({ ir: matchedIr, model: name, runDir, backend, tokenizer, data, onProgress, signal, start: inputs.base });
  return { result, extraSteps };
}

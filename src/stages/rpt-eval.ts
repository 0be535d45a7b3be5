import type { ExperimentIR } from '../../dsl/ir.ts';
import { checkpointDir } from '../checkpoint/checkpoint.ts';
import { BucketTally, type Accuracy, type Bucket } from '../eval/next-token.ts';
import { paramCount } from '../model/params.ts';
import { Transformer } from '../model/transformer.ts';
import { positionContext } from '../rl/context.ts';
import { reasoningAccuracy, type EvaluatedPosition } from '../rl/reasoning-eval.ts';
import { loadTokenizer } from '../tokenizer/tokenizer-json.ts';
import { contentHash, readDone, stageDirectory, writeDone } from './cache.ts';
import { loadEntropies, type FilterResult } from './filter.ts';
import { appendMetrics } from './metrics.ts';
import { loadModel } from './model-checkpoint.ts';
import type { ResolvedModel } from './models.ts';
import { runPretrainStage, type PretrainResult } from './pretrain.ts';
import type { RptResult } from './rpt.ts';
import type { StageInputs } from './stage-inputs.ts';
import { loadSplit, type TokenizedSplit } from './token-data.ts';

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
// Standard mode is the argmax next token after the context; reasoning mode thinks then answers,
// greedily (temperature 0), scored by prefix match. Both are deterministic given the weights.

export type Arm = 'base' | 'rpt' | 'ntp_matched';
export type Mode = 'standard' | 'reasoning';

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
}

const VERSION = 2;
const CONTEXTS_PER_BATCH = 32;

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

  const positions = evaluationPositions(ir, await loadSplit(data, 'holdout'), await loadEntropies(filter, 'holdout'));
  const vocabulary = await loadTokenizer(tokenizer.path);
  const points: EvalPoint[] = [];
  const weights: { arm: Arm; step: number; rlFlops: number; load: () => Promise<Transformer> }[] = [{ arm: 'base', step: 0, rlFlops: 0, load: () => base.load(backend) }];
  for (const step of rpt.evalSteps) {
    const dirOfStep = checkpointDir(rpt.dir, step);
    const loaded = await loadModel(dirOfStep);
    const totals = JSON.parse(loaded.extra.totals) as { sampling: number; learning: number };
    weights.push({ arm: 'rpt', step, rlFlops: totals.sampling + totals.learning, load: async () => new Transformer(backend, loaded.config, loaded.flat) });
  }
  if (matched) {
    const loaded = await loadModel(matched.result.checkpoint);
    weights.push({ arm: 'ntp_matched', step: 0, rlFlops: rpt.flops.sampling + rpt.flops.learning, load: async () => new Transformer(backend, loaded.config, loaded.flat) });
  }
  for (const [i, w] of weights.entries()) {
    signal?.throwIfAborted();
    const model = await w.load();
    try {
      for (const mode of ir.eval.modes) {
        const accuracy = mode === 'standard'
          ? await standardAccuracy(model, positions, ir, tokenizer.endToken)
          : (await reasoningAccuracy(model, vocabulary, positions, {
            budgets: { thinkTokens: ir.policy.think_tokens, answerTokens: ir.policy.answer_tokens },
            sampling: { temperature: 0, topK: 0, topP: 1 },
            seed: ir.seed,
            thresholds: ir.filter.difficulty,
            contextsPerBatch: CONTEXTS_PER_BATCH,
          })).prefixMatch;
        const point: EvalPoint = { arm: w.arm, mode, step: w.step, rlFlops: w.rlFlops, accuracy };
        points.push(point);
        await appendMetrics(runDir, { stage: 'rpt-eval', eval_hash: hash, rpt_hash: rpt.hash, arm: w.arm, mode, step: w.step, rl_flops: w.rlFlops, accuracy: Object.fromEntries(Object.entries(accuracy).map(([bucket, a]) => [bucket, { correct: a.correct, total: a.total }])) });
      }
    } finally {
      model.releaseActivations();
    }
    onProgress?.({ stage: 'rpt-eval', step: i + 1, total: weights.length });
  }
  const result: RptEvalResult = {
    hash,
    dir,
    positions: positions.length,
    points,
    ntpMatched: matched && { steps: matched.result.steps, extraSteps: matched.extraSteps, checkpoint: matched.result.checkpoint },
    cached: false,
  };
  await writeDone(dir, hash, result);
  return result;
}

/**
 * Up to `eval.positions` holdout positions, spread evenly over every position of the first
 * `eval.documents` documents that has a context; the ground-truth window of one near a
 * document's end stops there.
 */
function evaluationPositions(ir: ExperimentIR, holdout: TokenizedSplit, entropy: Float32Array): EvaluatedPosition[] {
  const windowTokens = ir.filter.window_tokens;
  const candidates: [number, number][] = [];
  for (let d = 0; d < Math.min(ir.eval.documents, holdout.ids.length); d++) {
    const length = holdout.starts[d + 1] - holdout.starts[d];
    for (let offset = 1; offset < length; offset++) candidates.push([d, offset]);
  }
  if (candidates.length === 0) throw new Error(`no holdout position of the first ${ir.eval.documents} documents has a context: every one of them is a single token`);
  const n = Math.min(candidates.length, ir.eval.positions);
  return Array.from({ length: n }, (_, i) => {
    const [document, offset] = candidates[Math.floor((i * candidates.length) / n)];
    return { context: positionContext(holdout, document, offset, windowTokens), entropy: entropy[holdout.starts[document] + offset] };
  });
}

/**
 * Standard-mode accuracy: the model's argmax after each context (preceded by the end token that
 * separates documents in training, and cut to the model's last `context` tokens) against the
 * true next token.
 */
async function standardAccuracy(model: Transformer, positions: readonly EvaluatedPosition[], ir: ExperimentIR, endToken: number): Promise<Record<Bucket, Accuracy>> {
  const { backend } = model;
  const tally = new BucketTally(ir.filter.difficulty);
  const T = model.config.context;
  const predictions = backend.zeros(CONTEXTS_PER_BATCH * T, 'i32');
  try {
    for (let first = 0; first < positions.length; first += CONTEXTS_PER_BATCH) {
      const batch = positions.slice(first, first + CONTEXTS_PER_BATCH);
      const tokens = new Int32Array(CONTEXTS_PER_BATCH * T).fill(endToken);
      const last: number[] = [];
      batch.forEach(({ context }, b) => {
        const sequence = [endToken, ...context.context].slice(-T);
        tokens.set(sequence, b * T);
        last.push(b * T + sequence.length - 1);
      });
      const acts = model.forward(tokens, CONTEXTS_PER_BATCH, T);
      backend.argmax(predictions, acts.logits, acts.N, model.config.vocabSize);
      const predicted = await backend.readInt(predictions);
      batch.forEach(({ context, entropy }, b) => tally.add(entropy, predicted[last[b]] === context.continuation[0]));
    }
  } finally {
    backend.release(predictions);
  }
  return tally.result();
}

/** The compute-matched next-token control: the policy's base model pre-trained for RPT's FLOPs more. */
async function runNtpMatched(inputs: RptEvalInputs): Promise<{ result: PretrainResult; extraSteps: number }> {
  const { ir, rpt, runDir, backend, tokenizer, data, onProgress, signal } = inputs;
  const init = ir.policy.init;
  const settings = init.kind === 'model' ? ir.models[init.name]?.pretrain : null;
  if (init.kind !== 'model' || !settings) throw new Error('baseline ntp_matched needs the policy to start from a declared model with a pretrain block');
  const { config } = inputs.base;
  const flopsPerStep = 6 * paramCount(config) * settings.batch * config.context;
  const extraSteps = Math.max(1, Math.round((rpt.flops.sampling + rpt.flops.learning) / flopsPerStep));
  const name = `${init.name}_ntp_matched`;
  const matchedIr: ExperimentIR = { ...ir, models: { ...ir.models, [name]: { ...ir.models[init.name], pretrain: { ...settings, steps: settings.steps + extraSteps } } } };
  const result = await runPretrainStage({ ir: matchedIr, model: name, runDir, backend, tokenizer, data, onProgress, signal });
  return { result, extraSteps };
}

import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { EvalIR, ExperimentIR } from '../../dsl/ir.ts';
import type { Backend } from '../backend/backend.ts';
import { Transformer } from '../model/transformer.ts';
import { positionContext } from '../rl/context.ts';
import { reasoningAccuracy, type EvaluatedPosition } from '../rl/reasoning-eval.ts';
import { loadResponseFormat, type FormatSpec, type ResponseFormat } from '../rl/response-format.ts';
import { contentHash, writeJson } from '../stages/cache.ts';
import { loadEntropies, type FilterResult } from '../stages/filter.ts';
import { loadModel } from '../stages/model-checkpoint.ts';
import { loadSplit, type DataResult, type TokenizedSplit } from '../stages/token-data.ts';
import { BUCKETS, BucketTally, type Accuracy, type Bucket, type DifficultyThresholds } from './next-token.ts';

// The RPT evaluation of one set of weights: next-token accuracy on fixed holdout positions, per
// difficulty bucket, in every mode `eval.modes` asks for. The rpt-eval stage (src/stages/rpt-eval.ts)
// runs it for every arm; the evaluator actor (runtime/evaluator-actor.ts) runs it for each RPT
// evaluation checkpoint while the RL loop goes on. Both go through `checkpointEvaluation` for
// RPT's checkpoints, which caches each result in the RPT stage's folder, so that the stage takes
// what the actor already computed instead of evaluating the same weights again.
//
// Standard mode is the argmax next token after the context; reasoning mode thinks then answers,
// greedily (temperature 0), scored by prefix match. Both are deterministic given the weights.

export type Mode = EvalIR['modes'][number];

/** Everything an evaluation depends on besides the weights and the data: plain JSON, so it crosses to a worker thread. */
export interface EvalSettings {
  documents: number; // positions are drawn from the first `documents` holdout documents
  positions: number; // at most this many, spread evenly over them
  modes: Mode[];
  thinkTokens: number; // reasoning mode's budgets: the policy's
  answerTokens: number;
  difficulty: DifficultyThresholds;
  windowTokens: number; // ground truth after a position, as the filter cuts it
  seed: number;
  endToken: number; // the tokenizer's end marker, which precedes a context in standard mode
}

export function evalSettings(ir: ExperimentIR, endToken: number): EvalSettings {
  return {
    documents: ir.eval.documents,
    positions: ir.eval.positions,
    modes: [...ir.eval.modes],
    thinkTokens: ir.policy.think_tokens,
    answerTokens: ir.policy.answer_tokens,
    difficulty: ir.filter.difficulty,
    windowTokens: ir.filter.window_tokens,
    seed: ir.seed,
    endToken,
  };
}

/** What RPT's checkpoints are evaluated on, and where their results are cached: plain JSON (the evaluator actor's data). */
export interface EvaluationSource {
  settings: EvalSettings;
  data: DataResult; // the data stage's holdout tokens
  filter: FilterResult; // its holdout entropies, which place positions in buckets
  format: FormatSpec; // reasoning mode's, the policy's
  rptDir: string; // the RPT stage's folder; results go to its evals/
}

/** The evaluated positions and the response format: loaded once, used for every set of weights. */
export interface EvaluationSet {
  positions: EvaluatedPosition[];
  format: ResponseFormat;
}

/** One mode's accuracy per bucket. */
export interface ModeAccuracy {
  mode: Mode;
  accuracy: Record<Bucket, Accuracy>;
}

// Contexts run through the model together, in both modes.
const CONTEXTS_PER_BATCH = 32;
// Raised whenever what a cached result means changes, so that older files are computed again.
const VERSION = 1;

export async function loadEvaluationSet(source: EvaluationSource): Promise<EvaluationSet> {
  const holdout = await loadSplit(source.data, 'holdout');
  const entropy = await loadEntropies(source.filter, 'holdout');
  return { positions: evaluationPositions(source.settings, holdout, entropy), format: await loadResponseFormat(source.format) };
}

/**
 * Up to `positions` holdout positions, spread evenly over every position of the first
 * `documents` documents that has a context; the ground-truth window of one near a document's
 * end stops there.
 */
export function evaluationPositions(settings: EvalSettings, holdout: TokenizedSplit, entropy: Float32Array): EvaluatedPosition[] {
  const candidates: [number, number][] = [];
  for (let d = 0; d < Math.min(settings.documents, holdout.ids.length); d++) {
    const length = holdout.starts[d + 1] - holdout.starts[d];
    for (let offset = 1; offset < length; offset++) candidates.push([d, offset]);
  }
  if (candidates.length === 0) throw new Error(`no holdout position of the first ${settings.documents} documents has a context: every one of them is a single token`);
  const n = Math.min(candidates.length, settings.positions);
  return Array.from({ length: n }, (_, i) => {
    const [document, offset] = candidates[Math.floor((i * candidates.length) / n)];
    return { context: positionContext(holdout, document, offset, settings.windowTokens), entropy: entropy[holdout.starts[document] + offset] };
  });
}

/**
 * The model's accuracy in every mode of the settings, in their order. `checkStop` is called
 * before each batch of contexts, and stops the evaluation there by throwing: a stopped
 * evaluator thread must not be terminated inside a GPU call.
 */
export async function evaluateModel(model: Transformer, set: EvaluationSet, settings: EvalSettings, checkStop: () => void = () => {}): Promise<ModeAccuracy[]> {
  const result: ModeAccuracy[] = [];
  for (const mode of settings.modes) {
    const accuracy = mode === 'standard'
      ? await standardAccuracy(model, set.positions, settings, checkStop)
      : (await reasoningAccuracy(model, set.format, set.positions, {
        budgets: { thinkTokens: settings.thinkTokens, answerTokens: settings.answerTokens },
        sampling: { temperature: 0, topK: 0, topP: 1 },
        seed: settings.seed,
        thresholds: settings.difficulty,
        contextsPerBatch: CONTEXTS_PER_BATCH,
        checkStop,
      })).prefixMatch;
    result.push({ mode, accuracy });
  }
  return result;
}

/**
 * Standard-mode accuracy: the model's argmax after each context (preceded by the end token that
 * separates documents in training, and cut to the model's last `context` tokens) against the
 * true next token.
 */
export async function standardAccuracy(model: Transformer, positions: readonly EvaluatedPosition[], settings: EvalSettings, checkStop: () => void = () => {}): Promise<Record<Bucket, Accuracy>> {
  const { backend } = model;
  const { endToken } = settings;
  const tally = new BucketTally(settings.difficulty);
  const T = model.config.context;
  const predictions = backend.zeros(CONTEXTS_PER_BATCH * T, 'i32');
  try {
    for (let first = 0; first < positions.length; first += CONTEXTS_PER_BATCH) {
      checkStop();
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

/** Returns the model's activations and weights to its backend; the model is unusable afterwards. */
export function releaseModel(model: Transformer): void {
  model.releaseActivations();
  for (const param of model.params) model.backend.release(param);
}

/**
 * The accuracies of the RPT checkpoint `checkpoint` (taken at `step`), from the cache in
 * `<rptDir>/evals/` when it holds them for these settings, data and weights, else computed
 * on `backend` and cached there. A cache file that cannot be read or does not check is
 * computed again and replaced. The cache is not in the checkpoint's folder, which belongs to
 * the checkpoint code.
 */
export async function checkpointEvaluation(backend: Backend, source: EvaluationSource, set: EvaluationSet, step: number, checkpoint: string, checkStop?: () => void): Promise<ModeAccuracy[]> {
  const hash = contentHash({ kind: 'checkpoint-eval', version: VERSION, settings: source.settings, data: source.data.hash, filter: source.filter.hash });
  const dir = join(source.rptDir, 'evals');
  const path = join(dir, `step-${String(step).padStart(6, '0')}-${hash.slice(0, 12)}.json`);
  // The weights' own hash, not the step alone: a step taken again (after its checkpoint was
  // moved aside, or on a GPU, whose sums may differ in the last bits) has other weights.
  const weights = createHash('sha256').update(await readFile(join(checkpoint, 'model.safetensors'))).digest('hex');
  const cached = await readCachedEvaluation(path, { hash, weights, step, modes: source.settings.modes });
  if (cached) return cached;

  const loaded = await loadModel(checkpoint);
  const model = new Transformer(backend, loaded.config, loaded.flat);
  let accuracy: ModeAccuracy[];
  try {
    accuracy = await evaluateModel(model, set, source.settings, checkStop);
  } finally {
    releaseModel(model);
  }
  await mkdir(dir, { recursive: true });
  const record: CachedEvaluation = { hash, weights, step, accuracy };
  await writeJson(path, record); // atomically: a reader never sees half a file
  return accuracy;
}

const accuracySchema = z.object({ correct: z.number().int().min(0), total: z.number().int().min(0), accuracy: z.number(), low: z.number(), high: z.number() });
const cachedSchema = z.object({
  hash: z.string(),
  weights: z.string(),
  step: z.number(),
  accuracy: z.array(z.object({ mode: z.enum(['standard', 'reasoning']), accuracy: z.record(z.enum(BUCKETS), accuracySchema) })),
});
type CachedEvaluation = z.output<typeof cachedSchema>;

/** The cached accuracies at `path` when the file is whole and records exactly `expected`; undefined otherwise, to compute again. */
async function readCachedEvaluation(path: string, expected: { hash: string; weights: string; step: number; modes: Mode[] }): Promise<ModeAccuracy[] | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined; // missing, unreadable or damaged: computing it again replaces it
  }
  const parsed = cachedSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { hash, weights, step, accuracy } = parsed.data;
  const modes = accuracy.map((entry) => entry.mode);
  if (hash !== expected.hash || weights !== expected.weights || step !== expected.step || modes.join() !== expected.modes.join()) return undefined;
  return accuracy;
}

import { checkpointDir, pruneCheckpoints } from '../checkpoint/checkpoint.ts';
import { scoreWindows } from '../eval/next-token.ts';
import { maskedCrossEntropy } from '../model/loss.ts';
import { AdamW } from '../model/optimizer.ts';
import { initParams } from '../model/params.ts';
import { learningRate } from '../model/schedule.ts';
import { trainStep } from '../model/train-step.ts';
import { Transformer } from '../model/transformer.ts';
import { loadTokenizer } from '../tokenizer/tokenizer-json.ts';
import { packWindows, WindowOrder, windowBatch, type Windows } from './batching.ts';
import { contentHash, readDone, stageDirectory, writeDone } from './cache.ts';
import { FormatWindows, formatWindowRows } from './format-windows.ts';
import { appendMetrics } from './metrics.ts';
import { loadResumePoint, loadModel, saveModel } from './model-checkpoint.ts';
import { declaredModelConfig, type ResolvedModel } from './models.ts';
import type { StageInputs } from './stage-inputs.ts';
import { loadSplit, loadThoughts } from './token-data.ts';

// The pre-training stage: next-token training of one declared model on the corpus's train
// windows, with holdout loss every `eval_every` steps and a checkpoint (weights, AdamW moments,
// step) every `checkpoint_every`, at the end, and when stopped between two of them; the experiment's
// `checkpoint { keep last K }` bounds how many stay. It lives in `stages/pretrain-<model>-<hash12>/`; started again
// after an interruption it continues from the newest checkpoint there, and since the data order
// and the learning rate depend only on (seed, step), the result equals an uninterrupted run's.
// With `format_share`, that share of each batch's windows (the last rows) are worked examples of
// the next-token reasoning format (format-windows.ts) instead of plain windows.

export interface PretrainInputs extends StageInputs {
  model: string; // a name under ir.models with a pretrain block
  start?: ResolvedModel; // the weights training continues from; the model's seeded initialisation by default
}

export interface PretrainResult {
  model: string;
  hash: string;
  dir: string;
  checkpoint: string; // the final weights' checkpoint directory
  steps: number;
  holdoutLoss: number; // mean over the fixed holdout windows, nats per token
  perplexity: number;
  tokensPerSecond: number; // of the optimizer steps run by the call that finished the stage
  resumedFrom: number | null; // the checkpoint step that call started from
  cached: boolean;
}

const VERSION = 1;
// Holdout loss is measured on at most this many windows, spread evenly over the holdout, the
// same ones at every evaluation so that the curve compares like with like.
export const HOLDOUT_EVAL_WINDOWS = 64;

export async function runPretrainStage(inputs: PretrainInputs): Promise<PretrainResult> {
  const { ir, model: name, runDir, backend, tokenizer, data, onProgress, signal } = inputs;
  const settings = ir.models[name]?.pretrain;
  if (!settings) throw new Error(`model \`${name}\` declares no pretrain block`);
  const config = inputs.start?.config ?? declaredModelConfig(ir, name, tokenizer);
  const initSeed = ir.models[name].transformer?.init_seed;
  // The cadences of evaluation and checkpoints do not change the weights, so they stay out.
  const { eval_every: evalEvery, checkpoint_every: checkpointEvery, ...schedule } = settings;
  const hash = contentHash({ stage: 'pretrain', version: VERSION, data: data.hash, tokenizer: tokenizer.sha256, config, initSeed, start: inputs.start?.hash, schedule, seed: ir.seed });
  const dir = await stageDirectory(runDir, `pretrain-${name}`, hash);
  const done = await readDone<PretrainResult>(dir, hash);
  if (done) return { ...done, dir, checkpoint: checkpointDir(dir, done.steps), cached: true };

  const trainSplit = await loadSplit(data, 'train');
  const trainWindows = packWindows(trainSplit, tokenizer.endToken, config.context);
  const formatRows = formatWindowRows(settings.format_share, settings.batch);
  const formatWindows = formatRows > 0 ? new FormatWindows(trainSplit, await loadThoughts(data, 'train'), await loadTokenizer(tokenizer.path), config.context, ir.seed) : null;
  const holdoutWindows = packWindows(await loadSplit(data, 'holdout'), tokenizer.endToken, config.context);
  const holdoutIndices = evenlySpaced(holdoutWindows.count, HOLDOUT_EVAL_WINDOWS);

  const model = new Transformer(backend, config, inputs.start ? await inputs.start.weights() : initParams(config, initSeed!));
  const optimizer = new AdamW(model, { beta1: settings.betas[0], beta2: settings.betas[1], weightDecay: settings.weight_decay, maxGradNorm: settings.grad_clip });
  const tokenizerRef = { path: tokenizer.path, sha256: tokenizer.sha256 };
  const latest = await loadResumePoint(dir, hash, `pre-training of \`${name}\``, (loaded, step) =>
    loaded.optimizer!.step === step ? undefined : `it records optimizer step ${loaded.optimizer!.step}`);
  if (latest) {
    model.importFlat(latest.loaded.flat);
    optimizer.importState(latest.loaded.optimizer!);
  }
  const startStep = latest?.step ?? 0;
  const lrSchedule = {
    maxLr: settings.lr,
    minLr: settings.schedule === 'constant' ? settings.lr : settings.min_lr,
    warmupSteps: settings.warmup,
    totalSteps: settings.steps,
  };
  const order = new WindowOrder(trainWindows.count, ir.seed);
  const stageName = `pretrain ${name}`;
  const holdoutLoss = () => meanHoldoutLoss(model, holdoutWindows, holdoutIndices, settings.batch);
  const save = async (step: number) => {
    await saveModel(checkpointDir(dir, step), model, optimizer, tokenizerRef, { stage_hash: hash, model: name });
    await pruneCheckpoints(dir, ir.checkpoint.keep_last);
  };
  let trainMs = 0;
  let trainTokens = 0;
  try {
    for (let step = startStep + 1; step <= settings.steps; step++) {
      // Stopped (Ctrl-C, or a structural edit under rpt run --watch): keep the steps taken.
      if (signal?.aborted) {
        if (step - 1 > startStep && (step - 1) % checkpointEvery !== 0) await save(step - 1);
        signal.throwIfAborted();
      }
      const indices = new Int32Array(settings.batch).fill(-1);
      indices.set(order.batch(step, settings.batch - formatRows));
      const batch = windowBatch(trainWindows, indices);
      formatWindows?.fill(batch, settings.batch - formatRows, step);
      const lr = learningRate(lrSchedule, step);
      const start = performance.now();
      const result = await trainStep(model, optimizer, batch, (logp) => maskedCrossEntropy(logp, batch.mask), lr);
      const ms = performance.now() - start;
      trainMs += ms;
      trainTokens += batch.B * batch.T;
      const tokensPerSecond = (batch.B * batch.T) / (ms / 1000);
      await appendMetrics(runDir, { stage: 'pretrain', model: name, step, loss: result.loss, lr, grad_norm: result.gradNorm, tokens_per_s: tokensPerSecond });
      if (step % evalEvery === 0 && step < settings.steps) {
        const loss = await holdoutLoss();
        await appendMetrics(runDir, { stage: 'pretrain', model: name, step, holdout_loss: loss, perplexity: Math.exp(loss) });
      }
      if (step % checkpointEvery === 0 || step === settings.steps) await save(step);
      onProgress?.({ stage: stageName, step, total: settings.steps, loss: result.loss, tokensPerSecond });
    }
    const finalLoss = await holdoutLoss();
    await appendMetrics(runDir, { stage: 'pretrain', model: name, step: settings.steps, holdout_loss: finalLoss, perplexity: Math.exp(finalLoss) });
    const result: PretrainResult = {
      model: name,
      hash,
      dir,
      checkpoint: checkpointDir(dir, settings.steps),
      steps: settings.steps,
      holdoutLoss: finalLoss,
      perplexity: Math.exp(finalLoss),
      tokensPerSecond: trainMs > 0 ? trainTokens / (trainMs / 1000) : 0,
      resumedFrom: latest?.step ?? null,
      cached: false,
    };
    await writeDone(dir, hash, result);
    return result;
  } finally {
    model.releaseActivations();
  }
}

/** Mean next-token loss (nats) over the real targets of the given windows. */
export async function meanHoldoutLoss(model: Transformer, windows: Windows, indices: ArrayLike<number>, rows: number): Promise<number> {
  let sum = 0;
  let count = 0;
  await scoreWindows(model, windows, indices, rows, ({ logp }) => {
    sum -= logp;
    count++;
  });
  return count > 0 ? sum / count : NaN;
}

/** Up to `most` indices of 0..count-1, spread evenly. */
export function evenlySpaced(count: number, most: number): Int32Array {
  const n = Math.min(count, most);
  return Int32Array.from({ length: n }, (_, i) => Math.floor((i * count) / n));
}

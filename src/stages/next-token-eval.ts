import { BucketTally, scoreWindows, type Accuracy, type Bucket } from '../eval/next-token.ts';
import { packWindows } from './batching.ts';
import { contentHash, readDone, stageDirectory, writeDone } from './cache.ts';
import { loadEntropies, type FilterResult } from './filter.ts';
import { appendMetrics } from './metrics.ts';
import type { ResolvedModel } from './models.ts';
import type { StageInputs } from './stage-inputs.ts';
import { loadSplit, type TokenizedSplit } from './token-data.ts';

// Standard next-token evaluation of one model on the first `eval.documents` holdout documents:
// argmax accuracy at every document position, overall and per difficulty bucket of the filter's
// proxy entropies, with Wilson 95% intervals; and the holdout loss and perplexity over the same
// windows (document ends included, as in training).

export interface NextTokenEvalInputs extends StageInputs {
  filter: FilterResult;
  model: ResolvedModel;
}

export interface NextTokenEvalResult {
  model: string;
  hash: string;
  dir: string;
  documents: number;
  holdoutLoss: number;
  perplexity: number;
  accuracy: Record<Bucket, Accuracy>;
  cached: boolean;
}

const VERSION = 1;
const TOKENS_PER_PASS = 4096;

export async function runNextTokenEvalStage(inputs: NextTokenEvalInputs): Promise<NextTokenEvalResult> {
  const { ir, runDir, backend, tokenizer, data, filter, model: resolved, onProgress, signal } = inputs;
  const hash = contentHash({ stage: 'eval', version: VERSION, data: data.hash, filter: filter.hash, model: resolved.hash, documents: ir.eval.documents });
  const dir = await stageDirectory(runDir, 'eval', hash);
  const done = await readDone<NextTokenEvalResult>(dir, hash);
  if (done) return { ...done, dir, cached: true };

  const holdout = firstDocuments(await loadSplit(data, 'holdout'), ir.eval.documents);
  const entropy = await loadEntropies(filter, 'holdout');
  const windows = packWindows(holdout, tokenizer.endToken, resolved.config.context);
  const tally = new BucketTally(ir.filter.difficulty);
  let lossSum = 0;
  let targets = 0;
  const model = await resolved.load(backend);
  const rows = Math.max(1, Math.floor(TOKENS_PER_PASS / resolved.config.context));
  const all = Int32Array.from({ length: windows.count }, (_, i) => i);
  try {
    for (let first = 0; first < windows.count; first += rows) {
      signal?.throwIfAborted();
      await scoreWindows(model, windows, all.subarray(first, first + rows), rows, ({ window, slot, target, logp, predicted }) => {
        lossSum -= logp;
        targets++;
        const position = windows.positions[window * windows.width + slot + 1];
        if (position >= 0) tally.add(entropy[position], predicted === target);
      });
      onProgress?.({ stage: `eval ${resolved.label}`, step: Math.min(first + rows, windows.count), total: windows.count });
    }
  } finally {
    model.releaseActivations();
  }
  const holdoutLoss = lossSum / targets;
  const result: NextTokenEvalResult = {
    model: resolved.label,
    hash,
    dir,
    documents: holdout.ids.length,
    holdoutLoss,
    perplexity: Math.exp(holdoutLoss),
    accuracy: tally.result(),
    cached: false,
  };
  await appendMetrics(runDir, { stage: 'eval', model: resolved.label, holdout_loss: holdoutLoss, perplexity: result.perplexity, accuracy: Object.fromEntries(Object.entries(result.accuracy).map(([bucket, a]) => [bucket, a.accuracy])) });
  await writeDone(dir, hash, result);
  return result;
}

/** The split cut to its first `count` documents; positions keep their indices. */
function firstDocuments(split: TokenizedSplit, count: number): TokenizedSplit {
  const n = Math.min(count, split.ids.length);
  return { tokens: split.tokens.subarray(0, split.starts[n]), starts: split.starts.subarray(0, n + 1), ids: split.ids.slice(0, n) };
}

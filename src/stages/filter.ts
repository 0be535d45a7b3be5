import { join } from 'node:path';
import { BUCKETS, inBucket, type Bucket } from '../eval/next-token.ts';
import { topkEntropies } from '../model/infer.ts';
import type { Transformer } from '../model/transformer.ts';
import type { SplitPart } from '../data/split.ts';
import { packWindows, windowBatch } from './batching.ts';
import { contentHash, readDone, readFloat32Array, readInt32Array, stageDirectory, writeArray, writeDone, writeJson } from './cache.ts';
import type { ResolvedModel } from './models.ts';
import type { OnProgress } from './progress.ts';
import type { StageInputs } from './stage-inputs.ts';
import { loadSplit, type TokenizedSplit } from './token-data.ts';

// The entropy filter. A proxy model scores every document position of both sides of the split
// with the entropy (nats) of its top-k next-token distribution; this is written once per
// (data, proxy, k) as `stages/entropy-<hash12>/<side>.entropy.f32`, aligned with the token
// arrays. The filter proper then reads those entropies:
// - train positions with entropy <= keep_above are dropped (the ground-truth continuation of a
//   kept one is its next `window_tokens` tokens, fewer near the document's end); each kept
//   position is written to `stages/filter-<hash12>/kept.i32` as (document, offset) pairs, where
//   the context is the document's tokens before `offset`;
// - holdout positions fall into the nested difficulty buckets, which evaluation reports by;
// - `summary.json` holds the counts and a histogram of entropies in bins of 0.25 nats.

export interface FilterInputs extends StageInputs {
  proxy: ResolvedModel;
}

export interface Histogram {
  binWidth: number; // nats; bin i counts entropies in [i * binWidth, (i + 1) * binWidth)
  counts: number[];
}

export interface FilterResult {
  hash: string;
  dir: string;
  entropyDir: string;
  proxy: string;
  trainPositions: number;
  kept: number; // train positions kept for RPT
  holdoutBuckets: Record<Bucket, number>; // holdout positions per bucket (nested)
  histograms: Record<SplitPart, Histogram>;
  entropySeconds: number; // time the proxy took to score, 0 when the entropies were reused
  cached: boolean;
}

const VERSION = 2;
const BIN_WIDTH = 0.25;
// Rows of windows per forward pass: about this many tokens at a time.
const TOKENS_PER_PASS = 4096;

export async function runFilterStage(inputs: FilterInputs): Promise<FilterResult> {
  const { ir, runDir, data, proxy } = inputs;
  const k = ir.filter.entropy_top_k;
  const entropyHash = contentHash({ stage: 'entropy', version: VERSION, data: data.hash, proxy: proxy.hash, k });
  const entropyDir = await stageDirectory(runDir, 'entropy', entropyHash);
  const { keep_above: keepAbove, difficulty } = ir.filter;
  const hash = contentHash({ stage: 'filter', version: VERSION, entropy: entropyHash, keepAbove, difficulty });
  const dir = await stageDirectory(runDir, 'filter', hash);
  const done = await readDone<FilterResult>(dir, hash);
  if (done) return { ...done, dir, entropyDir, cached: true };

  const entropySeconds = await computeEntropies(inputs, entropyDir, entropyHash);
  const train = await loadSplit(data, 'train');
  const trainEntropy = await readFloat32Array(join(entropyDir, 'train.entropy.f32'));
  const holdoutEntropy = await readFloat32Array(join(entropyDir, 'holdout.entropy.f32'));

  const kept: number[] = [];
  for (let d = 0; d < train.ids.length; d++) {
    const start = train.starts[d];
    const length = train.starts[d + 1] - start;
    for (let offset = 0; offset < length; offset++) {
      if (trainEntropy[start + offset] > keepAbove) kept.push(d, offset);
    }
  }
  await writeArray(join(dir, 'kept.i32'), Int32Array.from(kept));

  const holdoutBuckets = Object.fromEntries(BUCKETS.map((bucket) => [bucket, 0])) as Record<Bucket, number>;
  for (const entropy of holdoutEntropy) for (const bucket of BUCKETS) if (inBucket(bucket, entropy, difficulty)) holdoutBuckets[bucket]++;
  const result: FilterResult = {
    hash,
    dir,
    entropyDir,
    proxy: proxy.label,
    trainPositions: trainEntropy.length,
    kept: kept.length / 2,
    holdoutBuckets,
    histograms: { train: histogram(trainEntropy), holdout: histogram(holdoutEntropy) },
    entropySeconds,
    cached: false,
  };
  await writeJson(join(dir, 'summary.json'), { ...result, topK: k, keepAbove, difficulty });
  await writeDone(dir, hash, result);
  return result;
}

/** The proxy's entropy at every document position of one side, aligned with its token array. */
export async function loadEntropies(filter: FilterResult, part: SplitPart): Promise<Float32Array> {
  return readFloat32Array(join(filter.entropyDir, `${part}.entropy.f32`));
}

/** The kept train positions as (document, offset) pairs: [2 * kept]. */
export async function loadKeptPositions(filter: FilterResult): Promise<Int32Array> {
  return readInt32Array(join(filter.dir, 'kept.i32'));
}

/** Scores both sides with the proxy unless an earlier run did; returns the seconds it took. */
async function computeEntropies(inputs: FilterInputs, dir: string, hash: string): Promise<number> {
  if (await readDone<{ seconds: number }>(dir, hash)) return 0;
  const { backend, tokenizer, data, proxy, ir, onProgress, signal } = inputs;
  const start = performance.now();
  const model = await proxy.load(backend);
  try {
    for (const part of ['train', 'holdout'] as const) {
      const entropy = await splitEntropies(model, await loadSplit(data, part), tokenizer.endToken, ir.filter.entropy_top_k, part, onProgress, signal);
      await writeArray(join(dir, `${part}.entropy.f32`), entropy);
    }
  } finally {
    model.releaseActivations();
  }
  const seconds = (performance.now() - start) / 1000;
  await writeDone(dir, hash, { seconds });
  return seconds;
}

/** entropy[tokens]: the top-k entropy of the model's prediction of each document token. */
async function splitEntropies(model: Transformer, split: TokenizedSplit, endToken: number, k: number, part: SplitPart, onProgress?: OnProgress, signal?: AbortSignal): Promise<Float32Array> {
  const windows = packWindows(split, endToken, model.config.context);
  const T = windows.width - 1;
  const rows = Math.max(1, Math.floor(TOKENS_PER_PASS / T));
  const entropy = new Float32Array(split.tokens.length).fill(NaN);
  for (let first = 0; first < windows.count; first += rows) {
    signal?.throwIfAborted();
    const indices = Int32Array.from({ length: rows }, (_, b) => (first + b < windows.count ? first + b : -1));
    const batch = windowBatch(windows, indices);
    const scores = await topkEntropies(model, batch.inputs, rows, T, k);
    for (let i = 0; i < scores.length; i++) {
      const w = indices[Math.floor(i / T)];
      if (w < 0) continue;
      // Slot i predicts the window's next token; only document tokens are positions.
      const position = windows.positions[w * windows.width + (i % T) + 1];
      if (position >= 0 && batch.mask[i] === 1) entropy[position] = scores[i];
    }
    onProgress?.({ stage: `entropy ${part}`, step: Math.min(first + rows, windows.count), total: windows.count });
  }
  const missing = entropy.findIndex((value) => Number.isNaN(value));
  if (missing >= 0) throw new Error(`internal error: the ${part} windows left position ${missing} unscored`);
  return entropy;
}

function histogram(entropies: Float32Array): Histogram {
  const counts: number[] = [];
  for (const entropy of entropies) {
    const bin = Math.floor(entropy / BIN_WIDTH);
    while (counts.length <= bin) counts.push(0);
    counts[bin]++;
  }
  return { binWidth: BIN_WIDTH, counts };
}

/** A histogram as text, one line per bin with a bar scaled to the largest bin. */
export function formatHistogram(histogram: Histogram, barWidth = 40): string {
  const largest = Math.max(1, ...histogram.counts);
  return histogram.counts
    .map((count, i) => {
      const from = (i * histogram.binWidth).toFixed(2);
      const to = ((i + 1) * histogram.binWidth).toFixed(2);
      return `${from}-${to}  ${String(count).padStart(9)}  ${'#'.repeat(Math.round((count / largest) * barWidth))}`;
    })
    .join('\n');
}

import type { Transformer } from '../model/transformer.ts';
import { windowBatch, type Windows } from '../stages/batching.ts';
import { wilsonInterval } from './intervals.ts';

// Standard next-token evaluation: the model's argmax against the true next token, overall and
// in the nested difficulty buckets of the paper (a position is `easy` when the proxy's top-k
// entropy there exceeds the easy threshold, `medium` above the medium one, `hard` above the hard
// one; so every hard position is also medium and easy).

export const BUCKETS = ['all', 'easy', 'medium', 'hard'] as const;
export type Bucket = (typeof BUCKETS)[number];

export interface DifficultyThresholds {
  easy: number;
  medium: number;
  hard: number;
}

export function inBucket(bucket: Bucket, entropy: number, thresholds: DifficultyThresholds): boolean {
  return bucket === 'all' || entropy > thresholds[bucket];
}

export interface Accuracy {
  correct: number;
  total: number;
  accuracy: number; // correct / total, 0 when there is no position
  low: number; // Wilson 95% interval
  high: number;
}

export function accuracy(correct: number, total: number): Accuracy {
  return { correct, total, accuracy: total > 0 ? correct / total : 0, ...wilsonInterval(correct, total) };
}

/** Counts of correct predictions per bucket, from (entropy, correct) pairs. */
export class BucketTally {
  private readonly correct = new Map<Bucket, number>(BUCKETS.map((b) => [b, 0]));
  private readonly total = new Map<Bucket, number>(BUCKETS.map((b) => [b, 0]));

  constructor(private readonly thresholds: DifficultyThresholds) {}

  add(entropy: number, isCorrect: boolean): void {
    for (const bucket of BUCKETS) {
      if (!inBucket(bucket, entropy, this.thresholds)) continue;
      this.total.set(bucket, this.total.get(bucket)! + 1);
      if (isCorrect) this.correct.set(bucket, this.correct.get(bucket)! + 1);
    }
  }

  result(): Record<Bucket, Accuracy> {
    return Object.fromEntries(BUCKETS.map((b) => [b, accuracy(this.correct.get(b)!, this.total.get(b)!)])) as Record<Bucket, Accuracy>;
  }
}

/** What the model makes of one target of a window. */
export interface ScoredTarget {
  window: number;
  slot: number; // the target is windows.tokens[window * width + slot + 1]
  target: number;
  logp: number; // log-probability of the target
  predicted: number; // argmax (lowest id on ties)
}

/**
 * Runs the windows `indices` through the model, `rows` at a time, and calls `visit` for every
 * real (unpadded) target: one forward pass gives both its log-probability and the argmax.
 */
export async function scoreWindows(model: Transformer, windows: Windows, indices: ArrayLike<number>, rows: number, visit: (scored: ScoredTarget) => void): Promise<void> {
  const { backend } = model;
  const predictions = backend.zeros(rows * (windows.width - 1), 'i32');
  try {
    for (let first = 0; first < indices.length; first += rows) {
      const chunk = Int32Array.from({ length: rows }, (_, b) => (first + b < indices.length ? indices[first + b] : -1));
      const batch = windowBatch(windows, chunk);
      const acts = model.forward(batch.inputs, batch.B, batch.T);
      const logp = await backend.read(model.logprobs(acts, batch.targets));
      backend.argmax(predictions, acts.logits, acts.N, model.config.vocabSize);
      const predicted = await backend.readInt(predictions);
      for (let i = 0; i < acts.N; i++) {
        if (batch.mask[i] === 0) continue;
        const b = Math.floor(i / batch.T);
        visit({ window: chunk[b], slot: i % batch.T, target: batch.targets[i], logp: logp[i], predicted: predicted[i] });
      }
    }
  } finally {
    backend.release(predictions);
  }
}

import { hashString } from '../util/hash.ts';
import { Random } from '../util/random.ts';
import type { TokenizedSplit } from './token-data.ts';

// Training windows of context + 1 tokens cut from tokenized documents, and the seeded order in
// which pre-training visits them.
//
// Packing: each document is followed by the end token, and a window opened for a fresh document
// starts with the end token too, so every document's first token is predicted from a start
// marker. Documents are packed whole while they fit, so short documents (one arithmetic problem
// each) share windows instead of wasting them; a document that cannot fit a window of its own is
// cut into window-sized chunks, consecutive chunks sharing one token so that every token of it is
// predicted exactly once. A window a document does not fit into is closed and padded (padding is
// masked out of the loss), never continued with the head of a document that would then be cut.
//
//   [<end> doc1 <end> doc2 <end> pad pad]  [<end> doc3 ... ]  [... doc3 <end> doc4 <end> pad]

export interface Windows {
  width: number; // tokens per window: context + 1
  count: number;
  tokens: Int32Array; // [count * width], padded with the end token
  lengths: Int32Array; // [count]: tokens before the padding
  // [count * width]: the index of each token in the split's token array, or -1 for end tokens
  // (start markers, document ends, padding); a target with index >= 0 is a document position.
  positions: Int32Array;
}

export function packWindows(split: TokenizedSplit, endToken: number, context: number): Windows {
  const width = context + 1;
  const tokens: number[] = [];
  const positions: number[] = [];
  const lengths: number[] = [];
  let windowTokens: number[] = [];
  let windowPositions: number[] = [];
  const close = (): void => {
    if (windowTokens.length > 1) {
      lengths.push(windowTokens.length);
      for (let i = 0; i < width; i++) {
        tokens.push(i < windowTokens.length ? windowTokens[i] : endToken);
        positions.push(i < windowPositions.length ? windowPositions[i] : -1);
      }
    }
    windowTokens = [];
    windowPositions = [];
  };
  const open = (token: number, position: number): void => {
    windowTokens = [token];
    windowPositions = [position];
  };

  open(endToken, -1);
  for (let d = 0; d < split.ids.length; d++) {
    const start = split.starts[d];
    const end = split.starts[d + 1];
    const length = end - start + 1; // with its end token
    if (windowTokens.length + length > width && length + 1 <= width) {
      close();
      open(endToken, -1);
    }
    for (let i = start; i <= end; i++) {
      if (windowTokens.length === width) {
        const lastToken = windowTokens[width - 1];
        const lastPosition = windowPositions[width - 1];
        close();
        open(lastToken, lastPosition);
      }
      windowTokens.push(i < end ? split.tokens[i] : endToken);
      windowPositions.push(i < end ? i : -1);
    }
  }
  close();
  return { width, count: lengths.length, tokens: Int32Array.from(tokens), lengths: Int32Array.from(lengths), positions: Int32Array.from(positions) };
}

/**
 * Which windows each optimizer step trains on: a seeded permutation of all windows per epoch,
 * read B at a time, a batch running on into the next epoch where one ends. Depends only on
 * (seed, step), so a resumed run sees exactly the batches an uninterrupted one would.
 */
export class WindowOrder {
  private epoch = -1;
  private permutation = new Int32Array(0);

  constructor(readonly count: number, readonly seed: number) {
    if (count < 1) throw new Error('there are no training windows to order');
  }

  /** Window indices of optimizer step `step` (1-based). */
  batch(step: number, B: number): Int32Array {
    const indices = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      const sample = (step - 1) * B + b;
      indices[b] = this.epochPermutation(Math.floor(sample / this.count))[sample % this.count];
    }
    return indices;
  }

  private epochPermutation(epoch: number): Int32Array {
    if (epoch !== this.epoch) {
      const random = new Random(hashString(`window-order/${epoch}`, this.seed));
      const permutation = Int32Array.from({ length: this.count }, (_, i) => i);
      for (let i = this.count - 1; i > 0; i--) {
        const j = random.int(0, i);
        [permutation[i], permutation[j]] = [permutation[j], permutation[i]];
      }
      this.epoch = epoch;
      this.permutation = permutation;
    }
    return this.permutation;
  }
}

export interface WindowBatch {
  inputs: Int32Array; // [B*T]
  targets: Int32Array; // [B*T]
  mask: Float32Array; // [B*T]: 1 where the target is a real token, 0 on padding
  B: number;
  T: number;
}

/** The windows `indices` as a batch; indices of -1 give all-padding rows (a short last batch). */
export function windowBatch(windows: Windows, indices: ArrayLike<number>): WindowBatch {
  const B = indices.length;
  const T = windows.width - 1;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  const mask = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    const w = indices[b];
    if (w < 0) continue;
    const row = windows.tokens.subarray(w * windows.width, (w + 1) * windows.width);
    inputs.set(row.subarray(0, T), b * T);
    targets.set(row.subarray(1), b * T);
    mask.fill(1, b * T, b * T + windows.lengths[w] - 1);
  }
  return { inputs, targets, mask, B, T };
}

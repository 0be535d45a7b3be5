// Packing documents into windows and the seeded order of windows.
import { describe, expect, test } from 'vitest';
import { packWindows, WindowOrder, windowBatch, type Windows } from '../src/stages/batching.ts';
import type { TokenizedSplit } from '../src/stages/token-data.ts';

const END = 0;

function split(documents: number[][]): TokenizedSplit {
  const starts = [0];
  for (const document of documents) starts.push(starts[starts.length - 1] + document.length);
  return { tokens: Int32Array.from(documents.flat()), starts: Int32Array.from(starts), ids: documents.map((_, d) => `doc/${d}`) };
}

function rows(windows: Windows): number[][] {
  return Array.from({ length: windows.count }, (_, w) => Array.from(windows.tokens.subarray(w * windows.width, w * windows.width + windows.lengths[w])));
}

describe('packing documents into windows', () => {
  // Documents of 3, 2, 10 and 1 tokens in windows of context 4 (5 tokens).
  const documents = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [16]];
  const windows = packWindows(split(documents), END, 4);

  test('short documents are packed whole after a start marker, long ones cut with one shared token', () => {
    expect(windows.width).toBe(5);
    expect(rows(windows)).toEqual([
      [END, 1, 2, 3, END], // the second document does not fit here and moves on whole
      [END, 4, 5, END, 6], // the long document fills the rest of the window ...
      [6, 7, 8, 9, 10], // ... and goes on in chunks that share their first token with the last chunk
      [10, 11, 12, 13, 14],
      [14, 15, END, 16, END], // after its end, the next document follows
    ]);
  });

  test('every document token is a target exactly once, and positions name it', () => {
    const flat = split(documents).tokens;
    const seen = new Map<number, number>();
    for (let w = 0; w < windows.count; w++) {
      for (let slot = 1; slot < windows.lengths[w]; slot++) {
        const position = windows.positions[w * windows.width + slot];
        const token = windows.tokens[w * windows.width + slot];
        if (position < 0) expect(token).toBe(END);
        else {
          expect(token).toBe(flat[position]);
          seen.set(position, (seen.get(position) ?? 0) + 1);
        }
      }
    }
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from(flat, (_, i) => i));
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
  });

  test('a window a document does not fit is padded, and padding is masked out of the batch', () => {
    const padded = packWindows(split([[1, 2, 3], [4, 5, 6]]), END, 6);
    expect(rows(padded)).toEqual([[END, 1, 2, 3, END], [END, 4, 5, 6, END]]);
    const batch = windowBatch(padded, [1, -1]);
    expect(Array.from(batch.inputs.subarray(0, 6))).toEqual([END, 4, 5, 6, END, END]);
    expect(Array.from(batch.targets.subarray(0, 6))).toEqual([4, 5, 6, END, END, END]);
    expect(Array.from(batch.mask)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('the order of training windows', () => {
  test('each epoch visits every window once, in an order fixed by the seed', () => {
    const order = new WindowOrder(10, 7);
    const epoch = [...order.batch(1, 5), ...order.batch(2, 5)];
    expect([...epoch].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const nextEpoch = [...order.batch(3, 5), ...order.batch(4, 5)];
    expect(nextEpoch).not.toEqual(epoch);
    expect([...nextEpoch].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect([...new WindowOrder(10, 8).batch(1, 5), ...new WindowOrder(10, 8).batch(2, 5)]).not.toEqual(epoch);
  });

  test('the batch of a step depends only on (seed, step), as a resumed run needs', () => {
    const walked = new WindowOrder(13, 3);
    const batches = Array.from({ length: 9 }, (_, i) => Array.from(walked.batch(i + 1, 4)));
    for (const step of [9, 4, 1, 7]) expect(Array.from(new WindowOrder(13, 3).batch(step, 4))).toEqual(batches[step - 1]);
    // A batch runs on into the next epoch: 13 windows, 4 per step, step 4 holds samples 12..15.
    expect(batches.slice(0, 3).flat().concat(batches[3][0]).sort((a, b) => a - b)).toEqual(Array.from({ length: 13 }, (_, i) => i));
  });
});

// The entropy filter: entropies as the model's logits give them, nested buckets, the keep rule.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { ExperimentIR } from '../dsl/ir.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { BUCKETS } from '../src/eval/next-token.ts';
import { packWindows, windowBatch } from '../src/stages/batching.ts';
import { loadEntropies, loadKeptPositions, runFilterStage, type FilterInputs, type FilterResult } from '../src/stages/filter.ts';
import { resolveModel } from '../src/stages/models.ts';
import { runPretrainStage } from '../src/stages/pretrain.ts';
import type { Progress } from '../src/stages/progress.ts';
import { loadSplit, runDataStage, type TokenizedSplit } from '../src/stages/token-data.ts';
import { runTokenizerStage } from '../src/stages/tokenizer.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

const backend = new CpuBackend();
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let ir: ExperimentIR;
let inputs: FilterInputs;
let result: FilterResult;

// A proxy pre-trained for a few steps, so that its entropies spread over the buckets.
beforeAll(async () => {
  temp = await temporaryDirectory();
  ir = tinyExperiment(['model.base.pretrain.steps=100']);
  const runDir = join(temp.dir, 'run');
  const tokenizer = await runTokenizerStage(ir, runDir, temp.dir);
  const data = await runDataStage(ir, runDir, temp.dir, tokenizer);
  const pretrained = { base: await runPretrainStage({ ir, model: 'base', runDir, backend, tokenizer, data }) };
  const proxy = await resolveModel(ir, ir.filter.proxy, pretrained, tokenizer, temp.dir);
  inputs = { ir, runDir, backend, tokenizer, data, proxy };
  result = await runFilterStage(inputs);
});
afterAll(async () => {
  await temp.remove();
});

/** Entropy (nats) of the softmax over the k largest of `logits`, computed here from scratch. */
function topkEntropy(logits: Float32Array, k: number): number {
  const top = Array.from(logits).sort((a, b) => b - a).slice(0, k);
  const max = top[0];
  const weights = top.map((logit) => Math.exp(logit - max));
  const total = weights.reduce((a, b) => a + b, 0);
  return -weights.reduce((sum, w) => sum + (w / total) * Math.log(w / total), 0);
}

describe('entropy filter', () => {
  test('every holdout entropy equals the top-k entropy of the proxy logits at that position', async () => {
    const holdout = await loadSplit(inputs.data, 'holdout');
    const entropy = await loadEntropies(result, 'holdout');
    expect(entropy.length).toBe(holdout.tokens.length);
    const model = await inputs.proxy.load(backend);
    const windows = packWindows(holdout, inputs.tokenizer.endToken, model.config.context);
    const V = model.config.vocabSize;
    const T = windows.width - 1;
    let checked = 0;
    for (let w = 0; w < windows.count; w++) {
      const batch = windowBatch(windows, [w]);
      const logits = await backend.read(model.forward(batch.inputs, 1, T).logits);
      for (let slot = 0; slot + 1 < windows.lengths[w]; slot++) {
        const position = windows.positions[w * windows.width + slot + 1];
        if (position < 0) continue;
        expect(entropy[position]).toBeCloseTo(topkEntropy(logits.subarray(slot * V, (slot + 1) * V), ir.filter.entropy_top_k), 4);
        checked++;
      }
    }
    expect(checked).toBe(holdout.tokens.length);
  });

  test('holdout buckets are nested and count the entropies above each threshold', async () => {
    const entropy = Array.from(await loadEntropies(result, 'holdout'));
    const { easy, medium, hard } = ir.filter.difficulty;
    expect(result.holdoutBuckets).toEqual({
      all: entropy.length,
      easy: entropy.filter((e) => e > easy).length,
      medium: entropy.filter((e) => e > medium).length,
      hard: entropy.filter((e) => e > hard).length,
    });
    const counts = BUCKETS.map((bucket) => result.holdoutBuckets[bucket]);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeLessThanOrEqual(counts[i - 1]);
    // The proxy is trained enough for the buckets to differ.
    expect(counts[3]).toBeGreaterThan(0);
    expect(counts[3]).toBeLessThan(counts[0]);
    expect(result.histograms.holdout.counts.reduce((a, b) => a + b, 0)).toBe(entropy.length);
  });

  test('kept train positions are exactly those above the keep threshold, the document ends included', async () => {
    const train: TokenizedSplit = await loadSplit(inputs.data, 'train');
    const entropy = await loadEntropies(result, 'train');
    const kept = await loadKeptPositions(result);
    expect(kept.length).toBe(2 * result.kept);
    const expected: number[] = [];
    for (let d = 0; d < train.ids.length; d++) {
      const length = train.starts[d + 1] - train.starts[d];
      for (let offset = 0; offset < length; offset++) {
        if (entropy[train.starts[d] + offset] > ir.filter.keep_above) expected.push(d, offset);
      }
    }
    expect(Array.from(kept)).toEqual(expected);
    expect(result.kept).toBeGreaterThan(0);
    expect(result.kept).toBeLessThan(result.trainPositions);
  });

  test('is written once: a second run reuses it, and new thresholds reuse the entropies', async () => {
    const progress: Progress[] = [];
    const again = await runFilterStage({ ...inputs, onProgress: (p) => progress.push(p) });
    expect(again.cached).toBe(true);
    expect(again.kept).toBe(result.kept);
    expect(progress).toEqual([]);

    const stricter = tinyExperiment(['model.base.pretrain.steps=40', 'filter.keep=above 2.0']);
    const restricted = await runFilterStage({ ...inputs, ir: stricter, onProgress: (p) => progress.push(p) });
    expect(restricted.cached).toBe(false);
    expect(restricted.entropySeconds).toBe(0);
    expect(progress).toEqual([]);
    expect(restricted.kept).toBeLessThan(result.kept);
  });
});

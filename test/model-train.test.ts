// Training end to end, on every backend: a small model memorises a short text.

import { afterAll, describe, expect, test } from 'vitest';
import { modelConfig } from '../src/model/config.ts';
import { maskedCrossEntropy } from '../src/model/loss.ts';
import { AdamW } from '../src/model/optimizer.ts';
import { initParams } from '../src/model/params.ts';
import { learningRate } from '../src/model/schedule.ts';
import { trainStep } from '../src/model/train-step.ts';
import { Transformer } from '../src/model/transformer.ts';
import { backendsForTests } from './support/backends.ts';

const backends = await backendsForTests();
afterAll(() => backends.forEach(({ backend }) => backend?.destroy()));

const TEXT = 'the cat sat on the mat. the dog sat on the log.';
const alphabet = [...new Set(TEXT)].sort();
const ids = Int32Array.from(TEXT, (char) => alphabet.indexOf(char));

for (const { name, backend } of backends) {
  describe.skipIf(!backend)(`${name}: training`, () => {
    test('a small model memorises a short text (cross-entropy below 0.05 nats)', async () => {
      const config = modelConfig({ vocabSize: alphabet.length, layers: 2, dim: 32, heads: 2, context: 64, tiedEmbeddings: true });
      const model = new Transformer(backend!, config, initParams(config, 5));
      const optimizer = new AdamW(model, { weightDecay: 0 });
      const schedule = { maxLr: 1e-2, minLr: 1e-3, warmupSteps: 10, totalSteps: 150 };
      const T = ids.length - 1;
      // Two copies of the text in one batch, the second with a masked-out first half: the mask
      // must keep those tokens out of the loss without disturbing the rest.
      const inputs = new Int32Array(2 * T), targets = new Int32Array(2 * T), mask = new Float32Array(2 * T);
      for (let b = 0; b < 2; b++) {
        inputs.set(ids.subarray(0, T), b * T);
        targets.set(ids.subarray(1), b * T);
        mask.fill(1, b * T + (b === 1 ? Math.floor(T / 2) : 0), (b + 1) * T);
      }
      const batch = { inputs, targets, B: 2, T };
      const first = await trainStep(model, optimizer, batch, (logp) => maskedCrossEntropy(logp, mask), learningRate(schedule, 1));
      expect(Math.abs(first.loss - Math.log(alphabet.length))).toBeLessThan(0.2); // near-uniform predictions at init
      let last = first;
      for (let step = 2; step <= schedule.totalSteps; step++) {
        last = await trainStep(model, optimizer, batch, (logp) => maskedCrossEntropy(logp, mask), learningRate(schedule, step));
      }
      expect(optimizer.step).toBe(schedule.totalSteps);
      expect(last.loss).toBeLessThan(0.05);
      expect(last.gradNorm).toBeGreaterThan(0);
    });
  });
}

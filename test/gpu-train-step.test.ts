// A whole training step (forward, log-probabilities, loss, every gradient, clipping and the AdamW
// update) on webgpu and on the cpu backend with BLAS against the cpu reference, from the same
// weights and batch, for two steps so that the optimizer moments carried between steps are
// checked too. Tied and untied embeddings, and a model shaped as Qwen2 and Qwen3 at once
// (4 query heads over 2 key/value heads of 6 channels with dim 18, so headDim is not dim/heads;
// q/k/v biases; per-head q/k norm); norm gains and biases drawn away from their init of 1 and 0;
// awkward sizes (vocabulary 97, head size 6, SwiGLU hidden 52, T = 13).
//
// Tolerance: worstError (|actual - cpu| / (1 + |cpu|)) <= 1e-4 for the loss, gradient norm, every
// gradient and every parameter: float32 rounding of two backends summing in different orders,
// carried through two layers and two steps (observed ~1e-6). Learning rate 1e-3 moves weights
// by ~1e-3 per step, far above that tolerance, so an update that is skipped or wrong is caught.

import { afterAll, describe, expect, test } from 'vitest';
import type { Backend } from '../src/backend/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { modelConfig } from '../src/model/config.ts';
import { maskedCrossEntropy } from '../src/model/loss.ts';
import { AdamW } from '../src/model/optimizer.ts';
import { initParams, paramSpecs } from '../src/model/params.ts';
import { trainStep } from '../src/model/train-step.ts';
import { Transformer } from '../src/model/transformer.ts';
import { Random } from '../src/util/random.ts';
import { acceleratedBackendsForTests } from './support/backends.ts';
import { ints, uniform, worstError } from './support/gpu.ts';

const TOLERANCE = 1e-4;

const backends = await acceleratedBackendsForTests();
afterAll(() => backends.forEach(({ backend }) => backend?.destroy()));

for (const { name, backend, skipReason } of backends) describe.skipIf(!backend)(`a training step on ${name} matches the cpu ${skipReason}`, () => {
  const shape = { vocabSize: 97, layers: 2, dim: 18, heads: 3, ffnHidden: 52, context: 13 };
  const cases = [
    { label: 'untied embeddings', config: modelConfig({ ...shape, tiedEmbeddings: false }) },
    { label: 'tied embeddings', config: modelConfig({ ...shape, tiedEmbeddings: true }) },
    { label: 'grouped-query attention, q/k/v biases, q/k norm', config: modelConfig({ ...shape, heads: 4, kvHeads: 2, headDim: 6, qkvBias: true, qkNorm: true }) },
  ];
  for (const { label, config } of cases) {
    test(`two steps, ${label}`, async () => {
      const flat = initParams(config, 3);
      const random = new Random(4);
      for (const spec of paramSpecs(config)) {
        if (spec.init === 'normal') continue;
        const values = flat.subarray(spec.offset, spec.offset + spec.length);
        values.set(uniform(random, spec.length, 0.5).map((x) => x + (spec.init === 'ones' ? 1 : 0)));
      }
      const B = 3, T = 13;
      const batch = { inputs: ints(random, B * T, 97), targets: ints(random, B * T, 97), B, T };
      const mask = Float32Array.from({ length: B * T }, (_, i) => (i % 5 === 0 ? 0 : 1));
      const lossHead = (logp: Float32Array) => maskedCrossEntropy(logp, mask);

      const runs = [new CpuBackend(), backend!].map((backend: Backend) => {
        const model = new Transformer(backend, config, flat);
        return { model, optimizer: new AdamW(model, { maxGradNorm: 0.5 }) };
      });
      for (let step = 0; step < 2; step++) {
        const [expected, actual] = await Promise.all(runs.map(({ model, optimizer }) => trainStep(model, optimizer, batch, lossHead, 1e-3)));
        expect(Math.abs(actual.loss - expected.loss) / (1 + expected.loss), 'loss').toBeLessThanOrEqual(TOLERANCE);
        expect(Math.abs(actual.gradNorm - expected.gradNorm) / (1 + expected.gradNorm), 'gradient norm').toBeLessThanOrEqual(TOLERANCE);
        const [cpu, other] = runs.map(({ model }) => model);
        for (const [i, spec] of cpu.specs.entries()) {
          const gradError = worstError(await other.backend.read(other.grads[i]), await cpu.backend.read(cpu.grads[i]));
          expect(gradError, `gradient of ${spec.name} at step ${step + 1}`).toBeLessThanOrEqual(TOLERANCE);
        }
        expect(worstError(await other.exportFlat(), await cpu.exportFlat()), `parameters after step ${step + 1}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
});

// The whole model's backward against central finite differences of the masked cross-entropy,
// on every parameter of a tiny model, tied and untied, and of one shaped as Qwen2 and Qwen3 at
// once (grouped-query attention, q/k/v biases, per-head q/k norm, headDim not dim/heads), on the
// cpu reference and on the cpu backend with BLAS. Weights (biases and norm gains included) are
// drawn wider than the real initialisation so that every path carries a gradient well above
// float32 noise.
//
// Tolerance: |numeric - analytic| <= 2e-3 * max(0.05, |analytic|) per parameter, h = 1e-2. The
// loss is a float32 forward pass through two layers; its rounding noise divided by 2h is ~1e-5.

import { describe, expect, test } from 'vitest';
import { blasForTests } from '../src/backend/select.ts';
import type { Backend } from '../src/backend/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { modelConfig } from '../src/model/config.ts';
import { maskedCrossEntropy } from '../src/model/loss.ts';
import { paramCount } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';
import { Random } from '../src/util/random.ts';
import { worstGradientError } from './support/finite-differences.ts';
import { uniform } from './support/gpu.ts';

const STEP = 1e-2;
const TOLERANCE = 2e-3;

const blas = await blasForTests();
const backends: { name: string; backend: Backend | null; skipReason: string }[] = [{ name: 'cpu', backend: new CpuBackend(), skipReason: '' }, { name: 'blas', ...blas }];

for (const { name, backend: backendUnderTest, skipReason } of backends) describe.skipIf(!backendUnderTest)(`${name}: transformer backward matches central finite differences ${skipReason}`, () => {
  const shape = { vocabSize: 11, layers: 2, dim: 8, heads: 2, ffnHidden: 12, context: 8 };
  const cases = [
    { label: 'untied embeddings', seed: 1, config: modelConfig({ ...shape, tiedEmbeddings: false }) },
    { label: 'tied embeddings', seed: 2, config: modelConfig({ ...shape, tiedEmbeddings: true }) },
    {
      label: '4 query heads over 2 key/value heads of 6, q/k/v biases, q/k norm',
      seed: 3, config: modelConfig({ ...shape, heads: 4, kvHeads: 2, headDim: 6, qkvBias: true, qkNorm: true }),
    },
  ];
  for (const { label, seed, config } of cases) {
    test(`every parameter, ${label}`, async () => {
      const random = new Random(seed);
      const flat = uniform(random, paramCount(config), 0.5);
      const backend = backendUnderTest!;
      const model = new Transformer(backend, config, flat);
      const B = 2, T = 5;
      const inputs = Int32Array.from({ length: B * T }, () => random.int(0, config.vocabSize - 1));
      const targets = Int32Array.from({ length: B * T }, () => random.int(0, config.vocabSize - 1));
      const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T === 0 ? 0 : 1));
      const positions = Int32Array.from({ length: B * T }, (_, i) => (i % T) + 3 * Math.floor(i / T));
      const loss = async (): Promise<number> => {
        const acts = model.forward(inputs, B, T, { positions });
        return maskedCrossEntropy(await backend.read(model.logprobs(acts, targets)), mask).loss;
      };

      const acts = model.forward(inputs, B, T, { positions, forBackward: true });
      const { dlogp } = maskedCrossEntropy(await backend.read(model.logprobs(acts, targets)), mask);
      model.zeroGrads();
      model.backward(acts, dlogp);

      let worst = 0;
      for (let p = 0; p < model.specs.length; p++) {
        const analytic = await backend.read(model.grads[p]);
        worst = Math.max(worst, await worstGradientError(backend, model.params[p], analytic, loss, STEP, 0.05));
      }
      expect(worst).toBeLessThan(TOLERANCE);
    });
  }
});

// Inference on every backend: KV-cache decoding against the full forward pass (multi-head, and
// grouped-query with q/k/v biases, q/k norm and a headDim other than dim/heads), the scoring
// helpers against the logits they summarise, and reproducible, well-formed generation.
//
// Tolerance for logits and scores: |a - b| <= 1e-4 * (1 + |b|); the cached and the full pass add
// the same float32 terms in different orders.

import { afterAll, describe, expect, test } from 'vitest';
import type { Backend } from '../src/backend/backend.ts';
import { modelConfig } from '../src/model/config.ts';
import { generate, type GenerateRequest } from '../src/model/generate.ts';
import { argmaxTokens, Decoder, sequenceLogprobs, topkEntropies } from '../src/model/infer.ts';
import { paramCount } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';
import { Random } from '../src/util/random.ts';
import { backendsForTests } from './support/backends.ts';
import { uniform } from './support/gpu.ts';

const TOLERANCE = 1e-4;
const backends = await backendsForTests();
afterAll(() => backends.forEach(({ backend }) => backend?.destroy()));

const config = modelConfig({ vocabSize: 23, layers: 2, dim: 16, heads: 2, ffnHidden: 24, context: 16 });
const groupedConfig = modelConfig({ ...config, heads: 6, kvHeads: 2, headDim: 4, qkvBias: true, qkNorm: true });
const V = config.vocabSize;

/** Weights wider than the real initialisation, so that attention and logits are far from uniform. */
function testModel(backend: Backend, modelConfig = config): Transformer {
  return new Transformer(backend, modelConfig, uniform(new Random(9), paramCount(modelConfig), 0.4));
}

/** Logits [T,V] of one sequence from the full forward pass. */
async function fullLogits(model: Transformer, tokens: Int32Array): Promise<Float32Array> {
  return model.backend.read(model.forward(tokens, 1, tokens.length).logits);
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  expect(worst).toBeLessThanOrEqual(TOLERANCE);
}

for (const { name, backend } of backends) {
  describe.skipIf(!backend)(`${name}: inference`, () => {
    const configs = [['multi-head', config], ['6 query heads over 2 key/value heads, biases, q/k norm', groupedConfig]] as const;
    for (const [label, modelConfig] of configs) {
      test(`KV-cache decoding gives the logits of the full forward pass, prompts of different lengths, ${label}`, async () => {
        const model = testModel(backend!, modelConfig);
        const random = new Random(4);
        const sequences = [5, 1, 8].map((length) => Array.from({ length }, () => random.int(0, V - 1)));
        const decoder = new Decoder(model, sequences.length, config.context);
        const prefill = await decoder.prefill(sequences.map((tokens) => Int32Array.from(tokens)));
        for (let step = 0; ; step++) {
          const logits = step === 0 ? prefill : await decodeNext();
          for (let b = 0; b < sequences.length; b++) {
            const full = await fullLogits(model, Int32Array.from(sequences[b]));
            const T = sequences[b].length;
            expectClose(logits.subarray(b * V, (b + 1) * V), full.subarray((T - 1) * V, T * V));
          }
          if (step === 4) break;
        }
        decoder.release();

        async function decodeNext(): Promise<Float32Array> {
          const tokens = Int32Array.from(sequences, () => random.int(0, V - 1));
          const positions = Int32Array.from(sequences, (sequence) => sequence.length);
          sequences.forEach((sequence, b) => sequence.push(tokens[b]));
          return decoder.step(tokens, positions);
        }
      });
    }

    test('logprobs, top-k entropy and argmax summarise the forward logits', async () => {
      const model = testModel(backend!);
      const random = new Random(5);
      const B = 2, T = 6;
      const tokens = Int32Array.from({ length: B * T }, () => random.int(0, V - 1));
      const targets = Int32Array.from({ length: B * T }, () => random.int(0, V - 1));
      const logits = await model.backend.read(model.forward(tokens, B, T).logits);
      const expectedLogp = new Float32Array(B * T), expectedEntropy = new Float32Array(B * T), expectedArgmax = new Int32Array(B * T);
      for (let n = 0; n < B * T; n++) {
        const row = Array.from(logits.subarray(n * V, (n + 1) * V));
        const logSumExp = (values: number[]): number => Math.log(values.reduce((sum, x) => sum + Math.exp(x), 0));
        expectedLogp[n] = row[targets[n]] - logSumExp(row);
        const top = [...row].sort((a, b) => b - a).slice(0, 4);
        expectedEntropy[n] = -top.reduce((sum, x) => sum + Math.exp(x - logSumExp(top)) * (x - logSumExp(top)), 0);
        expectedArgmax[n] = row.indexOf(Math.max(...row));
      }
      expectClose(await sequenceLogprobs(model, tokens, targets, B, T), expectedLogp);
      expectClose(await topkEntropies(model, tokens, B, T, 4), expectedEntropy);
      expect(await argmaxTokens(model, tokens, B, T)).toEqual(expectedArgmax);
    });

    test('greedy generation follows the argmax of the full forward pass', async () => {
      const model = testModel(backend!);
      const prompt = Int32Array.of(3, 1, 4);
      const [generation] = await generate(model, {
        prompts: [prompt], seeds: [0], phases: [{ maxNewTokens: 6, stopTokens: [] }], sampling: { temperature: 0, topK: 0, topP: 1 },
      });
      const sequence = Array.from(prompt);
      for (let i = 0; i < 6; i++) {
        const greedy = await argmaxTokens(model, Int32Array.from(sequence), 1, sequence.length);
        sequence.push(greedy[sequence.length - 1]);
      }
      expect(Array.from(generation.tokens)).toEqual(sequence.slice(prompt.length));
      expect(generation).toMatchObject({ phaseEnds: [6], finish: 'length' });
    });

    test('same seed, same rollout, whatever else is in the batch', async () => {
      const model = testModel(backend!);
      const request = (prompts: Int32Array[], seeds: number[]): GenerateRequest => ({
        prompts, seeds, phases: [{ maxNewTokens: 8, stopTokens: [] }], sampling: { temperature: 1, topK: 0, topP: 1 },
      });
      const prompt = Int32Array.of(7, 7, 2);
      const [alone] = await generate(model, request([prompt], [42]));
      const batched = await generate(model, request([Int32Array.of(1), prompt, prompt], [1, 42, 43]));
      expect(batched[1].tokens).toEqual(alone.tokens);
      expect(batched[2].tokens).not.toEqual(alone.tokens); // another seed, another rollout
      expect((await generate(model, request([prompt], [42])))[0].tokens).toEqual(alone.tokens);
    });

    test('phases end at their stop token or budget; the context bounds the whole', async () => {
      const model = testModel(backend!);
      const greedy = { temperature: 0, topK: 0, topP: 1 };
      const prompt = Int32Array.of(5, 6);
      const [free] = await generate(model, { prompts: [prompt], seeds: [0], phases: [{ maxNewTokens: 10, stopTokens: [] }], sampling: greedy });
      const stop = free.tokens[2];
      const thoughtEnd = free.tokens.indexOf(stop) + 1;
      const [phased] = await generate(model, {
        prompts: [prompt], seeds: [0], sampling: greedy,
        phases: [{ maxNewTokens: 8, stopTokens: [stop] }, { maxNewTokens: 3, stopTokens: [] }],
      });
      expect(phased.phaseEnds).toEqual([thoughtEnd, thoughtEnd + 3]);
      expect(phased.finish).toBe('length');
      expect(phased.tokens).toEqual(free.tokens.subarray(0, thoughtEnd + 3));

      const [stopped] = await generate(model, {
        prompts: [prompt], seeds: [0], sampling: greedy, phases: [{ maxNewTokens: 10, stopTokens: [stop] }],
      });
      expect(stopped).toMatchObject({ phaseEnds: [thoughtEnd], finish: 'stop' });

      const [cut] = await generate(model, {
        prompts: [Int32Array.from({ length: config.context - 2 }, (_, i) => i)], seeds: [0], sampling: greedy,
        phases: [{ maxNewTokens: 10, stopTokens: [] }],
      });
      expect(cut).toMatchObject({ phaseEnds: [], finish: 'context' });
      expect(cut.tokens.length).toBe(2);
    });
  });
}

// Standard next-token evaluation on a case small enough to check by hand.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { wilsonInterval } from '../src/eval/intervals.ts';
import { accuracy } from '../src/eval/next-token.ts';
import { modelConfig } from '../src/model/config.ts';
import { paramCount } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';
import { writeArray, writeJson } from '../src/stages/cache.ts';
import type { FilterResult } from '../src/stages/filter.ts';
import type { ResolvedModel } from '../src/stages/models.ts';
import { runNextTokenEvalStage, type NextTokenEvalInputs } from '../src/stages/next-token-eval.ts';
import type { DataResult } from '../src/stages/token-data.ts';
import type { TokenizerResult } from '../src/stages/tokenizer.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

// A model whose every weight is zero gives equal logits everywhere, so its argmax is always token
// 0 (the lowest id wins ties) and every target has probability 1/V. Two holdout documents:
//   position   0    1    2    3  |  4    5    6
//   token      0    3    0    0  |  2    0    5
//   entropy   0.2  0.7  1.2  1.7 | 0.6  1.6  1.9
//   correct    y    n    y    y  |  n    y    n
// all 4/7; easy (> 0.5) positions 1..6: 3/6; medium (> 1.0) 2, 3, 5, 6: 3/4; hard (> 1.5) 3, 5, 6: 2/3.
const V = 8;
const END = 7;
const TOKENS = [0, 3, 0, 0, 2, 0, 5];
const STARTS = [0, 4, 7];
const ENTROPIES = [0.2, 0.7, 1.2, 1.7, 0.6, 1.6, 1.9];

const backend = new CpuBackend();
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let inputs: NextTokenEvalInputs;

beforeAll(async () => {
  temp = await temporaryDirectory();
  const dataDir = join(temp.dir, 'data');
  const entropyDir = join(temp.dir, 'entropy');
  await mkdir(dataDir);
  await mkdir(entropyDir);
  await writeArray(join(dataDir, 'holdout.tokens.i32'), Int32Array.from(TOKENS));
  await writeArray(join(dataDir, 'holdout.starts.i32'), Int32Array.from(STARTS));
  await writeJson(join(dataDir, 'holdout.ids.json'), ['doc/0', 'doc/1']);
  await writeArray(join(entropyDir, 'holdout.entropy.f32'), Float32Array.from(ENTROPIES));

  const config = modelConfig({ vocabSize: V, layers: 1, dim: 8, heads: 2, context: 8, tiedEmbeddings: true });
  const weights = async () => new Float32Array(paramCount(config));
  const model: ResolvedModel = { label: 'zeros', hash: 'zeros', config, weights, load: async () => new Transformer(backend, config, await weights()) };
  const tokenizer = { endToken: END, vocabSize: V } as TokenizerResult;
  const data = { dir: dataDir, hash: 'data' } as DataResult;
  const filter = { entropyDir, hash: 'filter' } as FilterResult;
  inputs = { ir: tinyExperiment(), runDir: join(temp.dir, 'run'), backend, tokenizer, data, filter, model };
});
afterAll(async () => {
  await temp.remove();
});

describe('standard next-token evaluation', () => {
  test('argmax accuracy overall and in each nested bucket, with Wilson intervals', async () => {
    const result = await runNextTokenEvalStage(inputs);
    expect(result.documents).toBe(2);
    expect(result.accuracy.all).toEqual(accuracy(4, 7));
    expect(result.accuracy.easy).toEqual(accuracy(3, 6));
    expect(result.accuracy.medium).toEqual(accuracy(3, 4));
    expect(result.accuracy.hard).toEqual(accuracy(2, 3));
    expect(result.accuracy.all.accuracy).toBeCloseTo(4 / 7, 12);
    // Uniform predictions: the loss over all 9 targets (7 tokens and 2 document ends) is log V.
    expect(result.holdoutLoss).toBeCloseTo(Math.log(V), 5);
    expect(result.perplexity).toBeCloseTo(V, 3);
  });

  test('counts only the first `eval.documents` holdout documents', async () => {
    const result = await runNextTokenEvalStage({ ...inputs, ir: tinyExperiment(['eval.documents=1']) });
    expect(result.cached).toBe(false);
    expect(result.documents).toBe(1);
    expect(result.accuracy.all).toEqual(accuracy(3, 4));
    expect(result.accuracy.hard).toEqual(accuracy(1, 1));
  });

  test('a second run reuses the result', async () => {
    expect((await runNextTokenEvalStage(inputs)).cached).toBe(true);
  });
});

describe('Wilson interval', () => {
  test('matches published values and stays inside [0, 1]', () => {
    const none = wilsonInterval(0, 10);
    expect(none.low).toBe(0);
    expect(none.high).toBeCloseTo(0.2775, 4);
    const half = wilsonInterval(50, 100);
    expect(half.low).toBeCloseTo(0.4038, 4);
    expect(half.high).toBeCloseTo(0.5962, 4);
    expect(wilsonInterval(10, 10).high).toBe(1);
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
  });
});

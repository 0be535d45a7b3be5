// The next-token reasoning format: prompts (document start marker, truncation to the newest
// context), response phases, parsing of responses into thought and prediction with the reasons
// a response cannot be parsed, contexts from kept filter positions, and, on sampled rollouts,
// that an unparseable response earns 0 whatever the reward.

import { afterAll, describe, expect, test } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { modelConfig } from '../src/model/config.ts';
import type { Generation } from '../src/model/generate.ts';
import { initParams } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';
import { keptContext, tokensAsBytes } from '../src/rl/context.ts';
import { localRptLoop } from '../src/rl/loop.ts';
import { buildPrompt, parseResponse, reasoningExample, responsePhases, UNPARSEABLE_REASONS, type ReasoningVocabulary } from '../src/rl/prompt.ts';
import { specialFormat } from '../src/rl/special-format.ts';

const TOKENS = [' the', ' cat', 'é', 'x', '<think>', '</think>', '<answer>', '<end>'];
const [THE, CAT, E_ACUTE, X, THINK, THINK_CLOSE, ANSWER, END] = TOKENS.map((_, id) => id);
const VOCABULARY: ReasoningVocabulary = {
  specialIds: { '<think>': THINK, '</think>': THINK_CLOSE, '<answer>': ANSWER, '<end>': END },
  tokenBytes: (id) => new TextEncoder().encode(TOKENS[id]),
};
const bytes = (text: string) => new TextEncoder().encode(text);
const generation = (tokens: number[], phaseEnds: number[], finish: Generation['finish'] = 'stop'): Generation => ({ tokens: Int32Array.from(tokens), phaseEnds, finish });

describe('prompt', () => {
  // Budgets of 3 thought and 2 answer tokens take 3 + </think> + 2 + <end> = 7 positions; with
  // <think>, a model context of 16 leaves 8 for the context.
  const budgets = { thinkTokens: 3, answerTokens: 2 };
  const context = (length: number) => Int32Array.from({ length }, (_, i) => i % 4);

  test('a whole document prefix starts with <end>, as pre-training windows do, and ends with <think>', () => {
    expect(Array.from(buildPrompt(Int32Array.of(THE, CAT), VOCABULARY, budgets, 16))).toEqual([END, THE, CAT, THINK]);
    expect(Array.from(buildPrompt(context(0), VOCABULARY, budgets, 16))).toEqual([END, THINK]);
    expect(Array.from(buildPrompt(context(7), VOCABULARY, budgets, 16))).toEqual([END, ...context(7), THINK]);
  });

  test('a longer context keeps its most recent tokens, without the start marker', () => {
    expect(Array.from(buildPrompt(context(8), VOCABULARY, budgets, 16))).toEqual([...context(8), THINK]);
    const long = context(30);
    expect(Array.from(buildPrompt(long, VOCABULARY, budgets, 16))).toEqual([...long.subarray(22), THINK]);
  });

  test('without a thought budget the prompt closes the thought itself and only the answer is sampled', () => {
    const noThought = { thinkTokens: 0, answerTokens: 2 };
    expect(Array.from(buildPrompt(Int32Array.of(CAT), VOCABULARY, noThought, 16))).toEqual([END, CAT, THINK, THINK_CLOSE]);
    expect(responsePhases(VOCABULARY, noThought)).toEqual([{ maxNewTokens: 3, stopTokens: [END] }]);
  });

  test('the phases: a thought closed by </think>, then an answer ended by <end>', () => {
    expect(responsePhases(VOCABULARY, budgets)).toEqual([{ maxNewTokens: 4, stopTokens: [THINK_CLOSE] }, { maxNewTokens: 3, stopTokens: [END] }]);
  });

  test('budgets that leave no room for a prompt are refused', () => {
    expect(() => buildPrompt(context(4), VOCABULARY, { thinkTokens: 5, answerTokens: 2 }, 10)).toThrow(/no room for a prompt/);
  });
});

describe('worked examples of the format', () => {
  test('the prompt of budgets that fit the example, then thought, </think>, answer, <end>; the response parses back', () => {
    const thought = Int32Array.of(X, X), answer = Int32Array.of(CAT, E_ACUTE);
    const example = reasoningExample(Int32Array.of(THE), thought, answer, VOCABULARY, 16);
    const prompt = buildPrompt(Int32Array.of(THE), VOCABULARY, { thinkTokens: 2, answerTokens: 2 }, 16);
    expect(Array.from(example.tokens)).toEqual([END, THE, THINK, X, X, THINK_CLOSE, CAT, E_ACUTE, END]);
    expect(example.responseStart).toBe(prompt.length);
    const response = example.tokens.subarray(example.responseStart);
    expect(parseResponse(generation(Array.from(response), [3, 6]), VOCABULARY, { thinkTokens: 2, answerTokens: 2 })).toMatchObject({ prediction: bytes(' caté') });
  });

  test('an empty thought: the response is </think>, the answer and <end>', () => {
    const example = reasoningExample(Int32Array.of(THE), new Int32Array(0), Int32Array.of(CAT), VOCABULARY, 16);
    expect(Array.from(example.tokens)).toEqual([END, THE, THINK, THINK_CLOSE, CAT, END]);
    expect(example.responseStart).toBe(3);
  });

  test('a long context is cut to its newest tokens so that the example fits the model context', () => {
    const example = reasoningExample(Int32Array.from({ length: 30 }, (_, i) => i % 4), Int32Array.of(X, X, X), Int32Array.of(CAT), VOCABULARY, 12);
    expect(example.tokens.length).toBe(12);
    expect(Array.from(example.tokens.subarray(example.responseStart))).toEqual([X, X, X, THINK_CLOSE, CAT, END]);
  });
});

describe('parsing a response', () => {
  const budgets = { thinkTokens: 3, answerTokens: 2 };

  test('thought, </think>, answer, <end>: the answer bytes are the prediction', () => {
    const parsed = parseResponse(generation([X, X, THINK_CLOSE, CAT, E_ACUTE, END], [3, 6]), VOCABULARY, budgets);
    expect(parsed).toEqual({ thinkTokens: 2, prediction: bytes(' caté'), answerStart: 3, answerEnd: 5 });
  });

  test('each reason a response cannot be parsed', () => {
    const reason = (tokens: number[], phaseEnds: number[]) => parseResponse(generation(tokens, phaseEnds), VOCABULARY, budgets).unparseable;
    expect(reason([X, X, X, X], [4])).toBe('thought_unclosed');
    expect(reason([X, THINK_CLOSE, CAT, CAT, X], [2, 5])).toBe('answer_unended');
    expect(reason([THINK_CLOSE, END], [1, 2])).toBe('answer_empty');
    expect(reason([THINK_CLOSE, ANSWER, END], [1, 3])).toBe('answer_has_marker');
    expect(reason([THINK_CLOSE, CAT, THINK, END], [1, 4])).toBe('answer_has_marker');
    expect(parseResponse(generation([X, X, X, X], [4]), VOCABULARY, budgets).thinkTokens).toBe(4);
  });

  test('without a thought budget the whole response is the answer', () => {
    expect(parseResponse(generation([THE, CAT, END], [3]), VOCABULARY, { thinkTokens: 0, answerTokens: 2 })).toEqual({ thinkTokens: 0, prediction: bytes(' the cat'), answerStart: 0, answerEnd: 2 });
  });
});

describe('contexts', () => {
  // Two documents: [the cat é] and [x the cat é x].
  const split = { tokens: Int32Array.of(THE, CAT, E_ACUTE, X, THE, CAT, E_ACUTE, X), starts: Int32Array.of(0, 3, 8), ids: ['d0', 'd1'] };

  test('a kept (document, offset) is the document before the offset and the window after it, cut where the document ends', () => {
    const kept = Int32Array.of(0, 1, 1, 2);
    expect(keptContext(split, kept, 0, 2)).toEqual({ document: 0, offset: 1, context: Int32Array.of(THE), continuation: Int32Array.of(CAT, E_ACUTE) });
    expect(keptContext(split, kept, 1, 3)).toEqual({ document: 1, offset: 2, context: Int32Array.of(X, THE), continuation: Int32Array.of(CAT, E_ACUTE, X) });
    expect(keptContext(split, kept, 0, 3)).toEqual({ document: 0, offset: 1, context: Int32Array.of(THE), continuation: Int32Array.of(CAT, E_ACUTE) });
    expect(() => keptContext(split, Int32Array.of(0, 3), 0, 2)).toThrow(/position 3 of document 0 .* no token after it/);
  });

  test('the continuation as bytes with its token boundaries', () => {
    expect(tokensAsBytes(Int32Array.of(CAT, E_ACUTE, X), VOCABULARY)).toEqual({ bytes: bytes(' catéx'), boundaries: [4, 6, 7] });
  });
});

describe('sampled rollouts', () => {
  const backend = new CpuBackend();
  afterAll(() => backend.destroy());

  test('an unparseable response earns 0 and its reason is counted; every parsed one is scored', async () => {
    const config = modelConfig({ vocabSize: TOKENS.length, layers: 1, dim: 16, heads: 2, context: 16, tiedEmbeddings: true });
    const contexts = [{ document: 0, offset: 2, context: Int32Array.of(THE, CAT), continuation: Int32Array.of(CAT, E_ACUTE) }];
    const loop = localRptLoop({
      model: new Transformer(backend, config, initParams(config, 2)),
      reference: null,
      format: specialFormat(VOCABULARY),
      contexts: { count: 1, at: (index) => contexts[index] },
      policy: { think_tokens: 2, answer_tokens: 2, temperature: 1, top_p: 1, top_k: 0 },
      // dense pays every parsed answer more than 0: exp(its log-probability) when wrong
      reward: { kind: 'dense' },
      learner: {
        rollouts: 16, batch: 16, lr: 1e-3, betas: [0.9, 0.999], weight_decay: 0, clip_low: 0.2, clip_high: 0.2, kl: 0,
        loss: 'token_mean', advantage_std: true, dynamic_sampling_after: null, updates_per_batch: 1, steps: 1, grad_clip: 1, warmup: 0,
      },
      baseDir: '.',
      seed: 9,
      configVersion: 4,
    });
    const { metrics, trained } = await loop.takeStep();
    await loop.close();
    const rollouts = trained.flatMap((group) => group.rollouts);
    expect(rollouts.length).toBe(256);
    for (const rollout of rollouts) {
      if (rollout.parsed.unparseable !== undefined) expect(rollout.reward).toBe(0);
      else expect(rollout.reward).toBeGreaterThan(0);
    }
    for (const reason of UNPARSEABLE_REASONS) expect(metrics.unparseable[reason]).toBe(rollouts.filter((r) => r.parsed.unparseable === reason).length);
    // An untrained policy often fails to close its thought and sometimes answers; 256 rollouts
    // make "sometimes" hold for every seed tried (1-9), where 64 left it to the seed.
    expect(metrics.unparseable.thought_unclosed).toBeGreaterThan(0);
    expect(rollouts.some((r) => r.parsed.unparseable === undefined)).toBe(true);
    expect(trained.every((group) => group.weightVersion === 0 && group.configVersion === 4)).toBe(true);
    expect(metrics).toMatchObject({ step: 1, weight_version: 0, config_version: 4, groups_sampled: 16, groups_trained: 16, optimizer_steps: 1 });
    expect(metrics.mean_reward).toBeCloseTo(rollouts.reduce((total, r) => total + r.reward, 0) / 256, 12);
    expect(metrics.think_length).toBeLessThanOrEqual(3);
  });
});

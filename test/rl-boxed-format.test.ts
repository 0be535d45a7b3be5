// The paper's boxed response format: prompts through the chat template, the phases, parsing a
// generation into thought and prediction, and the truth it is compared with. Hand-written
// generations over the fixtures' tokenizers: the Qwen-style one has </think> as one token (two
// phases), the SmolLM2-style one has none (one phase, the thought read from the text).
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Generation } from '../src/model/generate.ts';
import { boxedFormat, lastBox, userTurn } from '../src/rl/boxed-format.ts';
import type { ResponseFormat } from '../src/rl/response-format.ts';
import { loadChatTemplate, type ChatTemplate } from '../src/tokenizer/chat-template.ts';
import { loadTokenizer } from '../src/tokenizer/tokenizer-json.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';

const FIXTURES = 'test/fixtures/tokenizers';
const BUDGETS = { thinkTokens: 16, answerTokens: 12 };

interface Setup {
  tokenizer: Tokenizer;
  template: ChatTemplate;
  format: ResponseFormat;
  end: number;
}

async function setup(name: string): Promise<Setup> {
  const tokenizer = await loadTokenizer(join(FIXTURES, name, 'tokenizer.json'), { forModel: true });
  const template = await loadChatTemplate(join(FIXTURES, name, 'tokenizer_config.json'));
  const end = tokenizer.specialTokens.get('<|im_end|>')!;
  return { tokenizer, template, format: boxedFormat(tokenizer, template, { instruction: 'Next:', thinking: true }, [end]), end };
}

let qwen: Setup, smol: Setup;
beforeAll(async () => {
  qwen = await setup('qwen-style');
  smol = await setup('smollm2-style');
});

/** A generation of `text` (its phase ends where the phases would end it). */
function generation(s: Setup, text: string, phaseEnds: number[] = []): Generation {
  return { tokens: Int32Array.from(s.tokenizer.encode(text)), phaseEnds, finish: 'stop' };
}

/** The two-phase generation: the thought up to </think>, then the answer. */
function twoPhases(s: Setup, thought: string, answer: string): Generation {
  const first = s.tokenizer.encode(thought);
  const tokens = [...first, ...s.tokenizer.encode(answer)];
  return { tokens: Int32Array.from(tokens), phaseEnds: [first.length, tokens.length], finish: 'stop' };
}

const text = (s: Setup, bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('the prompt', () => {
  test('is the chat template around the instruction and the context', () => {
    const context = Int32Array.from(qwen.tokenizer.encode('The cat sat on the'));
    const prompt = qwen.format.prompt(context, BUDGETS, 512);
    const expected = qwen.template.render([{ role: 'user', content: userTurn('Next:', 'The cat sat on the') }], { addGenerationPrompt: true, enableThinking: true });
    expect(qwen.tokenizer.decode(prompt)).toBe(expected);
    expect(expected).toContain('<|text_start|>The cat sat on the<|text_end|>');
  });

  test('keeps the most recent context that leaves room for the longest response', () => {
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
    const context = Int32Array.from(qwen.tokenizer.encode(words));
    const full = qwen.format.prompt(context, BUDGETS, 4096);
    const modelContext = full.length + BUDGETS.thinkTokens + BUDGETS.answerTokens + 1 - 40;
    const cut = qwen.format.prompt(context, BUDGETS, modelContext);
    expect(cut.length + BUDGETS.thinkTokens + BUDGETS.answerTokens + 1).toBeLessThanOrEqual(modelContext);
    const shown = qwen.tokenizer.decode(cut);
    expect(shown).toContain('w59<|text_end|>');
    expect(shown).not.toContain('w0 ');
  });

  test('a context too small for the template alone is an error that says so', () => {
    expect(() => qwen.format.prompt(Int32Array.of(1, 2, 3), BUDGETS, 40)).toThrow(/leaves no room for the chat template's \d+ prompt tokens/);
  });

  test('without a thought budget the template is told thinking is off', () => {
    const context = Int32Array.from(qwen.tokenizer.encode('a b'));
    const budgets = { thinkTokens: 0, answerTokens: 8 };
    const expected = qwen.template.render([{ role: 'user', content: userTurn('Next:', 'a b') }], { addGenerationPrompt: true, enableThinking: false });
    expect(qwen.tokenizer.decode(qwen.format.prompt(context, budgets, 512))).toBe(expected);
  });
});

describe('the phases', () => {
  test('a thought ended by the </think> token, then an answer ended by the end of the turn', () => {
    expect(qwen.format.phases(BUDGETS)).toEqual([
      { maxNewTokens: 17, stopTokens: [qwen.tokenizer.specialTokens.get('</think>')] },
      { maxNewTokens: 12, stopTokens: [qwen.end] },
    ]);
  });

  test('one phase of both budgets when the tokenizer has no </think> token, or there is no thought', () => {
    expect(smol.format.phases(BUDGETS)).toEqual([{ maxNewTokens: 28, stopTokens: [smol.end] }]);
    expect(qwen.format.phases({ thinkTokens: 0, answerTokens: 5 })).toEqual([{ maxNewTokens: 5, stopTokens: [qwen.end] }]);
  });
});

describe('parsing', () => {
  test('the last box after the thought is the prediction, trimmed; its tokens are the answer span', () => {
    const g = twoPhases(qwen, '<think>cats sit on mats</think>', '\n\nSo: \\boxed{ 12}<|im_end|>');
    const parsed = qwen.format.parse(g, BUDGETS);
    expect(parsed.unparseable).toBeUndefined();
    if (parsed.unparseable !== undefined) return;
    expect(text(qwen, parsed.prediction)).toBe('12');
    expect(parsed.thinkTokens).toBe(g.phaseEnds[0] - 1);
    expect(qwen.tokenizer.decode(g.tokens.subarray(parsed.answerStart, parsed.answerEnd)).trim()).toBe('12');
  });

  test('nested braces stay in the box; a later box wins; a box inside the thought does not count', () => {
    expect(lastBox('x \\boxed{a{b}c} y')).toEqual({ start: 9, end: 14 });
    const g = twoPhases(qwen, '<think>maybe \\boxed{no}</think>', '\\boxed{first} then \\boxed{f(x)={1}}<|im_end|>');
    const parsed = qwen.format.parse(g, BUDGETS);
    expect(parsed.unparseable === undefined && text(qwen, parsed.prediction)).toBe('f(x)={1}');
  });

  test('each way a response fails to parse, by its reason', () => {
    const reason = (g: Generation) => qwen.format.parse(g, BUDGETS).unparseable;
    expect(reason(generation(qwen, '<think>still thinking', [14]))).toBe('thought_unclosed');
    expect(reason(twoPhases(qwen, '<think>t</think>', '\\boxed{12} and more'))).toBe('answer_unended');
    expect(reason(twoPhases(qwen, '<think>t</think>', 'twelve<|im_end|>'))).toBe('answer_unboxed');
    expect(reason(twoPhases(qwen, '<think>t</think>', '\\boxed{12<|im_end|>'))).toBe('answer_unboxed');
    expect(reason(twoPhases(qwen, '<think>t</think>', '\\boxed{  }<|im_end|>'))).toBe('answer_empty');
    const unknown = twoPhases(qwen, '<think>t</think>', '\\boxed{1}<|im_end|>');
    unknown.tokens[1] = qwen.tokenizer.vocabSize; // a padded embedding's id, which no text has
    expect(reason(unknown)).toBe('unknown_token');
  });

  test('one phase: the thought is what comes before the box, or before the text </think>', () => {
    const plain = generation(smol, 'Let me think. \\boxed{cat}<|im_end|>');
    const parsed = smol.format.parse(plain, BUDGETS);
    expect(parsed.unparseable === undefined && text(smol, parsed.prediction)).toBe('cat');
    expect(smol.tokenizer.decode(plain.tokens.subarray(0, parsed.thinkTokens))).toBe('Let me think. ');
    const closed = generation(smol, 'hmm \\boxed{dog}</think> \\boxed{cat}<|im_end|>');
    const after = smol.format.parse(closed, BUDGETS);
    expect(after.unparseable === undefined && text(smol, after.prediction)).toBe('cat');
    const onlyBefore = generation(smol, 'hmm \\boxed{dog}</think> so<|im_end|>');
    expect(smol.format.parse(onlyBefore, BUDGETS).unparseable).toBe('answer_unboxed');
  });
});

test('the truth is the continuation without its leading whitespace, boundaries shifted', () => {
  const continuation = Int32Array.from(qwen.tokenizer.encode(' mat.'));
  const { bytes, boundaries } = qwen.format.truth(continuation);
  expect(new TextDecoder().decode(bytes)).toBe('mat.');
  const ends = qwen.tokenizer.byteLengths(continuation).reduce<number[]>((sums, n) => [...sums, (sums.at(-1) ?? 0) + n], []);
  expect(boundaries).toEqual(ends.map((end) => end - 1).filter((end) => end > 0));
  expect(qwen.format.truth(Int32Array.from(qwen.tokenizer.encode('  ')))).toEqual({ bytes: new Uint8Array(0), boundaries: [] });
});

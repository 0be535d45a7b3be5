// Pre-training's format warm-up: the data stage keeps the arithmetic corpus's worked traces as
// thoughts on the answers' tokens, and format windows are packed worked examples of the
// reasoning format whose loss covers exactly the responses.
import { afterAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { windowBatch, type WindowBatch } from '../src/stages/batching.ts';
import { FormatWindows } from '../src/stages/format-windows.ts';
import { loadSplit, loadThoughts, runDataStage, type SplitThought, type TokenizedSplit } from '../src/stages/token-data.ts';
import { runTokenizerStage } from '../src/stages/tokenizer.ts';
import { loadTokenizer } from '../src/tokenizer/tokenizer-json.ts';
import type { ReasoningVocabulary } from '../src/rl/prompt.ts';
import { temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

const TOKENS = ['a', 'b', 'c', 'd', 'e', 'x', 'y', '<think>', '</think>', '<answer>', '<end>'];
const [A, B, C, D, E, X, Y, THINK, THINK_CLOSE, ANSWER, END] = TOKENS.map((_, id) => id);
const VOCABULARY: ReasoningVocabulary = {
  specialIds: { '<think>': THINK, '</think>': THINK_CLOSE, '<answer>': ANSWER, '<end>': END },
  tokenBytes: (id) => new TextEncoder().encode(TOKENS[id]),
};
// Two documents, [a b c d] and [a b e]; the thought [x y] leads up to c d.
const SPLIT: TokenizedSplit = { tokens: Int32Array.of(A, B, C, D, A, B, E), starts: Int32Array.of(0, 4, 7), ids: ['d0', 'd1'] };
const THOUGHTS: SplitThought[] = [{ start: 2, end: 4, tokens: Int32Array.of(X, Y) }];
const DOCUMENTS = [[A, B, C, D], [A, B, E]];

/** A batch of 4 rows of 16 tokens whose first row holds plain tokens, the rest format windows of `step`. */
function formatBatch(step: number): WindowBatch {
  const batch = windowBatch({ width: 17, count: 1, tokens: new Int32Array(17).fill(A), lengths: Int32Array.of(17), positions: new Int32Array(17) }, [0, -1, -1, -1]);
  new FormatWindows(SPLIT, THOUGHTS, VOCABULARY, 16, 5).fill(batch, 1, step);
  return batch;
}

interface Example { document: number; offset: number; thought: number[]; answer: number[] }

/** The examples of row `b`, checking each against the format and the loss mask against its response. */
function examples(batch: WindowBatch, b: number): Example[] {
  const { T } = batch;
  const window = [batch.inputs[b * T], ...batch.targets.subarray(b * T, (b + 1) * T)];
  const mask = Array.from(batch.mask.subarray(b * T, (b + 1) * T));
  const found: Example[] = [];
  let at = 0;
  while (at < window.length && mask.slice(Math.max(0, at - 1)).some((m) => m === 1)) {
    expect(window[at]).toBe(END);
    const think = window.indexOf(THINK, at);
    const context = window.slice(at + 1, think);
    const document = DOCUMENTS.findIndex((tokens) => tokens.slice(0, context.length).join() === context.join());
    expect(document, `row ${b}: context ${context}`).toBeGreaterThanOrEqual(0);
    const close = window.indexOf(THINK_CLOSE, think);
    const end = window.indexOf(END, close);
    // Slot s targets window[s + 1]: the response (after <think>, to the closing <end>) is learned, nothing else.
    for (let slot = Math.max(0, at - 1); slot < end; slot++) expect(mask[slot], `row ${b} slot ${slot}`).toBe(slot >= think ? 1 : 0);
    found.push({ document, offset: context.length, thought: window.slice(think + 1, close), answer: window.slice(close + 1, end) });
    at = end + 1;
  }
  for (let slot = Math.max(0, at - 1); slot < T; slot++) expect(mask[slot]).toBe(0);
  return found;
}

describe('format windows', () => {
  test('worked examples of the format from train positions: the thought and the rest of its span inside one, one token with no thought elsewhere', () => {
    const batch = formatBatch(1);
    expect(Array.from(batch.inputs.subarray(0, 16))).toEqual(new Array(16).fill(A));
    expect(Array.from(batch.mask.subarray(0, 16))).toEqual(new Array(16).fill(1));
    const found = [1, 2, 3].flatMap((b) => examples(batch, b));
    expect(found.length).toBeGreaterThan(3); // packed several to a window where they fit
    for (const { document, offset, thought, answer } of found) {
      const inSpan = document === 0 && offset >= 2;
      expect(thought).toEqual(inSpan ? [X, Y] : []);
      expect(answer).toEqual(inSpan ? DOCUMENTS[0].slice(offset) : [DOCUMENTS[document][offset]]);
    }
  });

  test('depend on (seed, step) alone; about half of the examples are drawn from thought spans', () => {
    expect(formatBatch(3)).toEqual(formatBatch(3));
    expect(formatBatch(4).inputs).not.toEqual(formatBatch(3).inputs);
    let withThought = 0, all = 0;
    for (let step = 1; step <= 40; step++) {
      const batch = formatBatch(step);
      for (let b = 1; b < 4; b++) for (const example of examples(batch, b)) {
        all++;
        if (example.thought.length > 0) withThought++;
      }
    }
    // Half from spans, and a uniform draw lands in the span 2 times in 7: 0.64 expected.
    expect(withThought / all).toBeGreaterThan(0.5);
    expect(withThought / all).toBeLessThan(0.8);
  });
});

describe('thoughts in the tokenized corpus', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  test("an arithmetic problem's worked steps are a thought on exactly its answer's tokens", async () => {
    const temp = await temporaryDirectory();
    cleanups.push(temp.remove);
    const ir = tinyExperiment();
    const runDir = join(temp.dir, 'run');
    const tokenizerResult = await runTokenizerStage(ir, runDir, temp.dir);
    const data = await runDataStage(ir, runDir, temp.dir, tokenizerResult);
    const tokenizer = await loadTokenizer(tokenizerResult.path);
    const split = await loadSplit(data, 'train');
    const thoughts = await loadThoughts(data, 'train');
    expect(thoughts.length / split.ids.length).toBeGreaterThan(0.35);
    expect(thoughts.length / split.ids.length).toBeLessThan(0.65);
    let document = 0;
    for (const { start, end, tokens } of thoughts) {
      while (split.starts[document + 1] <= start) document++;
      const text = tokenizer.decode(split.tokens.subarray(split.starts[document], split.starts[document + 1]));
      const answer = text.slice(text.lastIndexOf('=') + 1);
      expect(end, text).toBe(split.starts[document + 1]);
      expect(tokenizer.decode(split.tokens.subarray(start, end)), text).toBe(answer);
      expect(tokenizer.decode(tokens).split('=').at(-1), text).toBe(answer);
    }
  });
});

import { reasoningExample, type ReasoningVocabulary } from '../rl/prompt.ts';
import { hashString } from '../util/hash.ts';
import { Random } from '../util/random.ts';
import type { WindowBatch } from './batching.ts';
import type { SplitThought, TokenizedSplit } from './token-data.ts';

// Pre-training's format warm-up. RPT samples `[<end>] context <think> thought </think> prediction
// <end>` after arbitrary contexts; a model pre-trained on plain text has never seen that, so
// nearly every rollout would be unparseable and every GRPO group all zeros. The paper starts from
// a reasoning model instead (R1-Distill); here a share of each pre-training batch are windows of
// worked examples of the format, built from train positions (src/rl/prompt.ts reasoningExample):
//
//   [<end>] x_<t <think> thought </think> x_t .. x_{t+k-1} <end>
//
// - at a position inside a document thought's span (an arithmetic answer), the thought is the
//   worked trace and the answer the rest of the span;
// - anywhere else the thought is empty and the answer one token.
// Half the examples are drawn from thought spans (while the corpus has any), the rest uniformly
// from all train positions, so that worked traces are common enough to learn. Only the response
// (from after <think> to the closing <end>) is a target: the contexts are what plain windows
// teach. Examples are packed back to back while they fit a window, the rest is padding.
// Each step's examples depend only on (seed, step), as plain windows' order does.

/** Rows of a batch of `batch` windows that are format examples: the share, rounded. */
export function formatWindowRows(share: number, batch: number): number {
  return Math.round(share * batch);
}

export class FormatWindows {
  private readonly thoughtAt: Int32Array; // [tokens]: the thought whose span holds each position, or -1

  constructor(
    private readonly split: TokenizedSplit,
    private readonly thoughts: readonly SplitThought[],
    private readonly vocabulary: ReasoningVocabulary,
    private readonly context: number, // the model's context: windows of context + 1 tokens
    private readonly seed: number,
  ) {
    if (split.tokens.length === 0) throw new Error('there are no train positions to build format examples from');
    this.thoughtAt = new Int32Array(split.tokens.length).fill(-1);
    thoughts.forEach((thought, i) => this.thoughtAt.fill(i, thought.start, thought.end));
  }

  /** Fills rows [first, B) of `batch` with the format windows of optimizer step `step` (1-based). */
  fill(batch: WindowBatch, first: number, step: number): void {
    const { T } = batch;
    const end = this.vocabulary.specialIds['<end>'];
    const random = new Random(hashString(`format-windows/${step}`, this.seed));
    let example = this.example(random);
    for (let b = first; b < batch.B; b++) {
      // Token `slot` of the row's window (T + 1 wide) is the input of slot and the target of slot - 1.
      const put = (slot: number, token: number, learned: boolean): void => {
        if (slot < T) batch.inputs[b * T + slot] = token;
        if (slot > 0) {
          batch.targets[b * T + slot - 1] = token;
          batch.mask[b * T + slot - 1] = learned ? 1 : 0;
        }
      };
      let used = 0;
      while (used + example.tokens.length <= T + 1) {
        example.tokens.forEach((token, i) => put(used + i, token, i >= example.responseStart));
        used += example.tokens.length;
        example = this.example(random);
      }
      for (let slot = used; slot <= T; slot++) put(slot, end, false); // padding, as plain windows have it
    }
  }

  private example(random: Random): { tokens: Int32Array; responseStart: number } {
    const { split, thoughts } = this;
    const position = thoughts.length > 0 && random.float() < 0.5
      ? (({ start, end }) => random.int(start, end - 1))(thoughts[random.int(0, thoughts.length - 1)])
      : random.int(0, split.tokens.length - 1);
    const document = documentOf(split.starts, position);
    const thought = this.thoughtAt[position] >= 0 ? thoughts[this.thoughtAt[position]] : null;
    const context = split.tokens.subarray(split.starts[document], position);
    const answer = split.tokens.subarray(position, thought ? thought.end : position + 1);
    try {
      return reasoningExample(context, thought?.tokens ?? new Int32Array(0), answer, this.vocabulary, this.context);
    } catch (error) {
      throw new Error(`format warm-up: the example at train position ${position} (document ${split.ids[document]}) does not fit: ${(error as Error).message}`);
    }
  }
}

/** The document holding token index `position`: the last d with starts[d] <= position. */
function documentOf(starts: Int32Array, position: number): number {
  let low = 0, high = starts.length - 2;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle] <= position) low = middle;
    else high = middle - 1;
  }
  return low;
}

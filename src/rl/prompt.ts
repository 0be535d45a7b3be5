// The next-token reasoning format. The prompt is the context followed by <think>; the policy
// writes a thought closed by </think>, then its prediction closed by <end>:
//
//   [<end>] context <think> thought </think> prediction <end>
//   \______ prompt _______/ \__________ response ___________/
//
// The leading <end> marks the start of a document, as pre-training's windows do, and is there
// only when the whole document prefix fits. With a thought budget of 0 the prompt ends with
// <think></think> and only the answer is sampled. A model pre-trained from scratch learns the
// format from pre-training's format warm-up (src/stages/format-windows.ts), which writes its
// examples with reasoningExample below.

import type { Generation, GenerationPhase } from '../model/generate.ts';
import { concatBytes, type WithMarkers } from '../tokenizer/tokenizer.ts';

/** What the format needs of a tokenizer: its markers (see requireMarkers) and each token's bytes. */
export type ReasoningVocabulary = Pick<WithMarkers, 'specialIds' | 'tokenBytes'>;

export interface ResponseBudgets {
  thinkTokens: number; // thought tokens before </think>; 0 = no thought
  answerTokens: number; // answer tokens before <end>
}

export type UnparseableReason =
  | 'thought_unclosed' // the thought budget ran out before </think>
  | 'answer_unended' // the answer budget ran out before <end> (the end of the turn, in the boxed format)
  | 'answer_empty'
  | 'answer_has_marker' // a special token inside the answer
  | 'answer_unboxed' // the boxed format: no \boxed{...} after the thought
  | 'unknown_token'; // an id the model's embedding has but its tokenizer does not (a padded vocabulary)

export const UNPARSEABLE_REASONS: readonly UnparseableReason[] = ['thought_unclosed', 'answer_unended', 'answer_empty', 'answer_has_marker', 'answer_unboxed', 'unknown_token'];

export type ParsedResponse =
  | { thinkTokens: number; prediction: Uint8Array; answerStart: number; answerEnd: number; unparseable?: undefined }
  | { thinkTokens: number; unparseable: UnparseableReason };

/** The prompt tokens, keeping the most recent context tokens that leave room for the response. */
export function buildPrompt(context: Int32Array, vocabulary: ReasoningVocabulary, budgets: ResponseBudgets, modelContext: number): Int32Array {
  const { specialIds } = vocabulary;
  const markers = budgets.thinkTokens > 0 ? [specialIds['<think>']] : [specialIds['<think>'], specialIds['</think>']];
  const room = modelContext - responseLength(budgets) - markers.length;
  if (room < 1) throw new Error(`a model context of ${modelContext} tokens leaves no room for a prompt beside thought and answer budgets of ${budgets.thinkTokens} and ${budgets.answerTokens}`);
  const kept = context.length < room ? [specialIds['<end>'], ...context] : context.subarray(context.length - room);
  return Int32Array.from([...kept, ...markers]);
}

/**
 * A worked example of the format, to teach it: the prompt buildPrompt makes for `context` when
 * the budgets are exactly this thought and answer, then the thought, </think>, the answer and
 * <end>; at most `modelContext` tokens. The response, what a model learns to write, starts right
 * after <think>: an empty thought's </think> belongs to it too.
 */
export function reasoningExample(context: Int32Array, thought: Int32Array, answer: Int32Array, vocabulary: ReasoningVocabulary, modelContext: number): { tokens: Int32Array; responseStart: number } {
  const { specialIds } = vocabulary;
  const prompt = buildPrompt(context, vocabulary, { thinkTokens: thought.length, answerTokens: answer.length }, modelContext);
  if (thought.length === 0) return { tokens: Int32Array.from([...prompt, ...answer, specialIds['<end>']]), responseStart: prompt.length - 1 };
  return { tokens: Int32Array.from([...prompt, ...thought, specialIds['</think>'], ...answer, specialIds['<end>']]), responseStart: prompt.length };
}

/** The generation phases of a response: the thought (when budgeted), then the answer. */
export function responsePhases(vocabulary: ReasoningVocabulary, budgets: ResponseBudgets): GenerationPhase[] {
  const { specialIds } = vocabulary;
  const answer = { maxNewTokens: budgets.answerTokens + 1, stopTokens: [specialIds['<end>']] };
  return budgets.thinkTokens > 0 ? [{ maxNewTokens: budgets.thinkTokens + 1, stopTokens: [specialIds['</think>']] }, answer] : [answer];
}

/** The longest response: every budgeted token and the markers that close the phases. */
export function responseLength(budgets: ResponseBudgets): number {
  return (budgets.thinkTokens > 0 ? budgets.thinkTokens + 1 : 0) + budgets.answerTokens + 1;
}

/** Splits a generated response into thought and prediction, or says why it cannot be parsed. */
export function parseResponse(generation: Generation, vocabulary: ReasoningVocabulary, budgets: ResponseBudgets): ParsedResponse {
  const { tokens, phaseEnds } = generation;
  const { specialIds } = vocabulary;
  let answerStart = 0, thinkTokens = 0;
  if (budgets.thinkTokens > 0) {
    const thoughtEnd = phaseEnds[0] ?? tokens.length;
    if (tokens[thoughtEnd - 1] !== specialIds['</think>']) return { thinkTokens: thoughtEnd, unparseable: 'thought_unclosed' };
    thinkTokens = thoughtEnd - 1;
    answerStart = thoughtEnd;
  }
  if (tokens[tokens.length - 1] !== specialIds['<end>']) return { thinkTokens, unparseable: 'answer_unended' };
  const answerEnd = tokens.length - 1;
  if (answerEnd === answerStart) return { thinkTokens, unparseable: 'answer_empty' };
  const markers = new Set(Object.values(specialIds));
  const parts: Uint8Array[] = [];
  for (let i = answerStart; i < answerEnd; i++) {
    if (markers.has(tokens[i])) return { thinkTokens, unparseable: 'answer_has_marker' };
    parts.push(vocabulary.tokenBytes(tokens[i]));
  }
  return { thinkTokens, prediction: concatBytes(parts), answerStart, answerEnd };
}

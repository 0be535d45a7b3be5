// The paper's response format, for a pretrained model with a chat template. The user's turn holds
// the instruction and the context between <|text_start|> and <|text_end|>; the template opens the
// assistant's turn; the model reasons, ends its thought (with </think> where the model writes
// one), and puts its prediction in \boxed{...}, then ends the turn:
//
//   <template> instruction <|text_start|> context <|text_end|> <template: assistant>
//   thought [</think>] ... \boxed{prediction} ... <end of turn>
//
// When the tokenizer has </think> as one token (Qwen3, DeepSeek-R1's distillations) the thought is
// a phase of its own with the thought budget, and the answer one with the answer budget; otherwise
// the response is one phase of both budgets, and the thought is whatever precedes the box (or the
// text `</think>`, when the model writes it). The prediction is the last box's content after the
// thought, trimmed: a box cannot show a leading space, so the truth it is compared with is the
// continuation without its leading whitespace.

import type { ChatTemplate } from '../tokenizer/chat-template.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { tokensAsBytes, type BytesWithBoundaries } from './context.ts';
import type { ParsedResponse, ResponseBudgets } from './prompt.ts';
import type { ResponseFormat } from './response-format.ts';

export interface BoxedSettings {
  instruction: string;
  thinking: boolean; // the chat template's enable_thinking, when the thought budget is not 0
}

const THINK_CLOSE = '</think>';
const BOX_OPEN = '\\boxed{';

/** The user's turn for a context. */
export function userTurn(instruction: string, context: string): string {
  return `${instruction}\n\n<|text_start|>${context}<|text_end|>`;
}

export function boxedFormat(tokenizer: Tokenizer, template: ChatTemplate, settings: BoxedSettings, endIds: readonly number[]): ResponseFormat {
  const thinkClose = tokenizer.specialTokens.get(THINK_CLOSE);
  const thinking = (budgets: ResponseBudgets): boolean => settings.thinking && budgets.thinkTokens > 0;
  const thoughtPhase = (budgets: ResponseBudgets): boolean => thinking(budgets) && thinkClose !== undefined;
  const responseLength = (budgets: ResponseBudgets): number => budgets.thinkTokens + budgets.answerTokens + (thoughtPhase(budgets) ? 1 : 0);
  const encodeTurn = (context: string, budgets: ResponseBudgets): number[] =>
    tokenizer.encode(template.render([{ role: 'user', content: userTurn(settings.instruction, context) }], { addGenerationPrompt: true, enableThinking: thinking(budgets) }));

  return {
    prompt(context, budgets, modelContext) {
      const room = modelContext - responseLength(budgets);
      // The context is text again inside the turn, re-encoded; cut from its start until the whole fits.
      let keep = context.length;
      for (;;) {
        const ids = encodeTurn(tokenizer.decode(context.subarray(context.length - keep)), budgets);
        if (ids.length <= room) return Int32Array.from(ids);
        if (keep === 0) {
          throw new Error(`a model context of ${modelContext} tokens leaves no room for the chat template's ${ids.length} prompt tokens beside a response of up to ${responseLength(budgets)}`);
        }
        keep = Math.max(0, keep - (ids.length - room));
      }
    },

    phases(budgets) {
      const stopTokens = [...endIds];
      if (thoughtPhase(budgets)) return [{ maxNewTokens: budgets.thinkTokens + 1, stopTokens: [thinkClose!] }, { maxNewTokens: budgets.answerTokens, stopTokens }];
      return [{ maxNewTokens: budgets.thinkTokens + budgets.answerTokens, stopTokens }];
    },

    parse(generation, budgets): ParsedResponse {
      const { tokens, phaseEnds } = generation;
      if (tokens.some((id) => id >= tokenizer.vocabSize)) return { thinkTokens: 0, unparseable: 'unknown_token' };
      const ends = prefixSums(tokenizer.byteLengths(tokens)); // ends[i]: bytes up to the end of token i
      const tokenAt = (byte: number): number => ends.findIndex((end) => end > byte); // the token holding byte `byte`
      const bytes = tokenizer.decodeBytes(tokens);
      let answerStart = 0;
      if (thoughtPhase(budgets)) {
        const thoughtEnd = phaseEnds[0] ?? tokens.length;
        if (tokens[thoughtEnd - 1] !== thinkClose) return { thinkTokens: thoughtEnd, unparseable: 'thought_unclosed' };
        answerStart = thoughtEnd;
      } else {
        const close = lastIndexOf(bytes, new TextEncoder().encode(THINK_CLOSE));
        if (close >= 0) answerStart = tokenAt(close + THINK_CLOSE.length - 1) + 1;
      }
      if (!endIds.includes(tokens[tokens.length - 1])) return { thinkTokens: answerStart, unparseable: 'answer_unended' };
      const answerEnd = tokens.length - 1;
      const answerOffset = answerStart === 0 ? 0 : ends[answerStart - 1];
      const text = new TextDecoder().decode(bytes.subarray(answerOffset, answerEnd === 0 ? 0 : ends[answerEnd - 1]));
      const box = lastBox(text);
      if (box === undefined) return { thinkTokens: answerStart, unparseable: 'answer_unboxed' };
      const content = text.slice(box.start, box.end);
      const prediction = content.trim();
      if (prediction === '') return { thinkTokens: answerStart, unparseable: 'answer_empty' };
      // The tokens that hold the prediction's bytes: their log-probabilities are the guess's (the dense reward).
      const byteOffset = (chars: number): number => answerOffset + new TextEncoder().encode(text.slice(0, chars)).length;
      const first = byteOffset(box.start + content.length - content.trimStart().length);
      const last = byteOffset(box.start + content.trimEnd().length) - 1;
      const thinkTokens = thoughtPhase(budgets) ? answerStart - 1 : tokenAt(byteOffset(box.start - BOX_OPEN.length));
      return { thinkTokens, prediction: new TextEncoder().encode(prediction), answerStart: tokenAt(first), answerEnd: tokenAt(last) + 1 };
    },

    bytes: (tokens) => tokensAsBytes(tokens, tokenizer),

    truth(continuation): BytesWithBoundaries {
      const { bytes, boundaries } = tokensAsBytes(continuation, tokenizer);
      let skip = 0;
      while (skip < bytes.length && isWhitespace(bytes[skip])) skip++;
      return { bytes: bytes.subarray(skip), boundaries: boundaries.map((end) => end - skip).filter((end) => end > 0) };
    },
  };
}

/** The character span of the last \boxed{...}'s content, braces inside it balanced; undefined when there is none or it is not closed. */
export function lastBox(text: string): { start: number; end: number } | undefined {
  const open = text.lastIndexOf(BOX_OPEN);
  if (open < 0) return undefined;
  const start = open + BOX_OPEN.length;
  let depth = 1;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return { start, end: i };
  }
  return undefined;
}

function prefixSums(lengths: number[]): number[] {
  let total = 0;
  return lengths.map((length) => (total += length));
}

function lastIndexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = haystack.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

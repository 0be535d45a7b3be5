// The project's special-token format (prompt.ts) as a ResponseFormat.

import { tokensAsBytes } from './context.ts';
import { buildPrompt, parseResponse, responsePhases, type ReasoningVocabulary } from './prompt.ts';
import type { ResponseFormat } from './response-format.ts';

export function specialFormat(vocabulary: ReasoningVocabulary): ResponseFormat {
  return {
    prompt: (context, budgets, modelContext) => buildPrompt(context, vocabulary, budgets, modelContext),
    phases: (budgets) => responsePhases(vocabulary, budgets),
    parse: (generation, budgets) => parseResponse(generation, vocabulary, budgets),
    bytes: (tokens) => tokensAsBytes(tokens, vocabulary),
    truth: (continuation) => tokensAsBytes(continuation, vocabulary),
  };
}

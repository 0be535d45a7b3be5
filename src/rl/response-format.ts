// How a response is laid out and read back: the prompt built around a context, the phases the
// policy generates in, how a generation splits into thought and prediction, and what the
// prediction is compared with. Two formats (dsl: `policy { format ... }`):
// - special (special-format.ts): the project's marker tokens, for models trained here;
// - boxed (boxed-format.ts): the paper's, through a Hugging Face model's chat template.
// A FormatSpec is the plain-JSON description a worker thread builds the same format from.

import type { ResponseFormatIR } from '../../dsl/ir.ts';
import type { Generation, GenerationPhase } from '../model/generate.ts';
import { readHfFolder } from '../hf/folder.ts';
import { loadChatTemplate } from '../tokenizer/chat-template.ts';
import { loadTokenizer } from '../tokenizer/tokenizer-json.ts';
import { requireMarkers } from '../tokenizer/tokenizer.ts';
import { join } from 'node:path';
import { boxedFormat } from './boxed-format.ts';
import type { BytesWithBoundaries } from './context.ts';
import type { ParsedResponse, ResponseBudgets } from './prompt.ts';
import { specialFormat } from './special-format.ts';

export interface ResponseFormat {
  /** The prompt tokens for `context`, keeping its most recent tokens that leave room, within `modelContext`, for the longest response. */
  prompt(context: Int32Array, budgets: ResponseBudgets, modelContext: number): Int32Array;
  /** The phases a response is generated in. */
  phases(budgets: ResponseBudgets): GenerationPhase[];
  /** The generation split into thought and prediction, or why it cannot be. */
  parse(generation: Generation, budgets: ResponseBudgets): ParsedResponse;
  /** Tokens as bytes with the boundary after each token (a context, as reward modules see it). */
  bytes(tokens: Int32Array): BytesWithBoundaries;
  /** The true continuation as a prediction in this format is compared with it. */
  truth(continuation: Int32Array): BytesWithBoundaries;
}

/** A format as plain JSON: what every thread that samples or evaluates builds it from. */
export type FormatSpec =
  | { kind: 'special'; tokenizerPath: string; pretrained: boolean }
  | { kind: 'boxed'; tokenizerPath: string; modelDir: string; instruction: string; thinking: boolean };

/** The spec of an experiment's format: `modelDir` is the folder of the Hugging Face model the policy starts from, when it does. */
export function formatSpec(format: ResponseFormatIR, tokenizer: { path: string; pretrained: boolean }, modelDir: string | undefined): FormatSpec {
  if (format.kind === 'special') return { kind: 'special', tokenizerPath: tokenizer.path, pretrained: tokenizer.pretrained };
  if (modelDir === undefined) throw new Error('format boxed needs the chat template of a Hugging Face model, and the policy does not start from one');
  return { kind: 'boxed', tokenizerPath: tokenizer.path, modelDir, instruction: format.instruction, thinking: format.thinking };
}

export async function loadResponseFormat(spec: FormatSpec): Promise<ResponseFormat> {
  if (spec.kind === 'special') {
    const tokenizer = await loadTokenizer(spec.tokenizerPath, { forModel: spec.pretrained });
    return specialFormat(requireMarkers(tokenizer, spec.tokenizerPath));
  }
  const tokenizer = await loadTokenizer(spec.tokenizerPath, { forModel: true });
  const folder = readHfFolder(spec.modelDir);
  const template = await loadChatTemplate(join(spec.modelDir, 'tokenizer_config.json'));
  // The turn ends at any id the folder calls end-of-sequence, and at the template's eos token.
  const endIds = new Set(folder.generation.eosTokenIds);
  const eos = folder.tokenizer.eosToken === undefined ? undefined : tokenizer.specialTokens.get(folder.tokenizer.eosToken);
  if (eos !== undefined) endIds.add(eos);
  if (endIds.size === 0) throw new Error(`${spec.modelDir}: no end-of-sequence token (eos_token_id in config.json or generation_config.json, eos_token in tokenizer_config.json), so a response could never end`);
  return boxedFormat(tokenizer, template, { instruction: spec.instruction, thinking: spec.thinking }, [...endIds]);
}

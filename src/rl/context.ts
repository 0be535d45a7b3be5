// The contexts RPT trains on: the filter stage's kept train positions, each a document prefix
// with the true continuation that follows it.

import type { TokenizedSplit } from '../stages/token-data.ts';
import { concatBytes, type Tokenizer } from '../tokenizer/tokenizer.ts';

export interface RptContext {
  document: number; // index into the split's documents
  offset: number; // the position predicted: the context is the document's tokens before it
  context: Int32Array;
  // The ground truth the reward checks: the next window of tokens, or fewer where the document
  // ends first, so that a document's last tokens (an arithmetic problem's answer) are positions too.
  continuation: Int32Array;
}

/** Tokens as the rewards see them: their bytes, and the byte offsets at which each token ends. */
export interface BytesWithBoundaries {
  bytes: Uint8Array;
  boundaries: number[]; // cumulative byte lengths of the tokens
}

/** The context of kept position `index`, for kept (document, offset) pairs from the filter stage. */
export function keptContext(split: TokenizedSplit, kept: Int32Array, index: number, windowTokens: number): RptContext {
  return positionContext(split, kept[2 * index], kept[2 * index + 1], windowTokens);
}

/** The context that predicts token `offset` of a document of the split, with the window after it. */
export function positionContext(split: TokenizedSplit, document: number, offset: number, windowTokens: number): RptContext {
  const start = split.starts[document], end = split.starts[document + 1];
  if (offset >= end - start) throw new Error(`position ${offset} of document ${document} (${end - start} tokens) has no token after it`);
  return {
    document,
    offset,
    context: split.tokens.subarray(start, start + offset),
    continuation: split.tokens.subarray(start + offset, Math.min(end, start + offset + windowTokens)),
  };
}

/** The bytes of a run of tokens, with the byte offset at which each token ends. */
export function tokensAsBytes(tokens: Int32Array, vocabulary: Pick<Tokenizer, 'tokenBytes'>): BytesWithBoundaries {
  const parts = Array.from(tokens, (id) => vocabulary.tokenBytes(id));
  const boundaries: number[] = [];
  let length = 0;
  for (const part of parts) boundaries.push((length += part.length));
  return { bytes: concatBytes(parts), boundaries };
}

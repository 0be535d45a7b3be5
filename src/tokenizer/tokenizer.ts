import { SPECIAL_TOKENS, type SpecialToken } from './special-tokens.ts';

// What the project needs of a tokenizer: ids for text, and the exact bytes of every id, whose
// running sums are the token boundaries the prefix-matching reward checks. Two kinds implement
// it: BpeTokenizer (the project's own encoder) and HfTokenizer (@huggingface/tokenizers, for
// pretrained models' tokenizer.json files the project's encoder does not handle).

export type ReasoningMarkers = Readonly<Record<SpecialToken, number>>;

export interface Tokenizer {
  readonly vocabSize: number; // ids are below this
  readonly specialTokens: ReadonlyMap<string, number>; // every token matched whole in the text
  // The reasoning format's markers, when the tokenizer holds all four; a pretrained model's
  // tokenizer usually lacks them and never gains them (its embedding has a fixed size).
  readonly specialIds: ReasoningMarkers | undefined;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
  tokenBytes(id: number): Uint8Array;
  byteLengths(ids: ArrayLike<number>): number[];
}

/** What both kinds share: text and byte lengths follow from each token's bytes. */
export abstract class ByteTokenizer {
  abstract tokenBytes(id: number): Uint8Array;

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < ids.length; i++) parts.push(this.tokenBytes(ids[i]));
    return concatBytes(parts);
  }

  // Lossy only where `ids` cut a character's bytes apart (U+FFFD stands in); a leading byte
  // order mark is text like any other.
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  // Byte length of each token: their running sums are the token boundaries a reward checks.
  byteLengths(ids: ArrayLike<number>): number[] {
    const lengths: number[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) lengths[i] = this.tokenBytes(ids[i]).length;
    return lengths;
  }
}

export type WithMarkers<T extends Tokenizer = Tokenizer> = T & { readonly specialIds: ReasoningMarkers };

// For the users of the project's special-token format: `source` names the tokenizer file.
export function requireMarkers<T extends Tokenizer>(tokenizer: T, source: string): WithMarkers<T> {
  if (tokenizer.specialIds === undefined) {
    throw new Error(
      `${source}: the tokenizer lacks the reasoning format's special tokens <think>, </think>, <answer>, <end>, which the project's special-token response format needs; a pretrained model's vocabulary cannot grow, so its prompts go through its chat template`,
    );
  }
  return tokenizer as WithMarkers<T>;
}

// The markers among a tokenizer's special tokens, when all four are there.
export function markersOf(specialTokens: ReadonlyMap<string, number>): ReasoningMarkers | undefined {
  const ids: Partial<Record<SpecialToken, number>> = {};
  for (const token of SPECIAL_TOKENS) ids[token] = specialTokens.get(token);
  return SPECIAL_TOKENS.every((token) => ids[token] !== undefined) ? (ids as ReasoningMarkers) : undefined;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

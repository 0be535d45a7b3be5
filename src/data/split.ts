import { hashString } from '../util/hash.ts';
import type { Document } from './document.ts';

export type SplitPart = 'train' | 'holdout';

// A document is held out when the seeded hash of its id falls below the holdout fraction, so
// its side never changes when other documents are added or removed.
export function isHoldout(id: string, seed: number, holdoutFraction: number): boolean {
  if (!(holdoutFraction >= 0 && holdoutFraction <= 1)) {
    throw new Error(`holdout fraction must be in [0, 1], got ${holdoutFraction}`);
  }
  return hashString(id, seed) / 4294967296 < holdoutFraction;
}

export async function* splitDocuments(
  documents: AsyncIterable<Document>,
  part: SplitPart,
  seed: number,
  holdoutFraction: number,
): AsyncGenerator<Document> {
  for await (const document of documents) {
    if (isHoldout(document.id, seed, holdoutFraction) === (part === 'holdout')) yield document;
  }
}

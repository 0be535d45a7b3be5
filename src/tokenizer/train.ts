import type { Document } from '../data/document.ts';
import { BpeTokenizer, MAX_VOCAB, pairKey } from './bpe-tokenizer.ts';
import { pretokenize, specialTokenPattern } from './byte-level.ts';
import { SPECIAL_TOKENS } from './special-tokens.ts';
import { concatBytes, type WithMarkers } from './tokenizer.ts';

// Byte-level BPE training. Ids: 0..255 the bytes, then the special tokens, then one id per merge
// until the vocabulary has exactly `vocabSize` tokens. Pairs are counted over unique pre-tokens
// weighted by their frequency; after each merge only the words holding the merged pair are
// revisited, so the whole Brown corpus trains in seconds.

export const FIRST_MERGE_ID = 256 + SPECIAL_TOKENS.length;

export async function trainBpe(documents: AsyncIterable<Document>, vocabSize: number): Promise<WithMarkers<BpeTokenizer>> {
  if (!Number.isInteger(vocabSize) || vocabSize < FIRST_MERGE_ID || vocabSize > MAX_VOCAB) {
    throw new Error(`vocabulary size must be an integer in ${FIRST_MERGE_ID}..${MAX_VOCAB} (256 bytes + ${SPECIAL_TOKENS.length} special tokens + merges), got ${vocabSize}`);
  }
  const wordCounts = await countPretokens(documents);
  const encoder = new TextEncoder();
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of wordCounts) {
    words.push(Array.from(encoder.encode(word)));
    counts.push(count);
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>(); // words where the pair occurs (or once did)
  const addPair = (key: number, delta: number, word: number): void => {
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta);
    if (delta > 0) {
      let holders = pairWords.get(key);
      if (!holders) pairWords.set(key, (holders = new Set()));
      holders.add(word);
    }
  };
  words.forEach((symbols, word) => {
    for (let i = 0; i + 1 < symbols.length; i++) addPair(pairKey(symbols[i], symbols[i + 1]), counts[word], word);
  });
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(key, count);

  const tokens: Uint8Array[] = [];
  for (let byte = 0; byte < 256; byte++) tokens.push(Uint8Array.of(byte));
  const specialTokens = new Map<string, number>();
  for (const token of SPECIAL_TOKENS) {
    specialTokens.set(token, tokens.length);
    tokens.push(encoder.encode(token));
  }
  const merges: [number, number][] = [];
  while (tokens.length < vocabSize) {
    const best = heap.pop();
    if (best === null) {
      throw new Error(`the training text yields only ${merges.length} merges; a vocabulary of ${vocabSize} needs ${vocabSize - FIRST_MERGE_ID}`);
    }
    // Counts only fall after they enter the heap: a stale entry goes back with its current count.
    const current = pairCounts.get(best.key) ?? 0;
    if (current !== best.count) {
      if (current > 0) heap.push(best.key, current);
      continue;
    }
    const left = Math.floor(best.key / MAX_VOCAB);
    const right = best.key % MAX_VOCAB;
    const merged = tokens.length;
    tokens.push(concatBytes([tokens[left], tokens[right]]));
    merges.push([left, right]);

    const changed = new Set<number>();
    for (const word of pairWords.get(best.key)!) mergeWord(words, counts, word, left, right, merged, addPair, changed);
    pairWords.delete(best.key);
    for (const key of changed) {
      const count = pairCounts.get(key)!;
      if (count > 0) heap.push(key, count);
    }
  }
  return new BpeTokenizer(tokens, merges, specialTokens) as WithMarkers<BpeTokenizer>; // every marker is one of specialTokens
}

async function countPretokens(documents: AsyncIterable<Document>): Promise<Map<string, number>> {
  const specialPattern = specialTokenPattern(SPECIAL_TOKENS);
  const counts = new Map<string, number>();
  for await (const document of documents) {
    const sections = document.text.split(specialPattern);
    for (let i = 0; i < sections.length; i += 2) {
      for (const pretoken of pretokenize(sections[i])) counts.set(pretoken, (counts.get(pretoken) ?? 0) + 1);
    }
  }
  return counts;
}

// Rewrites one word with every left-to-right occurrence of (left, right) merged, updating the
// pair counts by the pairs that vanish and appear around each occurrence. New pairs (all hold
// `merged`) are recorded in `changed` for the heap.
function mergeWord(
  words: number[][],
  counts: number[],
  word: number,
  left: number,
  right: number,
  merged: number,
  addPair: (key: number, delta: number, word: number) => void,
  changed: Set<number>,
): void {
  const symbols = words[word];
  const count = counts[word];
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 >= symbols.length || symbols[i] !== left || symbols[i + 1] !== right) {
      out.push(symbols[i]);
      continue;
    }
    addPair(pairKey(left, right), -count, word);
    if (out.length > 0) {
      const previous = out[out.length - 1];
      addPair(pairKey(previous, left), -count, word);
      addPair(pairKey(previous, merged), count, word);
      changed.add(pairKey(previous, merged));
    }
    if (i + 2 < symbols.length) {
      const next = symbols[i + 2];
      addPair(pairKey(right, next), -count, word);
      addPair(pairKey(merged, next), count, word);
      changed.add(pairKey(merged, next));
    }
    out.push(merged);
    i++;
  }
  words[word] = out;
}

// Max-heap of (count, pair key); equal counts pop the smaller key first, so training is
// deterministic whatever order the words were seen in.
class PairHeap {
  private keys: number[] = [];
  private counts: number[] = [];

  push(key: number, count: number): void {
    this.keys.push(key);
    this.counts.push(count);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { key: number; count: number } | null {
    if (this.keys.length === 0) return null;
    const top = { key: this.keys[0], count: this.counts[0] };
    const lastKey = this.keys.pop()!;
    const lastCount = this.counts.pop()!;
    if (this.keys.length > 0) {
      this.keys[0] = lastKey;
      this.counts[0] = lastCount;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.keys.length && this.before(l, best)) best = l;
        if (r < this.keys.length && this.before(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }

  private before(a: number, b: number): boolean {
    return this.counts[a] > this.counts[b] || (this.counts[a] === this.counts[b] && this.keys[a] < this.keys[b]);
  }

  private swap(a: number, b: number): void {
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
    [this.counts[a], this.counts[b]] = [this.counts[b], this.counts[a]];
  }
}

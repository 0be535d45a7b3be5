import { bytesToByteLevel, pretokenize, specialTokenPattern } from './byte-level.ts';
import { ByteTokenizer, concatBytes, markersOf, type ReasoningMarkers, type Tokenizer } from './tokenizer.ts';

// A byte-level BPE tokenizer: every id stands for a byte string; ordinary text is cut around
// special tokens, pre-tokenized, and each pre-token's bytes are merged in rank order. Encoding
// gives the same ids as `@huggingface/tokenizers` on the tokenizer.json this tokenizer saves.

// Pair keys pack two ids into one number; ids must stay below this bound.
export const MAX_VOCAB = 1 << 21;

const ENCODE_CACHE_LIMIT = 1 << 17;

export class BpeTokenizer extends ByteTokenizer implements Tokenizer {
  readonly tokens: readonly Uint8Array[]; // bytes of each id; a special token's are its UTF-8 text
  readonly merges: readonly (readonly [number, number])[]; // in rank order
  readonly specialTokens: ReadonlyMap<string, number>; // every token matched whole in the text
  readonly specialIds: ReasoningMarkers | undefined; // the reasoning format's markers, when all four are special tokens
  private readonly byteIds: Int32Array; // id of each single byte
  private readonly mergeRanks = new Map<number, number>(); // pair key -> rank
  private readonly mergeResults = new Map<number, number>(); // pair key -> merged id
  private readonly specialPattern: RegExp;
  private readonly cache = new Map<string, number[]>(); // pre-token -> ids
  private readonly encoder = new TextEncoder();

  constructor(tokens: Uint8Array[], merges: [number, number][], specialTokens: Map<string, number>) {
    super();
    if (tokens.length > MAX_VOCAB) throw new Error(`vocabulary of ${tokens.length} tokens exceeds the limit of ${MAX_VOCAB}`);
    this.tokens = tokens;
    this.merges = merges;
    this.specialTokens = specialTokens;
    this.specialIds = markersOf(specialTokens);
    this.specialPattern = specialTokenPattern(specialTokens.keys());

    const special = new Set(specialTokens.values());
    const idOfBytes = new Map<string, number>();
    tokens.forEach((bytes, id) => {
      const name = bytesToByteLevel(bytes);
      if (!special.has(id) && !idOfBytes.has(name)) idOfBytes.set(name, id);
    });
    this.byteIds = new Int32Array(256);
    for (let byte = 0; byte < 256; byte++) {
      const id = idOfBytes.get(bytesToByteLevel(Uint8Array.of(byte)));
      if (id === undefined) throw new Error(`vocabulary has no token for byte ${byte}: not a complete byte-level BPE`);
      this.byteIds[byte] = id;
    }
    merges.forEach(([left, right], rank) => {
      const merged = idOfBytes.get(bytesToByteLevel(concatBytes([tokens[left], tokens[right]])));
      if (merged === undefined) throw new Error(`merge ${rank} (${left} ${right}) yields no token of the vocabulary`);
      const key = pairKey(left, right);
      if (this.mergeRanks.has(key)) throw new Error(`merge ${rank} (${left} ${right}) repeats merge ${this.mergeRanks.get(key)}`);
      this.mergeRanks.set(key, rank);
      this.mergeResults.set(key, merged);
    });
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    const sections = text.split(this.specialPattern);
    // split() with one capture group alternates ordinary text and special tokens.
    for (let i = 0; i < sections.length; i++) {
      if (i % 2 === 1) ids.push(this.specialTokens.get(sections[i])!);
      else for (const pretoken of pretokenize(sections[i])) for (const id of this.encodePretoken(pretoken)) ids.push(id);
    }
    return ids;
  }




  tokenBytes(id: number): Uint8Array {
    const bytes = this.tokens[id];
    if (bytes === undefined) throw new Error(`token id ${id} is outside the vocabulary of ${this.tokens.length}`);
    return bytes;
  }

  private encodePretoken(pretoken: string): number[] {
    const cached = this.cache.get(pretoken);
    if (cached) return cached;
    const ids = this.merge(this.encoder.encode(pretoken));
    if (this.cache.size >= ENCODE_CACHE_LIMIT) this.cache.clear();
    this.cache.set(pretoken, ids);
    return ids;
  }

  // Apply the lowest-ranked merge present, at every place left to right, until none applies.
  private merge(bytes: Uint8Array): number[] {
    let symbols = Array.from(bytes, (byte) => this.byteIds[byte]);
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let bestKey = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = pairKey(symbols[i], symbols[i + 1]);
        const rank = this.mergeRanks.get(key);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestKey = key;
        }
      }
      if (bestKey < 0) break;
      const merged = this.mergeResults.get(bestKey)!;
      const next: number[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && pairKey(symbols[i], symbols[i + 1]) === bestKey) {
          next.push(merged);
          i++;
        } else next.push(symbols[i]);
      }
      symbols = next;
    }
    return symbols;
  }
}

export function pairKey(left: number, right: number): number {
  return left * MAX_VOCAB + right;
}

import { Tokenizer as LibraryTokenizer } from '@huggingface/tokenizers';
import { byteLevelToBytes, bytesToByteLevel } from './byte-level.ts';
import { ByteTokenizer, markersOf, type ReasoningMarkers, type Tokenizer } from './tokenizer.ts';

// A pretrained model's byte-level BPE tokenizer.json (SmolLM2, Qwen2/Qwen3, Llama 3, ...), encoded
// by @huggingface/tokenizers: normalizers, Split/Digits pre-tokenizers and ignore_merges are the
// library's to get right. The bytes of each id come from the file itself: a vocabulary entry's
// byte-level characters, an added token's UTF-8 content. With a normalizer (Qwen's NFC) the
// tokens' bytes are those of the normalized text.
//
// Encoding never adds the post-processor's tokens (a BOS before every document would be wrong
// for a corpus; a chat template writes its own), and no marker is ever appended: the
// vocabulary is the model's embedding and cannot grow.

type Json = Record<string, unknown>;

export class HfTokenizer extends ByteTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>; // every added token, matched whole in the text
  readonly specialIds: ReasoningMarkers | undefined;
  private readonly tokens: readonly (Uint8Array | undefined)[]; // bytes of each id; none for a gap in the ids
  private readonly library: LibraryTokenizer;
  private readonly source: string;

  // `source` names the file in errors.
  constructor(json: unknown, source: string) {
    super();
    const fail = (message: string): never => {
      throw new Error(`${source}: ${message}`);
    };
    const inexact = (message: string): never => fail(`${message}; only byte-level BPE tokenizers are supported, whose token bytes are exact`);
    const root = isObject(json) ? json : fail('not a JSON object');
    const model = isObject(root.model) ? root.model : fail('no "model" object');
    if (model.type !== 'BPE') inexact(`model type ${JSON.stringify(model.type)} is not BPE`);
    if (model.byte_fallback === true) inexact('the BPE model uses byte_fallback (SentencePiece style)');
    if (model.continuing_subword_prefix || model.end_of_word_suffix) inexact('the BPE model uses subword prefixes or suffixes');
    if (!isObject(root.decoder) || root.decoder.type !== 'ByteLevel') inexact(`decoder ${describe(root.decoder)} is not ByteLevel`);
    const byteLevel = byteLevelStep(root.pre_tokenizer) ?? inexact(`pre-tokenizer ${describe(root.pre_tokenizer)} has no ByteLevel step`);
    if (byteLevel.add_prefix_space === true) inexact('the ByteLevel pre-tokenizer adds a space the text does not hold (add_prefix_space)');

    const tokens: (Uint8Array | undefined)[] = [];
    const specialTokens = new Map<string, number>();
    const encoder = new TextEncoder();
    for (const token of Array.isArray(root.added_tokens) ? root.added_tokens : []) {
      if (!isObject(token) || typeof token.content !== 'string' || !isId(token.id)) fail(`added token ${JSON.stringify(token)} is malformed`);
      const { content, id } = token as { content: string; id: number };
      // The library strips the whitespace next to such a token, which no token's bytes would hold.
      if (token.lstrip === true || token.rstrip === true) inexact(`added token ${JSON.stringify(content)} strips whitespace (lstrip or rstrip)`);
      if (token.single_word === true) fail(`added token ${JSON.stringify(content)} is single_word, which @huggingface/tokenizers does not honour`);
      specialTokens.set(content, id);
      tokens[id] = encoder.encode(content);
    }
    const vocab = isObject(model.vocab) ? model.vocab : fail('model has no "vocab" object');
    for (const [name, id] of Object.entries(vocab)) {
      if (!isId(id)) fail(`vocab entry ${JSON.stringify(name)} has id ${JSON.stringify(id)}`);
      tokens[id as number] ??= byteLevelToBytes(name, source);
    }
    // Without a token for every byte, or with a merge whose result is missing, the library
    // silently drops text (there is no unknown token in byte-level BPE).
    for (let byte = 0; byte < 256; byte++) {
      if (!Object.hasOwn(vocab, bytesToByteLevel(Uint8Array.of(byte)))) inexact(`vocabulary has no token for byte ${byte}`);
    }
    const merges = Array.isArray(model.merges) ? model.merges : fail('model has no "merges" list');
    for (const [rank, merge] of merges.entries()) {
      const pair: unknown = typeof merge === 'string' ? merge.split(' ') : merge;
      if (!Array.isArray(pair) || pair.length !== 2 || !Object.hasOwn(vocab, `${pair[0]}${pair[1]}`)) {
        fail(`merge ${rank} ${JSON.stringify(merge)} does not yield a token of the vocabulary`);
      }
    }

    try {
      this.library = new LibraryTokenizer(root, {});
    } catch (error) {
      throw new Error(`${source}: @huggingface/tokenizers cannot load it (${(error as Error).message})`, { cause: error });
    }
    this.tokens = tokens;
    this.vocabSize = tokens.length;
    this.specialTokens = specialTokens;
    this.specialIds = markersOf(specialTokens);
    this.source = source;
  }

  encode(text: string): number[] {
    return this.library.encode(text, { add_special_tokens: false }).ids;
  }




  tokenBytes(id: number): Uint8Array {
    const bytes = this.tokens[id];
    if (bytes === undefined) throw new Error(`${this.source}: token id ${id} is not in the vocabulary of ${this.tokens.length}`);
    return bytes;
  }
}

function byteLevelStep(pre: unknown): Json | undefined {
  if (!isObject(pre)) return undefined;
  if (pre.type === 'ByteLevel') return pre;
  if (pre.type !== 'Sequence' || !Array.isArray(pre.pretokenizers)) return undefined;
  for (const step of pre.pretokenizers) {
    const found = byteLevelStep(step);
    if (found) return found;
  }
  return undefined;
}

function isId(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// A tokenizer.json component for errors: "Sequence[Split, ByteLevel]" for a Sequence, the type otherwise.
export function describe(value: unknown): string {
  if (!isObject(value)) return JSON.stringify(value ?? null);
  const parts = value.pretokenizers ?? value.decoders ?? value.normalizers;
  if (value.type === 'Sequence' && Array.isArray(parts)) return `Sequence[${parts.map(describe).join(', ')}]`;
  return typeof value.type === 'string' ? value.type : JSON.stringify(value);
}

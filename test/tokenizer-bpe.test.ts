import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ARITHMETIC, generateArithmetic } from '../src/data/arithmetic.ts';
import { readBrown } from '../src/data/brown.ts';
import type { Document } from '../src/data/document.ts';
import type { BpeTokenizer } from '../src/tokenizer/bpe-tokenizer.ts';
import { SPECIAL_TOKENS } from '../src/tokenizer/special-tokens.ts';
import { fromTokenizerJson, loadTokenizer, saveTokenizer, toTokenizerJson } from '../src/tokenizer/tokenizer-json.ts';
import { FIRST_MERGE_ID, trainBpe } from '../src/tokenizer/train.ts';
import { Random } from '../src/util/random.ts';

const VOCAB = 2000;

async function trainingDocuments(): Promise<Document[]> {
  const documents: Document[] = [];
  for await (const document of readBrown()) if (documents.length < 40) documents.push(document);
  for await (const document of generateArithmetic({ ...DEFAULT_ARITHMETIC, seed: 3, problems: 500 })) documents.push(document);
  return documents;
}

async function* stream(documents: Document[]): AsyncGenerator<Document> {
  yield* documents;
}

// Strings that stress pre-tokenization and byte handling: every script width, contractions,
// runs of odd whitespace, digits, special tokens, and arbitrary code points.
function randomText(random: Random): string {
  const pieces = [
    () => String.fromCharCode(random.int(0x20, 0x7e)),
    () => random.pick([' ', '  ', '\n', '\n\n', '\t', '\r\n', '\u00a0', '\u2028', '\u3000', '\ufeff', ' \n ']),
    () => random.pick(["'s", "'ll", "'re", "n't", "'D", '123', '4.5', '¾', '٣', '<think>', '</think>', '<answer>', '<end>', '<thi', 'nk>']),
    () => random.pick(['é', 'ß', 'Ω', 'Ж', '世界', 'ﬁ', 'e\u0301', '🎉', '👩‍👩‍👧', '𝔘', '\u0000', '\u007f']),
    () => String.fromCodePoint(random.int(0x80, 0xd7ff)),
    () => String.fromCodePoint(random.int(0xe000, 0x10ffff)),
    () => random.pick(['the', ' the', 'Fulton', ' jury', 'said', '=', '+', '*', '-']),
  ];
  let text = '';
  const length = random.int(0, 40);
  for (let i = 0; i < length; i++) text += random.pick(pieces)();
  return text;
}

function randomTexts(count: number): string[] {
  const random = new Random(9);
  return Array.from({ length: count }, () => randomText(random));
}

describe('byte-level BPE tokenizer', async () => {
  const documents = await trainingDocuments();
  const tokenizer = await trainBpe(stream(documents), VOCAB);
  const reference = new Tokenizer(toTokenizerJson(tokenizer), {});
  const utf8 = new TextEncoder();

  it('has exactly the vocabulary asked for: bytes, special tokens, merges', () => {
    expect(tokenizer.vocabSize).toBe(VOCAB);
    expect(tokenizer.merges.length).toBe(VOCAB - FIRST_MERGE_ID);
    expect(Object.values(tokenizer.specialIds)).toEqual([256, 257, 258, 259]);
    for (let byte = 0; byte < 256; byte++) expect(Array.from(tokenizer.tokenBytes(byte))).toEqual([byte]);
  });

  it('trains the same merges twice', async () => {
    expect((await trainBpe(stream(documents), VOCAB)).merges).toEqual(tokenizer.merges);
  });

  it('keeps each special token one token that no merge can produce', () => {
    for (const token of SPECIAL_TOKENS) expect(tokenizer.encode(token)).toEqual([tokenizer.specialIds[token]]);
    const text = new TextDecoder();
    for (let id = FIRST_MERGE_ID; id < VOCAB; id++) {
      for (const token of SPECIAL_TOKENS) expect(text.decode(tokenizer.tokenBytes(id))).not.toContain(token);
    }
    const ids = tokenizer.encode('Q: 2+3=<think>2+3=5</think><answer>5<end> and <thi nk>');
    expect(ids.filter((id) => id >= 256 && id < FIRST_MERGE_ID)).toEqual([256, 257, 258, 259]);
  });

  it('round-trips random Unicode exactly, with byte lengths that add up', () => {
    for (const text of randomTexts(3000)) {
      const ids = tokenizer.encode(text);
      const bytes = utf8.encode(text);
      expect(tokenizer.decode(ids)).toBe(text);
      expect(tokenizer.decodeBytes(ids)).toEqual(bytes);
      const lengths = tokenizer.byteLengths(ids);
      expect(lengths.every((length) => length > 0)).toBe(true);
      expect(lengths.reduce((sum, length) => sum + length, 0)).toBe(bytes.length);
    }
    // Unmerged, é is two one-byte tokens; a special token counts the bytes of its text.
    expect(tokenizer.byteLengths(tokenizer.encode('é<end>'))).toEqual([1, 1, 5]);
  });

  it('encodes to the same ids as @huggingface/tokenizers', () => {
    for (const text of randomTexts(3000)) expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(reference.encode(text).ids);
    for (const { id, text } of documents.slice(0, 12).concat(documents.slice(-20))) {
      const ids = tokenizer.encode(text);
      expect(ids, id).toEqual(reference.encode(text).ids);
      expect(reference.decode(ids, { clean_up_tokenization_spaces: false }), id).toBe(text);
    }
  });

  it('saves a tokenizer.json that loads back to the same tokenizer', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'rpt-tokenizer-')), 'tokenizer.json');
    await saveTokenizer(path, tokenizer);
    const loaded = await loadTokenizer(path);
    expect(loaded.tokens).toEqual(tokenizer.tokens);
    expect(loaded.merges).toEqual(tokenizer.merges);
    expect(loaded.specialIds).toEqual(tokenizer.specialIds);
    const fromFile = new Tokenizer(JSON.parse(await readFile(path, 'utf8')), {});
    for (const text of randomTexts(200)) expect(fromFile.encode(text).ids).toEqual(loaded.encode(text));
  });

  it('rejects a vocabulary too small for bytes and special tokens, or too large for the text', async () => {
    await expect(trainBpe(stream(documents), 259)).rejects.toThrow('vocabulary size must be an integer in 260..');
    await expect(trainBpe(stream([{ id: 'tiny', text: 'abab abab' }]), 300)).rejects.toThrow(
      'the training text yields only 3 merges; a vocabulary of 300 needs 40',
    );
  });
});

describe('loading tokenizer.json files', () => {
  const base = (tokenizer: BpeTokenizer) => toTokenizerJson(tokenizer) as Record<string, unknown>;

  it('appends missing special tokens after the last id of a foreign tokenizer', async () => {
    const tokenizer = await trainBpe(stream([{ id: 'a', text: 'hello hello world' }]), 265);
    const json = base(tokenizer);
    const model = json.model as { vocab: Record<string, number>; merges: string[] };
    // A GPT-2-like file: bytes and merges only, no added tokens.
    const vocab: Record<string, number> = {};
    const names = Object.entries(model.vocab).filter(([, id]) => id < 256 || id >= FIRST_MERGE_ID);
    names.forEach(([name], index) => (vocab[name] = index));
    const foreign = fromTokenizerJson({ ...json, added_tokens: [], model: { ...model, vocab } }, 'foreign.json');
    expect(foreign.vocabSize).toBe(265);
    expect(Object.values(foreign.specialIds)).toEqual([261, 262, 263, 264]);
    expect(foreign.decode(foreign.encode('hello <end>'))).toBe('hello <end>');
    expect(foreign.encode('hello world').length).toBe(tokenizer.encode('hello world').length);
  });

  it('names the file and what is unsupported', async () => {
    const tokenizer = await trainBpe(stream([{ id: 'a', text: 'hello hello' }]), 262);
    const json = base(tokenizer);
    expect(() => fromTokenizerJson({ ...json, model: { type: 'WordPiece' } }, 'wp.json')).toThrow('wp.json: model type "WordPiece" is not supported');
    expect(() => fromTokenizerJson({ ...json, pre_tokenizer: { type: 'Metaspace' } }, 'sp.json')).toThrow('sp.json: pre-tokenizer Metaspace is not supported');
    expect(() => fromTokenizerJson({ ...json, normalizer: { type: 'NFC' } }, 'n.json')).toThrow('n.json: normalizer NFC is not supported');
    const path = join(await mkdtemp(join(tmpdir(), 'rpt-tokenizer-')), 'missing.json');
    await expect(loadTokenizer(path)).rejects.toThrow(`${path}: cannot read tokenizer`);
  });
});

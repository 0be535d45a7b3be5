import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer as Reference } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer } from '../src/tokenizer/bpe-tokenizer.ts';
import { bytesToByteLevel } from '../src/tokenizer/byte-level.ts';
import { HfTokenizer } from '../src/tokenizer/hf-tokenizer.ts';
import { requireMarkers } from '../src/tokenizer/tokenizer.ts';
import { loadTokenizer, toTokenizerJson } from '../src/tokenizer/tokenizer-json.ts';
import { trainBpe } from '../src/tokenizer/train.ts';
import { Random } from '../src/util/random.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tokenizers');
const utf8 = new TextEncoder();

type Json = Record<string, any>;

async function fixture(folder: string): Promise<{ path: string; json: Json }> {
  const path = join(FIXTURES, folder, 'tokenizer.json');
  return { path, json: JSON.parse(await readFile(path, 'utf8')) };
}

async function writeTemporary(json: unknown): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'rpt-hf-tokenizer-')), 'tokenizer.json');
  await writeFile(path, JSON.stringify(json));
  return path;
}

// Latin with accents, Cyrillic, CJK, Korean, Arabic, emoji with joiners and modifiers, digit
// runs, code, tabs and every kind of newline; `specials` are woven in.
function multilingual(specials: readonly string[]): string {
  const [a, b, c] = [specials[0], specials[1 % specials.length], specials[2 % specials.length]];
  return [
    `${a}user\nGrüße aus München! Ça va? 12345 + 0.5 = 12345.5${b}`,
    `${c}東京は日本の首都です。你好，世界！한국어 문장 مرحبا 👨‍👩‍👧🙂👍🏽🇫🇷`,
    "def f(x):\n\treturn x ** 2  # it's 2024\r\n\n\n   trailing spaces   ",
    `${specials.join('')}all specials adjacent, then ${specials.join(' and ')}, then a partial one: <|im_sta and <thi`,
  ].join('\n');
}

function randomText(random: Random, specials: readonly string[]): string {
  const pieces = [
    () => String.fromCharCode(random.int(0x20, 0x7e)),
    () => random.pick([' ', '  ', '\n', '\n\n', '\t', '\r\n', '\u00a0', '\u3000', '\ufeff', ' \n ']),
    () => random.pick(["'s", "'LL", 'n\'t', '123', '4.5', '2024', '¾', '٣', ...specials]),
    () => random.pick(['é', 'e\u0301', 'Å', 'A\u030a', 'ß', 'Ω', 'Ж', '世界', 'ﬁ', '🎉', '👩‍👩‍👧', '𝔘', '\u0000']),
    () => String.fromCodePoint(random.int(0x80, 0xd7ff)),
    () => String.fromCodePoint(random.int(0xe000, 0x10ffff)),
  ];
  let text = '';
  const length = random.int(0, 30);
  for (let i = 0; i < length; i++) text += random.pick(pieces)();
  return text;
}

const MODELS = [
  { folder: 'smollm2-style', specials: ['<|im_start|>', '<|im_end|>', '<|endoftext|>'], normalize: (text: string) => text },
  { folder: 'qwen-style', specials: ['<|im_start|>', '<|im_end|>', '<think>', '</think>', '<|endoftext|>'], normalize: (text: string) => text.normalize('NFC') },
  { folder: 'llama3-style', specials: ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'], normalize: (text: string) => text },
];

describe.each(MODELS)('a $folder tokenizer.json', async ({ folder, specials, normalize }) => {
  const { path, json } = await fixture(folder);
  const tokenizer = await loadTokenizer(path, { forModel: true });
  const reference = new Reference(json, {});
  const texts = [multilingual(specials), ...Array.from({ length: 300 }, (_, i) => randomText(new Random(i), specials))];

  it('is encoded through @huggingface/tokenizers: the project encoder does not handle it', () => {
    expect(tokenizer).toBeInstanceOf(HfTokenizer);
  });

  it("gives @huggingface/tokenizers' ids, special tokens matched whole", () => {
    for (const text of texts) expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(reference.encode(text, { add_special_tokens: false }).ids);
    const ids = tokenizer.encode(multilingual(specials));
    for (const special of specials) expect(ids).toContain(tokenizer.specialTokens.get(special));
  });

  it('gives tokens whose bytes are exactly the text (after the normalizer)', () => {
    for (const text of texts) {
      const ids = tokenizer.encode(text);
      const bytes = tokenizer.decodeBytes(ids);
      expect(Buffer.from(bytes).equals(Buffer.from(utf8.encode(normalize(text)))), JSON.stringify(text)).toBe(true);
      expect(tokenizer.byteLengths(ids).reduce((sum, length) => sum + length, 0)).toBe(bytes.length);
    }
    expect(tokenizer.decode(tokenizer.encode(multilingual(specials)))).toBe(normalize(multilingual(specials)));
    for (const special of specials) expect(tokenizer.tokenBytes(tokenizer.specialTokens.get(special)!)).toEqual(utf8.encode(special));
  });

  it('keeps the vocabulary of the file: nothing appended, no markers', () => {
    const ids = [...Object.values(json.model.vocab as Record<string, number>), ...json.added_tokens.map((token: Json) => token.id)];
    expect(tokenizer.vocabSize).toBe(Math.max(...ids) + 1);
    expect(tokenizer.specialIds).toBeUndefined();
    expect(() => requireMarkers(tokenizer, path)).toThrow(`${path}: the tokenizer lacks the reasoning format's special tokens`);
    expect(() => tokenizer.tokenBytes(tokenizer.vocabSize)).toThrow(`${path}: token id ${tokenizer.vocabSize} is not in the vocabulary`);
  });
});

describe('what each model tokenizer does that GPT-2 does not', async () => {
  const smollm2 = await loadTokenizer((await fixture('smollm2-style')).path, { forModel: true });
  const qwen = await loadTokenizer((await fixture('qwen-style')).path, { forModel: true });
  const llama3 = await fixture('llama3-style');
  const llama3Tokenizer = await loadTokenizer(llama3.path, { forModel: true });
  const pieces = (tokenizer: { encode(text: string): number[]; tokenBytes(id: number): Uint8Array }, text: string) =>
    tokenizer.encode(text).map((id) => new TextDecoder().decode(tokenizer.tokenBytes(id)));

  it('SmolLM2 and Qwen split digits one by one; Llama 3 in threes', () => {
    expect(pieces(smollm2, '1234567')).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(pieces(qwen, '1234567')).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(pieces(llama3Tokenizer, '1234567').join('|')).toMatch(/^[0-9]{1,3}(\|[0-9]{1,3})*$/);
  });

  it('Qwen normalizes to NFC before splitting', () => {
    expect(qwen.encode('Cafe\u0301 A\u030a')).toEqual(qwen.encode('Café Å'));
  });

  it('never adds the post-processor tokens (Llama 3 would put <|begin_of_text|> first)', () => {
    const bos = llama3Tokenizer.specialTokens.get('<|begin_of_text|>');
    const withTemplate = new Reference(llama3.json, {}).encode('Hello there').ids;
    expect(withTemplate[0]).toBe(bos);
    expect(llama3Tokenizer.encode('Hello there')).toEqual(withTemplate.slice(1));
  });
});

describe('loadTokenizer', async () => {
  const trained = await trainBpe(
    (async function* () {
      yield { id: 'a', text: 'hello hello world, the world is wide; 1234 and 5678 said the jury. Grüße, 世界!' };
    })(),
    300,
  );

  it("refuses a pretrained model's file for a model trained here: its markers cannot be appended", async () => {
    const { path } = await fixture('smollm2-style');
    await expect(loadTokenizer(path)).rejects.toThrow(`${path}: pre-tokenizer Sequence[Digits, ByteLevel] is not supported`);
  });

  it("gives a GPT-2-style model file to the project's encoder, without appending markers", async () => {
    const json = toTokenizerJson(trained) as Json;
    const markerIds = new Set(json.added_tokens.map((token: Json) => token.id));
    // A file as GPT-2's: bytes, merges and one end-of-text token, ids renumbered without gaps.
    const names = Object.entries(json.model.vocab as Record<string, number>).filter(([, id]) => !markerIds.has(id));
    const vocab = Object.fromEntries(names.map(([name], index) => [name, index]));
    const gpt2 = { ...json, added_tokens: [{ ...json.added_tokens[0], id: names.length, content: '<|endoftext|>' }], model: { ...json.model, vocab: { ...vocab, '<|endoftext|>': names.length } } };
    const path = await writeTemporary(gpt2);
    const tokenizer = await loadTokenizer(path, { forModel: true });
    expect(tokenizer).toBeInstanceOf(BpeTokenizer);
    expect(tokenizer.vocabSize).toBe(names.length + 1);
    expect(tokenizer.specialIds).toBeUndefined();
    // The project's encoder and the library agree on it.
    const library = new HfTokenizer(gpt2, path);
    const random = new Random(4);
    for (let i = 0; i < 200; i++) {
      const text = randomText(random, ['<|endoftext|>']);
      expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(library.encode(text));
    }
  });

  it('keeps the markers of a file this project trained, with the same ids either way', async () => {
    const path = await writeTemporary(toTokenizerJson(trained));
    const forModel = await loadTokenizer(path, { forModel: true });
    expect(forModel).toBeInstanceOf(BpeTokenizer);
    expect(forModel.specialIds).toEqual(trained.specialIds);
    expect(forModel.vocabSize).toBe(trained.vocabSize);
    expect(requireMarkers(forModel, path).specialIds['<end>']).toBe(trained.specialIds['<end>']);
  });
});

describe('HfTokenizer refuses what it cannot give exact token bytes for, naming the file', async () => {
  const { json } = await fixture('smollm2-style');
  const refuse = async (name: string, changed: Json, cause: string) => {
    const path = await writeTemporary(changed);
    await expect(loadTokenizer(path, { forModel: true }), name).rejects.toThrow(`${path}: ${cause}`);
  };

  it('SentencePiece-style BPE with byte fallback and a Metaspace decoder', async () => {
    const sentencePiece = {
      ...json,
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
      model: { ...json.model, byte_fallback: true },
    };
    await refuse('byte fallback', sentencePiece, 'the BPE model uses byte_fallback (SentencePiece style)');
    await refuse('decoder', { ...sentencePiece, model: json.model }, 'decoder Sequence[Replace, ByteFallback, Fuse, Strip] is not ByteLevel');
  });

  it('other models, pre-tokenizers without ByteLevel, prefix spaces, added tokens the library would not match as Rust does', async () => {
    await refuse('WordPiece', { ...json, model: { ...json.model, type: 'WordPiece' } }, 'model type "WordPiece" is not BPE');
    await refuse('Metaspace', { ...json, pre_tokenizer: { type: 'Metaspace', replacement: '▁' } }, 'pre-tokenizer Metaspace has no ByteLevel step');
    await refuse(
      'prefix space',
      { ...json, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } },
      'the ByteLevel pre-tokenizer adds a space the text does not hold (add_prefix_space)',
    );
    await refuse('lstrip', { ...json, added_tokens: [{ ...json.added_tokens[0], lstrip: true }] }, 'added token "<|endoftext|>" strips whitespace (lstrip or rstrip)');
    await refuse('single word', { ...json, added_tokens: [{ ...json.added_tokens[0], single_word: true }] }, 'added token "<|endoftext|>" is single_word');
  });

  it('a vocabulary that is not byte-level or lacks a byte', async () => {
    await refuse('not byte-level', { ...json, model: { ...json.model, vocab: { ...json.model.vocab, '▁hello': 9999 } } }, 'token "▁hello" is not byte-level');
    const vocab = { ...json.model.vocab };
    delete vocab[bytesToByteLevel(Uint8Array.of(0xff))];
    await refuse('missing byte', { ...json, model: { ...json.model, vocab } }, 'vocabulary has no token for byte 255');
    await refuse('merge', { ...json, model: { ...json.model, merges: [...json.model.merges, 'Ġ zz'] } }, `merge ${json.model.merges.length} "Ġ zz" does not yield a token of the vocabulary`);
  });
});

import { readFile, writeFile } from 'node:fs/promises';
import { BpeTokenizer } from './bpe-tokenizer.ts';
import { byteLevelToBytes, bytesToByteLevel } from './byte-level.ts';
import { describe, HfTokenizer } from './hf-tokenizer.ts';
import { SPECIAL_TOKENS } from './special-tokens.ts';
import type { Tokenizer, WithMarkers } from './tokenizer.ts';

// Hugging Face tokenizer.json for byte-level BPE (GPT-2's kind): the files this project writes
// load in `@huggingface/tokenizers` and Python `tokenizers` and encode to the same ids.

export async function saveTokenizer(path: string, tokenizer: BpeTokenizer): Promise<void> {
  await writeFile(path, `${JSON.stringify(toTokenizerJson(tokenizer), null, 2)}\n`);
}

export interface LoadTokenizerOptions {
  // The tokenizer of a pretrained model (a Hugging Face folder): its vocabulary is the model's
  // embedding, so nothing is appended to it.
  forModel?: boolean;
}

// A tokenizer for a model trained here (no options): a GPT-2-style file, encoded by the
// project's BpeTokenizer, with the reasoning format's markers appended when the file lacks them
// (the files this project trains hold them, so their ids never change).
// A pretrained model's tokenizer ({ forModel: true }): the project's BpeTokenizer where it
// encodes the file exactly, else @huggingface/tokenizers (HfTokenizer); never appended to, so
// `specialIds` is undefined unless the file holds all four markers.
export async function loadTokenizer(path: string): Promise<WithMarkers<BpeTokenizer>>;
export async function loadTokenizer(path: string, options: LoadTokenizerOptions): Promise<Tokenizer>;
export async function loadTokenizer(path: string, { forModel = false }: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: cannot read tokenizer (${(error as Error).message})`);
  }
  if (!forModel) return fromTokenizerJson(json, path);
  return isObject(json) && unsupportedFeature(json) === undefined ? fromTokenizerJson(json, path, { appendMarkers: false }) : new HfTokenizer(json, path);
}

export function toTokenizerJson(tokenizer: BpeTokenizer): object {
  const specialIds = new Set(tokenizer.specialTokens.values());
  const names = tokenizer.tokens.map((bytes, id) => (specialIds.has(id) ? '' : bytesToByteLevel(bytes)));
  for (const [content, id] of tokenizer.specialTokens) names[id] = content;
  const vocab: Record<string, number> = {};
  names.forEach((name, id) => {
    if (Object.hasOwn(vocab, name)) throw new Error(`tokens ${vocab[name]} and ${id} are both ${JSON.stringify(name)}`);
    vocab[name] = id;
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...tokenizer.specialTokens].map(([content, id]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      // "left right" strings: byte-level tokens hold no space, and every version of the libraries reads this form.
      merges: tokenizer.merges.map(([left, right]) => `${names[left]} ${names[right]}`),
    },
  };
}

type Json = Record<string, unknown>;

// Accepts what this project can encode exactly: a BPE model over GPT-2's byte-level
// pre-tokenizer, no normalizer, added tokens matched as written. Special tokens of the reasoning
// format that the file lacks are appended after its last id, unless `appendMarkers` is false.
export function fromTokenizerJson(json: unknown, source: string): WithMarkers<BpeTokenizer>;
export function fromTokenizerJson(json: unknown, source: string, options: { appendMarkers: boolean }): BpeTokenizer;
export function fromTokenizerJson(json: unknown, source: string, { appendMarkers = true } = {}): BpeTokenizer {
  const fail = (message: string): never => {
    throw new Error(`${source}: ${message}; supported: byte-level BPE tokenizer.json (GPT-2 style)`);
  };
  const root = isObject(json) ? json : fail('not a JSON object');
  const model = isObject(root.model) ? root.model : fail('no "model" object');
  const unsupported = unsupportedFeature(root);
  if (unsupported !== undefined) fail(unsupported);

  const vocab = isObject(model.vocab) ? model.vocab : fail('model has no "vocab" object');
  const tokens: (Uint8Array | undefined)[] = [];
  const ids = new Map<string, number>();
  for (const [name, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) fail(`vocab entry ${JSON.stringify(name)} has id ${JSON.stringify(id)}`);
    ids.set(name, id as number);
  }
  const specialTokens = new Map<string, number>();
  const added = Array.isArray(root.added_tokens) ? root.added_tokens : [];
  const encoder = new TextEncoder();
  for (const token of added) {
    if (!isObject(token) || typeof token.content !== 'string' || !Number.isInteger(token.id)) fail(`added token ${describe(token)} is malformed`);
    specialTokens.set(token.content as string, token.id as number);
    tokens[token.id as number] = encoder.encode(token.content as string);
  }
  for (const [name, id] of ids) {
    if (tokens[id] === undefined) tokens[id] = byteLevelToBytes(name, source);
  }
  for (const token of appendMarkers ? SPECIAL_TOKENS : []) {
    if (!specialTokens.has(token)) {
      specialTokens.set(token, tokens.length);
      tokens.push(encoder.encode(token));
    }
  }
  const missing = tokens.findIndex((bytes) => bytes === undefined);
  if (missing >= 0) fail(`vocabulary has no token with id ${missing}`);

  const merges: [number, number][] = [];
  const rawMerges = Array.isArray(model.merges) ? model.merges : fail('model has no "merges" list');
  for (const [rank, merge] of rawMerges.entries()) {
    const pair = typeof merge === 'string' ? merge.split(' ') : merge;
    if (!Array.isArray(pair) || pair.length !== 2) fail(`merge ${rank} ${JSON.stringify(merge)} is not a pair`);
    const left = ids.get(pair[0]);
    const right = ids.get(pair[1]);
    if (left === undefined || right === undefined) fail(`merge ${rank} ${JSON.stringify(merge)} names a token outside the vocabulary`);
    merges.push([left!, right!]);
  }
  try {
    return new BpeTokenizer(tokens as Uint8Array[], merges, specialTokens);
  } catch (error) {
    return fail((error as Error).message);
  }
}

// What in a tokenizer.json the project's encoder would not reproduce exactly, if anything.
function unsupportedFeature(root: Json): string | undefined {
  const model = isObject(root.model) ? root.model : {};
  if (model.type !== 'BPE') return `model type ${JSON.stringify(model.type)} is not supported`;
  if (root.normalizer != null) return `normalizer ${describe(root.normalizer)} is not supported`;
  const pre = root.pre_tokenizer;
  if (!isObject(pre) || pre.type !== 'ByteLevel' || pre.add_prefix_space === true || pre.use_regex === false) {
    return `pre-tokenizer ${describe(pre)} is not supported (only ByteLevel with use_regex and without add_prefix_space)`;
  }
  if (root.post_processor != null && (root.post_processor as Json).type !== 'ByteLevel') return `post-processor ${describe(root.post_processor)} is not supported`;
  if (root.decoder != null && (root.decoder as Json).type !== 'ByteLevel') return `decoder ${describe(root.decoder)} is not supported`;
  if (model.dropout != null && model.dropout !== 0) return 'BPE dropout is not supported';
  if (model.byte_fallback === true) return 'byte_fallback is not supported';
  if (model.ignore_merges === true) return 'ignore_merges is not supported';
  if (model.continuing_subword_prefix || model.end_of_word_suffix) return 'subword prefixes and suffixes are not supported';
  for (const token of Array.isArray(root.added_tokens) ? root.added_tokens : []) {
    if (isObject(token) && (token.lstrip === true || token.rstrip === true || token.single_word === true)) {
      return `added token ${JSON.stringify(token.content)} uses lstrip, rstrip or single_word, which are not supported`;
    }
  }
  return undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

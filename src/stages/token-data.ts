import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExperimentIR } from '../../dsl/ir.ts';
import type { Document } from '../data/document.ts';
import type { SplitPart } from '../data/split.ts';
import type { BpeTokenizer } from '../tokenizer/bpe-tokenizer.ts';
import { loadTokenizer } from '../tokenizer/tokenizer-json.ts';
import { contentHash, readDone, readInt32Array, stageDirectory, writeArray, writeDone, writeJson } from './cache.ts';
import { corpusDocuments, corpusFingerprint } from './corpus.ts';
import type { TokenizerResult } from './tokenizer.ts';

// The corpus tokenized once: per side of the split, every document's tokens back to back in
// `<side>.tokens.i32` (Int32, little-endian), where each document starts in `<side>.starts.i32`
// and the document ids in `<side>.ids.json`. Pre-training, the filter and evaluation all read
// these arrays; a position is named by (document, offset) or by its index into the array.
// A document's thoughts (src/data/document.ts) go to `<side>.thoughts.json`, their spans as
// indices into the token array: the text is tokenized in pieces cut at every span's ends, so that
// a span always starts and ends at a token boundary.

export interface TokenizedSplit {
  tokens: Int32Array;
  starts: Int32Array; // [documents + 1]: document d is tokens[starts[d] .. starts[d + 1])
  ids: string[];
}

/** A worked thought before the tokens [start, end) of a side's token array. */
export interface SplitThought {
  start: number;
  end: number;
  tokens: Int32Array;
}

export interface DataResult {
  dir: string;
  hash: string;
  documents: Record<SplitPart, number>;
  tokens: Record<SplitPart, number>;
  cached: boolean;
}

const VERSION = 2;
const PARTS: SplitPart[] = ['train', 'holdout'];

export async function runDataStage(ir: ExperimentIR, runDir: string, baseDir: string, tokenizerResult: TokenizerResult): Promise<DataResult> {
  const hash = contentHash({ stage: 'data', version: VERSION, corpus: ir.corpus, seed: ir.seed, files: await corpusFingerprint(ir.corpus, baseDir), tokenizer: tokenizerResult.sha256 });
  const dir = await stageDirectory(runDir, 'data', hash);
  const done = await readDone<DataResult>(dir, hash);
  if (done) return { ...done, dir, cached: true };

  const tokenizer = await loadTokenizer(tokenizerResult.path);
  const result: DataResult = { dir, hash, documents: { train: 0, holdout: 0 }, tokens: { train: 0, holdout: 0 }, cached: false };
  for (const part of PARTS) {
    const { split, thoughts } = await tokenizeSplit(corpusDocuments(ir.corpus, ir.seed, baseDir, part), tokenizer);
    if (split.ids.length === 0) throw new Error(`corpus: the ${part} side of the split holds no documents; ${part === 'holdout' ? 'raise `holdout` or add documents' : 'lower `holdout` or add documents'}`);
    await writeArray(join(dir, `${part}.tokens.i32`), split.tokens);
    await writeArray(join(dir, `${part}.starts.i32`), split.starts);
    await writeJson(join(dir, `${part}.ids.json`), split.ids);
    await writeJson(join(dir, `${part}.thoughts.json`), thoughts.map(({ start, end, tokens }) => [start, end, Array.from(tokens)]));
    result.documents[part] = split.ids.length;
    result.tokens[part] = split.tokens.length;
  }
  await writeDone(dir, hash, result);
  return result;
}

export async function loadSplit(data: DataResult, part: SplitPart): Promise<TokenizedSplit> {
  const tokens = await readInt32Array(join(data.dir, `${part}.tokens.i32`));
  const starts = await readInt32Array(join(data.dir, `${part}.starts.i32`));
  const idsPath = join(data.dir, `${part}.ids.json`);
  const ids = JSON.parse(await readFile(idsPath, 'utf8')) as string[];
  if (starts.length !== ids.length + 1 || starts[ids.length] !== tokens.length) throw new Error(`${data.dir}: the ${part} token files disagree with each other; remove the folder to tokenize again`);
  return { tokens, starts, ids };
}

/** The thoughts of one side, in the order of their spans. */
export async function loadThoughts(data: DataResult, part: SplitPart): Promise<SplitThought[]> {
  const path = join(data.dir, `${part}.thoughts.json`);
  const records = JSON.parse(await readFile(path, 'utf8')) as [number, number, number[]][];
  return records.map(([start, end, tokens]) => ({ start, end, tokens: Int32Array.from(tokens) }));
}

async function tokenizeSplit(documents: AsyncIterable<Document>, tokenizer: BpeTokenizer): Promise<{ split: TokenizedSplit; thoughts: SplitThought[] }> {
  const pieces: number[][] = [];
  const ids: string[] = [];
  const thoughts: SplitThought[] = [];
  let total = 0;
  for await (const document of documents) {
    const piece: number[] = [];
    let at = 0; // characters of the text tokenized so far
    for (const thought of document.thoughts ?? []) {
      if (!(at <= thought.start && thought.start < thought.end && thought.end <= document.text.length)) {
        throw new Error(`document ${document.id}: thought span [${thought.start}, ${thought.end}) is empty, overlaps the one before or lies outside the text of ${document.text.length} characters`);
      }
      piece.push(...tokenizer.encode(document.text.slice(at, thought.start)));
      const start = total + piece.length;
      piece.push(...tokenizer.encode(document.text.slice(thought.start, thought.end)));
      thoughts.push({ start, end: total + piece.length, tokens: Int32Array.from(tokenizer.encode(thought.text)) });
      at = thought.end;
    }
    piece.push(...tokenizer.encode(document.text.slice(at)));
    pieces.push(piece);
    ids.push(document.id);
    total += piece.length;
  }
  const starts = new Int32Array(pieces.length + 1);
  pieces.forEach((piece, d) => (starts[d + 1] = starts[d] + piece.length));
  const tokens = new Int32Array(starts[pieces.length]);
  pieces.forEach((piece, d) => tokens.set(piece, starts[d]));
  return { split: { tokens, starts, ids }, thoughts };
}

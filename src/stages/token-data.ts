import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Piscina } from 'piscina';
import type { ExperimentIR } from '../../dsl/ir.ts';
import { tsxPiscina } from '../../runtime/tsx-worker.ts';
import type { Document } from '../data/document.ts';
import type { SplitPart } from '../data/split.ts';
import { unlessMissing } from '../util/missing.ts';
import { contentHash, readDone, readInt32Array, stageDirectory, writeArray, writeDone, writeJson } from './cache.ts';
import { corpusDocuments, corpusFingerprint } from './corpus.ts';
import type { TokenizeTask, TokenizedBatch } from './tokenize-task.ts';
import type { TokenizerResult } from './tokenizer.ts';

// The corpus tokenized once: per side of the split, every document's tokens back to back in
// `<side>.tokens.i32` (Int32, little-endian), where each document starts in `<side>.starts.i32`
// and the document ids in `<side>.ids.json`. Pre-training, the filter and evaluation all read
// these arrays; a position is named by (document, offset) or by its index into the array.
// A document's thoughts (src/data/document.ts) go to `<side>.thoughts.json`, their spans as
// indices into the token array: the text is tokenized in pieces cut at every span's ends, so that
// a span always starts and ends at a token boundary. The encoding runs in a piscina pool
// (src/stages/tokenize-task.ts), a batch of documents per task.

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
// A batch of documents per pool task, cut at whichever limit comes first: enough work that the
// round trip to the thread is a small part of it, small enough to spread a corpus over the threads.
const BATCH_DOCUMENTS = 64;
const BATCH_CHARS = 256 * 1024;
// Batches out per thread: one encoding, one queued behind it so that a thread never waits on the corpus reader.
const IN_FLIGHT_PER_THREAD = 2;

export async function runDataStage(ir: ExperimentIR, runDir: string, baseDir: string, tokenizerResult: TokenizerResult): Promise<DataResult> {
  const hash = contentHash({ stage: 'data', version: VERSION, corpus: ir.corpus, seed: ir.seed, files: await corpusFingerprint(ir.corpus, baseDir), tokenizer: tokenizerResult.sha256 });
  const dir = await stageDirectory(runDir, 'data', hash);
  const done = await readDone<DataResult>(dir, hash);
  if (done) return { ...done, dir, cached: true };

  const result: DataResult = { dir, hash, documents: { train: 0, holdout: 0 }, tokens: { train: 0, holdout: 0 }, cached: false };
  // One thread per core but the one this thread needs to read and split the corpus (for Brown,
  // most of the stage): nothing else of the run works while the data stage does, so the pool
  // is sized by the machine, not by `actors.verifiers` (RPT's pool, which shares the machine
  // with samplers and learner). On 2 cores one thread measured faster than two (bench/data.ts).
  const pool = tsxPiscina('./tokenize-task', import.meta.url, Math.max(1, availableParallelism() - 1));
  try {
    for (const part of PARTS) {
      const { split, thoughts } = await tokenizeSplit(corpusDocuments(ir.corpus, ir.seed, baseDir, part), pool, tokenizerResult);
      if (split.ids.length === 0) throw new Error(`corpus: the ${part} side of the split holds no documents; ${part === 'holdout' ? 'raise `holdout` or add documents' : 'lower `holdout` or add documents'}`);
      await writeArray(join(dir, `${part}.tokens.i32`), split.tokens);
      await writeArray(join(dir, `${part}.starts.i32`), split.starts);
      await writeJson(join(dir, `${part}.ids.json`), split.ids);
      await writeJson(join(dir, `${part}.thoughts.json`), thoughts.map(({ start, end, tokens }) => [start, end, Array.from(tokens)]));
      result.documents[part] = split.ids.length;
      result.tokens[part] = split.tokens.length;
    }
  } finally {
    await pool.destroy();
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

/**
 * The label of every token of one side (src/data/labels.ts), aligned with loadSplit's tokens, or
 * undefined when the corpus labels none (Brown, files, arithmetic).
 */
export async function loadLabels(data: DataResult, part: SplitPart): Promise<Uint8Array | undefined> {
  const bytes = await unlessMissing(readFile(join(data.dir, `${part}.labels.u8`)), undefined);
  return bytes && new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The thoughts of one side, in the order of their spans. */
export async function loadThoughts(data: DataResult, part: SplitPart): Promise<SplitThought[]> {
  const path = join(data.dir, `${part}.thoughts.json`);
  const records = JSON.parse(await readFile(path, 'utf8')) as [number, number, number[]][];
  return records.map(([start, end, tokens]) => ({ start, end, tokens: Int32Array.from(tokens) }));
}

/**
 * One side tokenized in the data stage's pool. Documents go out in batches as the corpus yields
 * them, and at most IN_FLIGHT_PER_THREAD batches per thread are out at once, so that a large
 * corpus is never read whole ahead of the encoding; batches are taken back in the order sent,
 * which keeps the documents in corpus order whichever batch finishes first.
 */
async function tokenizeSplit(documents: AsyncIterable<Document>, pool: Piscina, tokenizer: Pick<TokenizerResult, 'path' | 'pretrained'>): Promise<{ split: TokenizedSplit; thoughts: SplitThought[] }> {
  const sent: Promise<TokenizedBatch>[] = [];
  const batches: TokenizedBatch[] = [];
  const ids: string[] = [];
  let batch: Document[] = [];
  let batchChars = 0;
  const send = () => {
    const task: TokenizeTask = { tokenizer: tokenizer.path, forModel: tokenizer.pretrained, documents: batch };
    const encoded = (pool.run(task) as Promise<TokenizedBatch>).catch((error: Error) => {
      throw new Error(`data: encoding with the tokenizer ${tokenizer.path} failed in a worker thread: ${error.message}`, { cause: error });
    });
    // Awaited in order below; until then a failure must not count as unhandled.
    encoded.catch(() => {});
    sent.push(encoded);
    batch = [];
    batchChars = 0;
  };
  try {
    for await (const document of documents) {
      checkThoughts(document);
      batch.push(document);
      batchChars += document.text.length;
      ids.push(document.id);
      if (batch.length === BATCH_DOCUMENTS || batchChars >= BATCH_CHARS) {
        send();
        if (sent.length === IN_FLIGHT_PER_THREAD * pool.maxThreads) batches.push(await sent.shift()!);
      }
    }
    if (batch.length > 0) send();
    while (sent.length > 0) batches.push(await sent.shift()!);
  } catch (error) {
    // The pool is destroyed after a failure; a batch still running then would answer a pool
    // that no longer knows it (piscina raises that as an uncaught error), so let them finish.
    await Promise.allSettled(sent);
    throw error;
  }

  const starts = new Int32Array(ids.length + 1);
  const tokens = new Int32Array(batches.reduce((sum, { tokens }) => sum + tokens.length, 0));
  const thoughts: SplitThought[] = [];
  let d = 0; // documents placed so far
  for (const encoded of batches) {
    const offset = starts[d]; // where the batch's tokens start in the side's array
    tokens.set(encoded.tokens, offset);
    for (const length of encoded.lengths) {
      starts[d + 1] = starts[d] + length;
      d++;
    }
    for (const thought of encoded.thoughts) thoughts.push({ ...thought, start: offset + thought.start, end: offset + thought.end });
  }
  return { split: { tokens, starts, ids }, thoughts };
}

function checkThoughts(document: Document): void {
  let at = 0; // where the span before ends
  for (const thought of document.thoughts ?? []) {
    if (!(at <= thought.start && thought.start < thought.end && thought.end <= document.text.length)) {
      throw new Error(`document ${document.id}: thought span [${thought.start}, ${thought.end}) is empty, overlaps the one before or lies outside the text of ${document.text.length} characters`);
    }
    at = thought.end;
  }
}

import { join, resolve } from 'node:path';
import type { ExperimentIR } from '../../dsl/ir.ts';
import { tokenizerReference } from '../checkpoint/checkpoint.ts';
import { END } from '../tokenizer/special-tokens.ts';
import { loadTokenizer, saveTokenizer } from '../tokenizer/tokenizer-json.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { contentHash, readDone, stageDirectory, writeDone } from './cache.ts';
import { corpusDocuments, corpusFingerprint } from './corpus.ts';

// The tokenizer stage: a byte-level BPE trained on the corpus's train side (the holdout never
// shapes the vocabulary), or a tokenizer.json the experiment names. Everything downstream
// depends on the tokenizer through the sha256 of its file.

export interface TokenizerResult {
  path: string; // tokenizer.json
  sha256: string;
  vocabSize: number;
  endToken: number; // id of the end marker, which separates and pads documents
  trainSeconds: number; // 0 for a named file
  cached: boolean;
}

const VERSION = 1;

export async function runTokenizerStage(ir: ExperimentIR, runDir: string, baseDir: string): Promise<TokenizerResult> {
  const spec = ir.corpus.tokenizer;
  if (spec.kind === 'file') {
    const path = resolve(baseDir, spec.path);
    const tokenizer = await loadTokenizer(path);
    return { path, sha256: (await tokenizerReference(path)).sha256, vocabSize: tokenizer.vocabSize, endToken: tokenizer.specialIds[END], trainSeconds: 0, cached: true };
  }
  const hash = contentHash({ stage: 'tokenizer', version: VERSION, corpus: ir.corpus, seed: ir.seed, files: await corpusFingerprint(ir.corpus, baseDir) });
  const dir = await stageDirectory(runDir, 'tokenizer', hash);
  const path = join(dir, 'tokenizer.json');
  const done = await readDone<TokenizerResult>(dir, hash);
  if (done) return { ...done, path, cached: true };

  const start = performance.now();
  const tokenizer = await trainBpe(corpusDocuments(ir.corpus, ir.seed, baseDir, 'train'), spec.vocab).catch((error: Error) => {
    throw new Error(`corpus tokenizer bpe: ${error.message}`, { cause: error });
  });
  const trainSeconds = (performance.now() - start) / 1000;
  await saveTokenizer(path, tokenizer);
  const result: TokenizerResult = { path, sha256: (await tokenizerReference(path)).sha256, vocabSize: tokenizer.vocabSize, endToken: tokenizer.specialIds[END], trainSeconds, cached: false };
  await writeDone(dir, hash, result);
  return result;
}

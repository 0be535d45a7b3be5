import { join, resolve } from 'node:path';
import type { ExperimentIR } from '../../dsl/ir.ts';
import { tokenizerReference } from '../checkpoint/checkpoint.ts';
import { END } from '../tokenizer/special-tokens.ts';
import { readHfFolder, type HfFolder } from '../hf/folder.ts';
import { loadTokenizer, saveTokenizer } from '../tokenizer/tokenizer-json.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { contentHash, readDone, stageDirectory, writeDone } from './cache.ts';
import { corpusDocuments, corpusFingerprint } from './corpus.ts';

// The tokenizer stage: a byte-level BPE trained on the corpus's train side (the holdout never
// shapes the vocabulary), a tokenizer.json the experiment names, or a Hugging Face model's. Everything downstream
// depends on the tokenizer through the sha256 of its file.

export interface TokenizerResult {
  path: string; // tokenizer.json
  sha256: string;
  vocabSize: number;
  endToken: number; // id of the end marker (a pretrained model's end-of-sequence token), which separates and pads documents
  pretrained: boolean; // a Hugging Face model's tokenizer: encoded exactly as Hugging Face does, never appended to
  trainSeconds: number; // 0 for a named file
  cached: boolean;
}

const VERSION = 1;

export async function runTokenizerStage(ir: ExperimentIR, runDir: string, baseDir: string): Promise<TokenizerResult> {
  const spec = ir.corpus.tokenizer;
  if (spec.kind === 'file') {
    const path = resolve(baseDir, spec.path);
    const tokenizer = await loadTokenizer(path);
    return { path, sha256: (await tokenizerReference(path)).sha256, vocabSize: tokenizer.vocabSize, endToken: tokenizer.specialIds[END], pretrained: false, trainSeconds: 0, cached: true };
  }
  if (spec.kind === 'model') {
    const folder = readHfFolder(resolve(baseDir, ir.models[spec.name].huggingface!.path));
    const tokenizer = await loadTokenizer(folder.tokenizerPath, { forModel: true });
    return { path: folder.tokenizerPath, sha256: (await tokenizerReference(folder.tokenizerPath)).sha256, vocabSize: tokenizer.vocabSize, endToken: endOfSequence(folder, tokenizer), pretrained: true, trainSeconds: 0, cached: true };
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
  const result: TokenizerResult = { path, sha256: (await tokenizerReference(path)).sha256, vocabSize: tokenizer.vocabSize, endToken: tokenizer.specialIds[END], pretrained: false, trainSeconds, cached: false };
  await writeDone(dir, hash, result);
  return result;
}

/** The run's tokenizer, loaded as the stage found it. */
export function loadRunTokenizer(result: Pick<TokenizerResult, 'path' | 'pretrained'>): Promise<Tokenizer> {
  return loadTokenizer(result.path, { forModel: result.pretrained });
}

// tokenizer_config.json's eos_token, else the first end-of-sequence id config.json or
// generation_config.json names.
function endOfSequence(folder: HfFolder, tokenizer: Tokenizer): number {
  const { eosToken } = folder.tokenizer;
  const id = eosToken === undefined ? folder.generation.eosTokenIds[0] : tokenizer.specialTokens.get(eosToken);
  if (id === undefined) throw new Error(`${folder.dir}: neither tokenizer_config.json's eos_token nor an eos_token_id names the end-of-sequence token that separates documents`);
  return id;
}

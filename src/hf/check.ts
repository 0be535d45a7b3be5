// `rpt check` of a Hugging Face folder: every file the model needs, its architecture and every
// tensor's shape against config.json, without reading any tensor data.

import { basename, join } from 'node:path';
import { CheckpointError } from '../checkpoint/error.ts';
import type { ModelConfig } from '../model/config.ts';
import { paramCount } from '../model/params.ts';
import type { HfArchitecture } from './config.ts';
import { HF_FILES, readHfFolder } from './folder.ts';
import { readTokenizerIds } from './tokenizer-files.ts';
import { locateHfWeights } from './weights.ts';

export interface HfFolderSummary {
  architecture: HfArchitecture;
  config: ModelConfig;
  parameters: number; // distinct parameters; a tied LM head counts once
  dtypes: string[]; // as stored, e.g. ["BF16"]
  shards: string[]; // file names of the safetensors files
  tokenizerSize: number; // one more than the largest id of tokenizer.json (vocabulary and added tokens); at most vocab_size
}

/** Checks the folder `dir`, or throws a CheckpointError naming the file and the field or tensor at fault. */
export function checkHfFolder(dir: string): HfFolderSummary {
  const folder = readHfFolder(dir);
  const { config } = folder;
  const ids = readTokenizerIds(folder.tokenizerPath);
  let largest = -1;
  for (const [text, id] of ids) {
    if (id >= config.vocabSize) {
      throw new CheckpointError(folder.tokenizerPath, `token ${JSON.stringify(text)} has id ${id}, outside config.json's vocab_size ${config.vocabSize}`);
    }
    largest = Math.max(largest, id);
  }
  const { tokenizer } = folder;
  for (const [field, token] of [['bos_token', tokenizer.bosToken], ['eos_token', tokenizer.eosToken], ['pad_token', tokenizer.padToken]] as const) {
    if (token !== undefined && !ids.has(token)) {
      throw new CheckpointError(join(dir, HF_FILES.tokenizerConfig), `field "${field}" is ${JSON.stringify(token)}, which is not a token of ${HF_FILES.tokenizer}`);
    }
  }
  const weights = locateHfWeights(dir, config);
  return {
    architecture: folder.architecture,
    config,
    parameters: paramCount(config),
    dtypes: weights.dtypes,
    shards: weights.shards.map((path) => basename(path)),
    tokenizerSize: largest + 1,
  };
}

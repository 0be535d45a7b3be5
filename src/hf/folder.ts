// A Hugging Face model folder, as transformers' from_pretrained reads it:
//   config.json                   the architecture and its sizes (config.ts)
//   model.safetensors             the weights, or model.safetensors.index.json naming shards (weights.ts)
//   tokenizer.json                the tokenizer
//   tokenizer_config.json         special token strings, the chat template
//   chat_template.jinja           the chat template, when kept apart (newer transformers)
//   generation_config.json        optional: bos/eos ids and sampling defaults

import { join } from 'node:path';
import { CheckpointError } from '../checkpoint/error.ts';
import type { ModelConfig } from '../model/config.ts';
import { parseHfConfig, type HfArchitecture } from './config.ts';
import { defaultGenerationConfig, parseGenerationConfig, type HfGenerationConfig } from './generation-config.ts';
import { readJsonObject } from './json-file.ts';
import { readTokenizerConfig, type HfTokenizerConfig } from './tokenizer-files.ts';

export const HF_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  index: 'model.safetensors.index.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  chatTemplate: 'chat_template.jinja',
  generation: 'generation_config.json',
} as const;

/** Everything of a folder but its weights and its tokenizer's vocabulary. */
export interface HfFolder {
  dir: string;
  architecture: HfArchitecture;
  config: ModelConfig;
  dtype: string | undefined; // config.json's torch_dtype, as written
  tokenizerPath: string; // its tokenizer.json
  tokenizer: HfTokenizerConfig;
  generation: HfGenerationConfig; // generation_config.json's ids where it has them, else config.json's
}

/** Reads and checks the folder's JSON files; the weights are left to readHfWeights / locateHfWeights. */
export function readHfFolder(dir: string): HfFolder {
  const path = (file: string): string => join(dir, file);
  const model = parseHfConfig(path(HF_FILES.config), readJsonObject(path(HF_FILES.config)));
  const generationJson = readJsonObject(path(HF_FILES.generation), 'optional');
  const generation = generationJson === undefined ? defaultGenerationConfig(model) : parseGenerationConfig(path(HF_FILES.generation), generationJson, model);
  const { vocabSize } = model.config;
  for (const [field, ids] of [['bos_token_id', [generation.bosTokenId]], ['eos_token_id', generation.eosTokenIds], ['pad_token_id', [generation.padTokenId]]] as const) {
    const outside = ids.find((id) => id !== undefined && id >= vocabSize);
    const source = generationJson?.[field] != null ? HF_FILES.generation : HF_FILES.config;
    if (outside !== undefined) throw new CheckpointError(path(source), `field "${field}" holds ${outside}, outside config.json's vocab_size ${vocabSize}`);
  }
  return {
    dir,
    architecture: model.architecture,
    config: model.config,
    dtype: model.dtype,
    tokenizerPath: path(HF_FILES.tokenizer),
    tokenizer: readTokenizerConfig(path(HF_FILES.tokenizerConfig), path(HF_FILES.chatTemplate)),
    generation,
  };
}

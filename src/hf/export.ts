// A model of this project written as a Hugging Face folder that transformers' from_pretrained
// loads as LlamaForCausalLM (or Qwen2/Qwen3 for a model imported as one), giving the same logits:
// config.json, model.safetensors (F32), tokenizer.json, tokenizer_config.json and
// generation_config.json. The folder is written beside its destination and renamed into place,
// so a crash leaves no half-written model under the final name.

import { copyFile, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeSafetensors } from '../checkpoint/safetensors.ts';
import type { ModelConfig } from '../model/config.ts';
import { checkFlatLength, paramSpecs } from '../model/params.ts';
import { unlessMissing } from '../util/missing.ts';
import { toHfConfig } from './config.ts';
import { HF_FILES } from './folder.ts';
import type { JsonObject } from './json-file.ts';
import { readTokenizerIds } from './tokenizer-files.ts';

export interface HfExportOptions {
  tokenizerPath: string; // the tokenizer.json the model was trained with; copied
  bosToken?: string; // special tokens as text; each must be a token of the tokenizer
  eosToken?: string;
  padToken?: string;
  chatTemplate?: string; // Jinja source
  generation?: { doSample?: boolean; temperature?: number; topP?: number; topK?: number }; // sampling defaults
  // Ids for config.json and generation_config.json that the token strings above do not give: a
  // bos id when bosToken is not given (Qwen's tokenizer_config.json names none), further end-of-sequence ids (a base
  // model's <|endoftext|> beside a chat's <|im_end|>); eosToken's id comes first.
  bosTokenId?: number;
  eosTokenIds?: number[];
}

/**
 * Writes the model `config` with weights `flat` (laid out by paramSpecs) as a Hugging Face folder
 * `dir`, which must not exist or be empty.
 */
export async function exportHfFolder(dir: string, config: ModelConfig, flat: Float32Array, options: HfExportOptions): Promise<void> {
  checkFlatLength(config, flat);
  const existing = await unlessMissing(readdir(dir), []);
  if (existing.length > 0) throw new Error(`${dir}: the directory is not empty; export writes a new folder`);
  const ids = readTokenizerIds(options.tokenizerPath);
  for (const [text, id] of ids) {
    if (id >= config.vocabSize) throw new Error(`${options.tokenizerPath}: token ${JSON.stringify(text)} has id ${id}, outside the model's vocabulary of ${config.vocabSize}`);
  }
  const idOf = (field: string, token: string | undefined): number | undefined => {
    if (token === undefined) return undefined;
    const id = ids.get(token);
    if (id === undefined) throw new Error(`${options.tokenizerPath}: has no token ${JSON.stringify(token)} (the ${field} to export)`);
    return id;
  };
  const bosTokenId = idOf('bos_token', options.bosToken) ?? options.bosTokenId;
  const eosTokenId = idOf('eos_token', options.eosToken);
  const padTokenId = idOf('pad_token', options.padToken);
  const eosTokenIds = [...new Set([...(eosTokenId === undefined ? [] : [eosTokenId]), ...(options.eosTokenIds ?? [])])];
  for (const [field, id] of [['bos_token_id', bosTokenId], ...eosTokenIds.map((id) => ['eos_token_id', id] as const)] as const) {
    if (id !== undefined && !(Number.isSafeInteger(id) && id >= 0 && id < config.vocabSize)) throw new Error(`${field} ${id} is not an id of the model's vocabulary of ${config.vocabSize}`);
  }

  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await writeJson(join(staging, HF_FILES.config), toHfConfig(config, { bosTokenId, eosTokenIds }));
    // Views into `flat`: the file is written from the parameter array itself, without copies.
    const tensors = paramSpecs(config).map((spec) => ({ name: spec.name, shape: [...spec.shape], data: flat.subarray(spec.offset, spec.offset + spec.length) }));
    await writeSafetensors(join(staging, HF_FILES.weights), tensors, { format: 'pt' });
    await copyFile(options.tokenizerPath, join(staging, HF_FILES.tokenizer));
    await writeJson(join(staging, HF_FILES.tokenizerConfig), tokenizerConfig(config, options));
    const generation: JsonObject = { bos_token_id: bosTokenId ?? null, eos_token_id: eosTokenIds.length === 0 ? null : eosTokenIds.length === 1 ? eosTokenIds[0] : eosTokenIds };
    if (padTokenId !== undefined) generation.pad_token_id = padTokenId;
    const { doSample, temperature, topP, topK } = options.generation ?? {};
    Object.assign(generation, withoutUndefined({ do_sample: doSample, temperature, top_p: topP, top_k: topK }));
    await writeJson(join(staging, HF_FILES.generation), generation);
    await unlessMissing(rmdir(dir), undefined); // an empty destination makes way for the rename
    await rename(staging, dir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/** tokenizer_config.json for the fast tokenizer that tokenizer.json defines. */
function tokenizerConfig(config: ModelConfig, options: HfExportOptions): JsonObject {
  return withoutUndefined({
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: options.bosToken,
    eos_token: options.eosToken,
    pad_token: options.padToken,
    chat_template: options.chatTemplate,
    model_max_length: config.context,
    clean_up_tokenization_spaces: false,
  });
}

function withoutUndefined(json: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(json).filter(([, value]) => value !== undefined));
}

async function writeJson(path: string, json: JsonObject): Promise<void> {
  await writeFile(path, `${JSON.stringify(json, null, 2)}\n`);
}

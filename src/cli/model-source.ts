import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { tokenizerReference } from '../checkpoint/checkpoint.ts';
import { CheckpointError } from '../checkpoint/error.ts';
import { readSafetensorsHeader } from '../checkpoint/safetensors.ts';
import { HF_FILES, readHfFolder } from '../hf/folder.ts';
import { defaultGenerationConfig, parseGenerationConfig, type HfGenerationConfig } from '../hf/generation-config.ts';
import { readJsonObject, tokenIdsField } from '../hf/json-file.ts';
import { readTokenizerConfig, readTokenizerIds, type HfTokenizerConfig } from '../hf/tokenizer-files.ts';
import { readHfWeights } from '../hf/weights.ts';
import { modelConfig, type ModelConfig, type ModelShape } from '../model/config.ts';
import { loadModel } from '../stages/model-checkpoint.ts';
import { loadChatTemplate, type ChatTemplate } from '../tokenizer/chat-template.ts';
import { END } from '../tokenizer/special-tokens.ts';
import { loadTokenizer } from '../tokenizer/tokenizer-json.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

// The model a command line names (`rpt sample`, `rpt export`): a Hugging Face folder (it has
// config.json) or a checkpoint this project wrote (model.safetensors whose __metadata__ holds
// model_config, tokenizer_path and tokenizer_sha256). Everything but the weights is read when it
// is opened, so that a command can refuse its arguments before reading gigabytes.
//
// A checkpoint's tokenizer is the tokenizer.json its metadata names, which must still hash to the
// sha256 stored with the weights. When that file sits in a Hugging Face folder (a
// tokenizer_config.json beside it: the model was trained from a pretrained one), that folder
// supplies what the checkpoint lacks: the chat template, the bos/eos/pad tokens, the
// end-of-sequence ids and the sampling defaults of generation_config.json; the tokenizer is then
// loaded as a pretrained model's (never appended to). Otherwise it is one this project trained,
// loaded as the runs load it (the reasoning markers appended when the file lacks them), and the
// model stops at `<end>`.

/** The tokenizer side of a Hugging Face folder: its tokenizer_config.json and generation defaults. */
export interface HfTokenizerSide {
  dir: string; // the folder holding tokenizer.json and tokenizer_config.json
  tokens: HfTokenizerConfig; // special token strings and the chat template
  generation: HfGenerationConfig; // end-of-sequence ids and sampling defaults
}

export interface ModelSource {
  kind: 'huggingface' | 'checkpoint';
  dir: string;
  config: ModelConfig;
  tokenizerPath: string;
  tokenizer: Tokenizer;
  hf: HfTokenizerSide | undefined; // the Hugging Face folder of the tokenizer, when there is one
  eosIds: number[]; // generation stops at any of them
  weights(): Promise<Float32Array>; // flat, as paramSpecs(config) lays them out
}

/** The model at `path`: a folder, or a checkpoint's model.safetensors (its folder is meant). */
export async function openModel(path: string): Promise<ModelSource> {
  const info = statSync(path, { throwIfNoEntry: false });
  if (info === undefined) throw new Error(`${path}: no such model folder`);
  const dir = info.isDirectory() ? path : basename(path) === HF_FILES.weights ? dirname(path) : undefined;
  if (dir === undefined) throw new Error(`${path}: a model is a folder (a Hugging Face folder with config.json, or an rpt checkpoint), not a file`);
  if (existsSync(join(dir, HF_FILES.config))) return openHfFolder(dir);
  if (existsSync(join(dir, HF_FILES.weights))) return openCheckpoint(dir);
  throw new Error(`${dir}: neither a Hugging Face folder (no ${HF_FILES.config}) nor an rpt checkpoint (no ${HF_FILES.weights})`);
}

function openHfFolder(dir: string): Promise<ModelSource> {
  const folder = readHfFolder(dir);
  return withTokenizer({
    kind: 'huggingface',
    dir,
    config: folder.config,
    tokenizerPath: folder.tokenizerPath,
    hf: { dir, tokens: folder.tokenizer, generation: folder.generation },
    weights: () => readHfWeights(dir, folder.config),
  });
}

/** A checkpoint of this project; reads the weights' header now and the weights when asked. */
async function openCheckpoint(dir: string): Promise<ModelSource> {
  const modelPath = join(dir, HF_FILES.weights);
  const { metadata } = readSafetensorsHeader(modelPath);
  for (const key of ['model_config', 'tokenizer_path', 'tokenizer_sha256']) {
    if (metadata[key] === undefined) throw new CheckpointError(modelPath, `__metadata__ lacks '${key}'; the file is not an rpt checkpoint (and the folder has no ${HF_FILES.config}, so it is no Hugging Face folder either)`);
  }
  let config: ModelConfig;
  try {
    config = modelConfig(JSON.parse(metadata.model_config) as ModelShape);
  } catch (error) {
    throw new CheckpointError(modelPath, `__metadata__ model_config: ${(error as Error).message}`);
  }
  const tokenizerPath = resolve(metadata.tokenizer_path);
  let sha256: string;
  try {
    sha256 = (await tokenizerReference(tokenizerPath)).sha256;
  } catch (error) {
    throw new Error(`${dir}: the checkpoint's tokenizer ${tokenizerPath} cannot be read (${(error as Error).message.replace(`${tokenizerPath}: `, '')}); the weights are meaningless without the tokenizer they were trained with`);
  }
  if (sha256 !== metadata.tokenizer_sha256) {
    throw new Error(`${dir}: the checkpoint's tokenizer ${tokenizerPath} has changed since the model was trained (sha256 ${sha256.slice(0, 12)}…, the checkpoint records ${metadata.tokenizer_sha256.slice(0, 12)}…)`);
  }
  const hfDir = dirname(tokenizerPath);
  const hf = existsSync(join(hfDir, HF_FILES.tokenizerConfig)) ? readTokenizerSide(hfDir) : undefined;
  return withTokenizer({
    kind: 'checkpoint',
    dir,
    config,
    tokenizerPath,
    hf,
    weights: async () => {
      const loaded = await loadModel(dir);
      if (JSON.stringify(loaded.config) !== JSON.stringify(config)) throw new CheckpointError(modelPath, 'the model config changed while it was read');
      return loaded.flat;
    },
  });
}

/** tokenizer_config.json and generation_config.json of a folder; the eos/bos ids config.json names stand in for a missing generation_config.json. */
function readTokenizerSide(dir: string): HfTokenizerSide {
  const tokens = readTokenizerConfig(join(dir, HF_FILES.tokenizerConfig), join(dir, HF_FILES.chatTemplate));
  const configPath = join(dir, HF_FILES.config);
  const config = readJsonObject(configPath, 'optional');
  const fallback = { bosTokenId: config === undefined ? undefined : tokenIdsField(configPath, config, 'bos_token_id')[0], eosTokenIds: config === undefined ? [] : tokenIdsField(configPath, config, 'eos_token_id') };
  const generationPath = join(dir, HF_FILES.generation);
  const generation = readJsonObject(generationPath, 'optional');
  return { dir, tokens, generation: generation === undefined ? defaultGenerationConfig(fallback) : parseGenerationConfig(generationPath, generation, fallback) };
}

async function withTokenizer(source: Omit<ModelSource, 'tokenizer' | 'eosIds'>): Promise<ModelSource> {
  const tokenizer = source.hf ? await loadTokenizer(source.tokenizerPath, { forModel: true }) : await loadTokenizer(source.tokenizerPath);
  if (tokenizer.vocabSize > source.config.vocabSize) {
    throw new Error(`${source.tokenizerPath}: the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocabulary of ${source.config.vocabSize}`);
  }
  const eosIds = new Set<number>();
  if (source.hf) {
    for (const id of source.hf.generation.eosTokenIds) eosIds.add(id);
    const eosToken = source.hf.tokens.eosToken;
    if (eosToken !== undefined) {
      const id = tokenizer.specialTokens.get(eosToken) ?? readTokenizerIds(source.tokenizerPath).get(eosToken);
      if (id === undefined) throw new Error(`${join(source.hf.dir, HF_FILES.tokenizerConfig)}: eos_token ${JSON.stringify(eosToken)} is not a token of ${source.tokenizerPath}`);
      eosIds.add(id);
    }
  }
  if (tokenizer.specialIds !== undefined && (source.hf === undefined || eosIds.size === 0)) eosIds.add(tokenizer.specialIds[END]);
  for (const id of eosIds) {
    if (id >= source.config.vocabSize) throw new Error(`${source.dir}: end-of-sequence id ${id} is outside the model's vocabulary of ${source.config.vocabSize}`);
  }
  return { ...source, tokenizer, eosIds: [...eosIds] };
}

/** The chat template of the model's tokenizer, or an error saying why there is none. */
export async function chatTemplateOf(source: ModelSource): Promise<ChatTemplate> {
  if (source.hf === undefined) {
    throw new Error(`${source.dir}: no chat template: the checkpoint's tokenizer ${source.tokenizerPath} is not a Hugging Face model's (no ${HF_FILES.tokenizerConfig} beside it); models trained here use the project's special-token format`);
  }
  return loadChatTemplate(join(source.hf.dir, HF_FILES.tokenizerConfig));
}

/**
 * The text of generated ids. An id the model can sample but the tokenizer has no token for
 * (Qwen pads its embedding past the tokenizer: vocab_size 151936 over 151669 tokens) stands for
 * no text; it stays in the ids.
 */
export function decodeGenerated(tokenizer: Tokenizer, ids: ArrayLike<number>): string {
  const known: number[] = [];
  for (let i = 0; i < ids.length; i++) if (hasToken(tokenizer, ids[i])) known.push(ids[i]);
  return tokenizer.decode(known);
}

function hasToken(tokenizer: Tokenizer, id: number): boolean {
  if (id < 0 || id >= tokenizer.vocabSize) return false;
  try {
    tokenizer.tokenBytes(id);
    return true;
  } catch {
    return false; // a gap in the tokenizer's ids
  }
}

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ExperimentIR, ModelRefIR } from '../../dsl/ir.ts';
import type { Backend } from '../backend/backend.ts';
import { tokenizerReference } from '../checkpoint/checkpoint.ts';
import { HF_FILES, readHfFolder } from '../hf/folder.ts';
import { locateHfWeights, readHfWeights } from '../hf/weights.ts';
import { modelConfig, type ModelConfig } from '../model/config.ts';
import { initParams } from '../model/params.ts';
import { Transformer } from '../model/transformer.ts';
import { contentHash } from './cache.ts';
import { loadModel } from './model-checkpoint.ts';
import type { PretrainResult } from './pretrain.ts';
import type { TokenizerResult } from './tokenizer.ts';

// The models an experiment names: their shapes, and the weights a stage that uses one (the
// filter's proxy, the evaluator) starts from, with a hash that stands for those weights: a model
// trained here, a checkpoint, or a Hugging Face folder.

/** The model config of the experiment's model `name`, trained here; its vocabulary must be the tokenizer's. */
export function declaredModelConfig(ir: ExperimentIR, name: string, tokenizer: TokenizerResult): ModelConfig {
  const declared = ir.models[name];
  if (!declared) throw new Error(`the experiment declares no model named \`${name}\``);
  const t = declared.transformer;
  if (!t) throw new Error(`model \`${name}\` is a Hugging Face model, not one trained here`);
  if (t.vocab !== null && t.vocab !== tokenizer.vocabSize) {
    throw new Error(`model \`${name}\`: vocab ${t.vocab} differs from the ${tokenizer.vocabSize} tokens of ${tokenizer.path}; leave \`vocab\` out to take it from the tokenizer`);
  }
  return modelConfig({
    vocabSize: tokenizer.vocabSize,
    layers: t.layers,
    dim: t.dim,
    heads: t.heads,
    ffnHidden: t.ffn,
    context: t.context,
    tiedEmbeddings: t.tied_embeddings,
  });
}

export interface ResolvedModel {
  label: string; // how reports name it: the model's name, or the checkpoint's path
  hash: string; // changes whenever the weights could
  config: ModelConfig;
  weights(): Promise<Float32Array>; // flat, as paramSpecs(config) lays them out
  load(backend: Backend): Promise<Transformer>;
}

function resolved(label: string, hash: string, config: ModelConfig, weights: () => Promise<Float32Array>): ResolvedModel {
  return { label, hash, config, weights, load: async (backend) => new Transformer(backend, config, await weights()) };
}

/**
 * The weights a model reference stands for: a declared model's pre-trained result (or its
 * seeded initialisation when it declares no pre-training), or a checkpoint file, whose path is
 * relative to `baseDir` and whose tokenizer must be this run's.
 */
export async function resolveModel(ir: ExperimentIR, ref: ModelRefIR, pretrained: Record<string, PretrainResult>, tokenizer: TokenizerResult, baseDir: string): Promise<ResolvedModel> {
  if (ref.kind === 'model') {
    const huggingface = ir.models[ref.name]?.huggingface;
    if (huggingface) return resolveHuggingface(ref.name, resolve(baseDir, huggingface.path), huggingface.context, tokenizer);
    const config = declaredModelConfig(ir, ref.name, tokenizer);
    const seed = ir.models[ref.name].transformer!.init_seed;
    if (ir.models[ref.name].pretrain === null) {
      const hash = contentHash({ initialised: config, seed, tokenizer: tokenizer.sha256 });
      return resolved(ref.name, hash, config, async () => initParams(config, seed));
    }
    const result = pretrained[ref.name];
    if (!result) throw new Error(`model \`${ref.name}\` must be pre-trained before it is used`);
    return resolved(ref.name, result.hash, config, async () => (await loadModel(result.checkpoint)).flat);
  }
  const path = resolve(baseDir, ref.path);
  // The reference may name the checkpoint's folder or its model.safetensors.
  const dir = (await stat(path)).isDirectory() ? path : dirname(path);
  const loaded = await loadModel(dir);
  if (loaded.tokenizerSha256 !== tokenizer.sha256) {
    throw new Error(`${dir}: the checkpoint was trained with another tokenizer (sha256 ${loaded.tokenizerSha256.slice(0, 12)}…) than this run's ${tokenizer.path} (${tokenizer.sha256.slice(0, 12)}…)`);
  }
  const hash = createHash('sha256').update(await readFile(resolve(dir, 'model.safetensors'))).digest('hex');
  return resolved(ref.path, hash, loaded.config, async () => loaded.flat);
}

/**
 * A Hugging Face folder's model, its context cut to `context` when given. Its tokenizer must be
 * the run's (the experiment's checks compare them; this holds for files changed since).
 */
async function resolveHuggingface(name: string, dir: string, context: number | null, tokenizer: TokenizerResult): Promise<ResolvedModel> {
  const folder = readHfFolder(dir);
  if ((await tokenizerReference(folder.tokenizerPath)).sha256 !== tokenizer.sha256) {
    throw new Error(`model \`${name}\`: ${folder.tokenizerPath} differs from the run's tokenizer ${tokenizer.path}`);
  }
  const config: ModelConfig = { ...folder.config, context: context ?? folder.config.context };
  const { shards } = locateHfWeights(dir, folder.config);
  const hash = createHash('sha256').update(JSON.stringify(config));
  for (const file of [join(dir, HF_FILES.config), ...shards]) hash.update(await fileSha256(file));
  return resolved(name, hash.digest('hex'), config, () => readHfWeights(dir, folder.config));
}

// A run resolves the same folder for several stages; its weight files (gigabytes) are hashed
// once per process while their size and modification time stay the same.
const fileHashes = new Map<string, string>();

async function fileSha256(path: string): Promise<string> {
  const { size, mtimeMs } = await stat(path);
  const key = `${path}\0${size}\0${mtimeMs}`;
  let digest = fileHashes.get(key);
  if (digest === undefined) {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    fileHashes.set(key, (digest = hash.digest('hex')));
  }
  return digest;
}

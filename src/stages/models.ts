import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ExperimentIR, ModelRefIR } from '../../dsl/ir.ts';
import type { Backend } from '../backend/backend.ts';
import { modelConfig, type ModelConfig } from '../model/config.ts';
import { initParams } from '../model/params.ts';
import { Transformer } from '../model/transformer.ts';
import { contentHash } from './cache.ts';
import { loadModel } from './model-checkpoint.ts';
import type { PretrainResult } from './pretrain.ts';
import type { TokenizerResult } from './tokenizer.ts';

// The models an experiment names: their shapes, and the weights a stage that uses one (the
// filter's proxy, the evaluator) starts from, with a hash that stands for those weights.

/** The model config of the experiment's model `name`; its vocabulary must be the tokenizer's. */
export function declaredModelConfig(ir: ExperimentIR, name: string, tokenizer: TokenizerResult): ModelConfig {
  const declared = ir.models[name];
  if (!declared) throw new Error(`the experiment declares no model named \`${name}\``);
  const t = declared.transformer;
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
    const config = declaredModelConfig(ir, ref.name, tokenizer);
    if (ir.models[ref.name].pretrain === null) {
      const seed = ir.models[ref.name].transformer.init_seed;
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

import { latestCheckpoint, loadCheckpoint, saveCheckpoint, type TokenizerReference } from '../checkpoint/checkpoint.ts';
import { CheckpointError } from '../checkpoint/error.ts';
import { modelConfig, type ModelConfig, type ModelShape } from '../model/config.ts';
import type { AdamW } from '../model/optimizer.ts';
import { paramCount, paramSpecs } from '../model/params.ts';
import type { Transformer } from '../model/transformer.ts';

// A model (and its optimizer) to and from a checkpoint directory of src/checkpoint.

/** Saves the model's weights, and the optimizer's moments and step when given, into `dir`. */
export async function saveModel(dir: string, model: Transformer, optimizer: AdamW | undefined, tokenizer: TokenizerReference, extra: Record<string, string>): Promise<void> {
  const flat = await model.exportFlat();
  const named = (arrays: Float32Array[]) => model.specs.map((spec, i) => ({ name: spec.name, shape: [...spec.shape], data: arrays[i] }));
  const weights = named(model.specs.map((spec) => flat.subarray(spec.offset, spec.offset + spec.length)));
  const state = optimizer ? await optimizer.exportState() : undefined;
  await saveCheckpoint(dir, {
    weights,
    optimizer: state ? { step: state.step, m: named(state.m), v: named(state.v) } : undefined,
    metadata: { modelConfig: model.config, tokenizer, extra },
  });
}

export interface LoadedModel {
  config: ModelConfig;
  flat: Float32Array; // the parameters, laid out as paramSpecs(config)
  optimizer?: { step: number; m: Float32Array[]; v: Float32Array[] }; // per spec
  tokenizerSha256: string;
  extra: Record<string, string>;
}

/** Reads a checkpoint written by `saveModel` (or any with the same names and shapes). */
export async function loadModel(dir: string, { withOptimizer = false } = {}): Promise<LoadedModel> {
  const checkpoint = await loadCheckpoint(dir, { withOptimizer });
  let config: ModelConfig;
  try {
    // modelConfig gives fields added since the checkpoint was written (kvHeads, headDim, qkvBias, qkNorm) their defaults
    config = modelConfig(checkpoint.metadata.modelConfig as ModelShape);
  } catch (error) {
    throw new CheckpointError(dir, (error as Error).message);
  }
  const specs = paramSpecs(config);
  const byName = (tensors: { name: string; shape: number[]; data: Float32Array }[], what: string): Float32Array[] => {
    const map = new Map(tensors.map((tensor) => [tensor.name, tensor]));
    return specs.map((spec) => {
      const tensor = map.get(spec.name);
      if (!tensor) throw new CheckpointError(dir, `the checkpoint lacks ${what} ${spec.name}`);
      if (tensor.shape.join(',') !== spec.shape.join(',')) throw new CheckpointError(dir, `${what} ${spec.name} has shape [${tensor.shape}], the model config needs [${spec.shape}]`);
      return tensor.data;
    });
  };
  const flat = new Float32Array(paramCount(config));
  byName(checkpoint.weights, 'weight').forEach((data, i) => flat.set(data, specs[i].offset));
  const loaded: LoadedModel = { config, flat, tokenizerSha256: checkpoint.metadata.tokenizer.sha256, extra: checkpoint.metadata.extra ?? {} };
  if (withOptimizer) {
    const state = checkpoint.optimizer;
    if (!state) throw new CheckpointError(dir, 'the checkpoint holds no optimizer state, so training cannot resume from it');
    loaded.optimizer = { step: state.step, m: byName(state.m, 'moment m of'), v: byName(state.v, 'moment v of') };
  }
  return loaded;
}

/**
 * The newest checkpoint of a stage directory with its optimizer state, to resume training from,
 * or undefined when there is none. A checkpoint that cannot be read, or that another stage's
 * inputs wrote, or that `problem` finds fault with, is an error naming it and the cause; it is
 * left where it is.
 */
export async function loadResumePoint(
  stageDir: string, stageHash: string, what: string, problem: (loaded: LoadedModel, step: number) => string | undefined = () => undefined,
): Promise<{ step: number; dir: string; loaded: LoadedModel } | undefined> {
  const latest = await latestCheckpoint(stageDir);
  if (!latest) return undefined;
  const resumeError = (cause: string) => new Error(`cannot resume ${what} from ${latest.dir}: ${cause}; move that directory aside to resume from an earlier checkpoint`);
  let loaded;
  try {
    loaded = await loadModel(latest.dir, { withOptimizer: true });
  } catch (error) {
    throw resumeError((error as Error).message);
  }
  if (loaded.extra.stage_hash !== stageHash) throw resumeError('it belongs to other inputs');
  const cause = problem(loaded, latest.step);
  if (cause !== undefined) throw resumeError(cause);
  return { ...latest, loaded };
}

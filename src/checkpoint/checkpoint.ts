import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncDirectory } from './atomic.ts';
import { CheckpointError } from './error.ts';
import { readSafetensors, writeSafetensors, type NamedTensor } from './safetensors.ts';
import { unlessMissing } from '../util/missing.ts';

// A checkpoint is a directory `<run>/checkpoints/step-000300/` holding
//   model.safetensors      the weights, under Hugging Face Llama names; its __metadata__ holds
//                          format "pt", model_config (JSON), tokenizer_path, tokenizer_sha256,
//                          optimizer_state (present when the next file is) and the run's extras
//   optimizer.safetensors  AdamW moments `m.<name>` and `v.<name>` for every weight; its
//                          __metadata__ holds optimizer "adamw" and step
// The directory is written as `step-000300.tmp/` and renamed when both files are complete, so a
// directory with the final name is always whole; a crash leaves only a `.tmp` directory, which
// the next save of that step clears.

const MODEL_FILE = 'model.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';

/** Which tokenizer the weights were trained with: where it was, and a hash of its content. */
export interface TokenizerReference {
  path: string;
  sha256: string;
}

export interface CheckpointMetadata {
  modelConfig: unknown; // any JSON value; the model validates it when loading
  tokenizer: TokenizerReference;
  extra?: Record<string, string>; // further fields the run keeps, e.g. its experiment version
}

/** AdamW state: first and second moments with the same names and shapes as the weights. */
export interface OptimizerState {
  step: number; // optimizer steps taken so far
  m: NamedTensor[];
  v: NamedTensor[];
}

export interface Checkpoint {
  weights: NamedTensor[];
  optimizer?: OptimizerState;
  metadata: CheckpointMetadata;
}

// Keys of model.safetensors' __metadata__ that the checkpoint itself fills in.
const RESERVED_KEYS = ['format', 'model_config', 'tokenizer_path', 'tokenizer_sha256', 'optimizer_state'];

/** The directory of the checkpoint taken at `step` in a run. */
export function checkpointDir(runDir: string, step: number): string {
  if (!(Number.isSafeInteger(step) && step >= 0)) throw new Error(`a checkpoint step must be an integer >= 0, got ${step}`);
  return join(runDir, 'checkpoints', `step-${String(step).padStart(6, '0')}`);
}

/** The steps of a run's complete checkpoints, oldest first. */
export async function checkpointSteps(runDir: string): Promise<number[]> {
  const names = await unlessMissing(readdir(join(runDir, 'checkpoints')), []);
  // `.tmp` directories of unfinished saves, and anything else, are not checkpoints.
  const steps = names.flatMap((name) => /^step-(\d+)$/.exec(name)?.[1] ?? []).map(Number);
  return steps.sort((a, b) => a - b);
}

/** The newest complete checkpoint of a run, or undefined when it has none. */
export async function latestCheckpoint(runDir: string): Promise<{ step: number; dir: string } | undefined> {
  const step = (await checkpointSteps(runDir)).at(-1);
  return step === undefined ? undefined : { step, dir: checkpointDir(runDir, step) };
}

/**
 * Removes a run's checkpoints beyond the `keep` newest, except those `spared` (e.g. the steps an
 * evaluation will read). The newest is never removed, so a resume always has it.
 */
export async function pruneCheckpoints(runDir: string, keep: number, spared: (step: number) => boolean = () => false): Promise<number[]> {
  const candidates = (await checkpointSteps(runDir)).filter((step) => !spared(step));
  const removed = candidates.slice(0, Math.max(0, candidates.length - Math.max(1, keep)));
  for (const step of removed) await rm(checkpointDir(runDir, step), { recursive: true, force: true });
  return removed;
}

/** Hashes the tokenizer file so that a checkpoint can name exactly the tokenizer it needs. */
export async function tokenizerReference(path: string): Promise<TokenizerReference> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    throw new CheckpointError(path, `the tokenizer file cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return { path, sha256: hash.digest('hex') };
}

/** Writes a checkpoint into the new directory `dir`, which appears only once complete. */
export async function saveCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const { weights, optimizer, metadata } = checkpoint;
  if (await exists(dir)) throw new CheckpointError(dir, 'a checkpoint directory of this name already exists; checkpoints are never overwritten');
  const temp = `${dir}.tmp`;
  const modelMetadata = encodeModelMetadata(join(dir, MODEL_FILE), metadata, optimizer !== undefined);
  if (optimizer !== undefined) checkOptimizerState(join(dir, OPTIMIZER_FILE), optimizer, weights);
  await rm(temp, { recursive: true, force: true }); // left behind by a save that crashed
  await mkdir(temp, { recursive: true });
  try {
    await writeSafetensors(join(temp, MODEL_FILE), weights, modelMetadata);
    if (optimizer !== undefined) {
      const moments = [...prefixed('m.', optimizer.m), ...prefixed('v.', optimizer.v)];
      await writeSafetensors(join(temp, OPTIMIZER_FILE), moments, { optimizer: 'adamw', step: String(optimizer.step) });
    }
    await rename(temp, dir);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  await syncDirectory(dirname(dir));
}

/**
 * Reads the checkpoint in `dir`. Its optimizer state, when it has one, is read too unless
 * `withOptimizer` is false: an evaluator needs only the weights, a third of the bytes.
 */
export async function loadCheckpoint(dir: string, { withOptimizer = true } = {}): Promise<Checkpoint> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined) throw new CheckpointError(dir, 'the checkpoint directory does not exist');
  if (!info.isDirectory()) throw new CheckpointError(dir, 'a checkpoint is a directory, but this is a file');
  const modelPath = join(dir, MODEL_FILE);
  const model = await readSafetensors(modelPath);
  const metadata = decodeModelMetadata(modelPath, model.metadata);
  const checkpoint: Checkpoint = { weights: model.tensors, metadata };
  if (withOptimizer && model.metadata.optimizer_state !== undefined) {
    checkpoint.optimizer = await readOptimizerState(join(dir, OPTIMIZER_FILE), model.tensors);
  }
  return checkpoint;
}

function encodeModelMetadata(path: string, metadata: CheckpointMetadata, withOptimizer: boolean): Record<string, string> {
  const extra = metadata.extra ?? {};
  const clash = RESERVED_KEYS.find((key) => Object.hasOwn(extra, key));
  if (clash !== undefined) throw new CheckpointError(path, `extra metadata cannot use the key '${clash}', which the checkpoint fills in itself`);
  const modelConfig = JSON.stringify(metadata.modelConfig);
  if (modelConfig === undefined) throw new CheckpointError(path, 'the model config is not a JSON value');
  const fields: Record<string, string> = {
    ...extra,
    format: 'pt', // Hugging Face transformers refuses safetensors weights without it
    model_config: modelConfig,
    tokenizer_path: metadata.tokenizer.path,
    tokenizer_sha256: metadata.tokenizer.sha256,
  };
  if (withOptimizer) fields.optimizer_state = OPTIMIZER_FILE;
  return fields;
}

function decodeModelMetadata(path: string, fields: Record<string, string>): CheckpointMetadata {
  for (const key of ['model_config', 'tokenizer_path', 'tokenizer_sha256']) {
    if (fields[key] === undefined) throw new CheckpointError(path, `__metadata__ lacks '${key}'; the file is not an rpt checkpoint`);
  }
  let modelConfig: unknown;
  try {
    modelConfig = JSON.parse(fields.model_config);
  } catch (err) {
    throw new CheckpointError(path, `__metadata__ model_config is not valid JSON (${(err as Error).message})`);
  }
  const extra: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) if (!RESERVED_KEYS.includes(key)) extra[key] = value;
  return { modelConfig, tokenizer: { path: fields.tokenizer_path, sha256: fields.tokenizer_sha256 }, extra };
}

async function readOptimizerState(path: string, weights: NamedTensor[]): Promise<OptimizerState> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.optimizer !== 'adamw' || !/^\d+$/.test(metadata.step ?? '')) {
    throw new CheckpointError(path, `__metadata__ must name optimizer 'adamw' and a step count, but holds ${JSON.stringify(metadata)}`);
  }
  const m: NamedTensor[] = [];
  const v: NamedTensor[] = [];
  for (const tensor of tensors) {
    const moments = tensor.name.startsWith('m.') ? m : tensor.name.startsWith('v.') ? v : undefined;
    if (moments === undefined) throw new CheckpointError(path, `tensor '${tensor.name}' is neither an 'm.' nor a 'v.' moment`);
    moments.push({ ...tensor, name: tensor.name.slice(2) });
  }
  const state = { step: Number(metadata.step), m, v };
  checkOptimizerState(path, state, weights);
  return state;
}

/** Both moment lists must hold exactly one tensor per weight, with the weight's name and shape. */
function checkOptimizerState(path: string, optimizer: OptimizerState, weights: NamedTensor[]): void {
  if (!(Number.isSafeInteger(optimizer.step) && optimizer.step >= 0)) throw new CheckpointError(path, `the optimizer step count must be an integer >= 0, got ${optimizer.step}`);
  const shapes = new Map(weights.map((w) => [w.name, w.shape.join(',')]));
  for (const [label, moments] of [['m', optimizer.m], ['v', optimizer.v]] as const) {
    const seen = new Set<string>();
    for (const { name, shape } of moments) {
      const expected = shapes.get(name);
      if (expected === undefined) throw new CheckpointError(path, `optimizer moment ${label}.${name} belongs to no weight`);
      if (expected !== shape.join(',')) throw new CheckpointError(path, `optimizer moment ${label}.${name} has shape [${shape}] but the weight has [${expected}]`);
      seen.add(name);
    }
    const missing = weights.find((w) => !seen.has(w.name));
    if (missing !== undefined) throw new CheckpointError(path, `optimizer moment ${label}.${missing.name} is missing`);
  }
}

function prefixed(prefix: string, tensors: NamedTensor[]): NamedTensor[] {
  return tensors.map((t) => ({ ...t, name: prefix + t.name }));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

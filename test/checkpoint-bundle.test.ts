import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkpointDir,
  latestCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  tokenizerReference,
  type Checkpoint,
} from '../src/checkpoint/checkpoint.ts';
import { CheckpointError } from '../src/checkpoint/error.ts';
import { readSafetensors, writeSafetensors } from '../src/checkpoint/safetensors.ts';

let runDir: string;
beforeEach(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'rpt-checkpoint-'));
});
afterEach(async () => {
  await rm(runDir, { recursive: true, force: true });
});

function sample(seed: number): Checkpoint {
  const values = (n: number, scale: number) => Float32Array.from({ length: n }, (_, i) => (i + 1) * scale + seed);
  const shapes: [string, number[]][] = [
    ['model.embed_tokens.weight', [5, 2]],
    ['model.layers.0.self_attn.q_proj.weight', [2, 2]],
    ['model.norm.weight', [2]],
  ];
  return {
    weights: shapes.map(([name, shape], k) => ({ name, shape, data: values(shape.reduce((a, b) => a * b, 1), k + 1) })),
    optimizer: {
      step: 300 + seed,
      m: shapes.map(([name, shape]) => ({ name, shape, data: values(shape.reduce((a, b) => a * b, 1), -0.001) })),
      v: shapes.map(([name, shape]) => ({ name, shape, data: values(shape.reduce((a, b) => a * b, 1), 1e-6) })),
    },
    metadata: {
      modelConfig: { layers: 1, dim: 2, heads: 1, vocab: 5, ropeTheta: 10000 },
      tokenizer: { path: 'runs/x/tokenizer.json', sha256: 'ab'.repeat(32) },
      extra: { experiment_version: '3' },
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  return error as Error;
}

describe('saving and loading a checkpoint', () => {
  it('round-trips weights, optimizer moments, step and metadata', async () => {
    const saved = sample(0);
    const dir = checkpointDir(runDir, 300);
    expect(dir).toBe(join(runDir, 'checkpoints', 'step-000300'));
    await saveCheckpoint(dir, saved);
    expect((await readdir(dir)).sort()).toEqual(['model.safetensors', 'optimizer.safetensors']);
    const loaded = await loadCheckpoint(dir);
    const sortByName = <T extends { name: string }>(list: T[]) => [...list].sort((a, b) => a.name.localeCompare(b.name));
    expect(sortByName(loaded.weights)).toEqual(sortByName(saved.weights));
    expect(loaded.optimizer!.step).toBe(300);
    expect(sortByName(loaded.optimizer!.m)).toEqual(sortByName(saved.optimizer!.m));
    expect(sortByName(loaded.optimizer!.v)).toEqual(sortByName(saved.optimizer!.v));
    expect(loaded.metadata).toEqual(saved.metadata);
  });

  it('writes weights that Hugging Face tools accept: format pt, config and tokenizer in __metadata__', async () => {
    const dir = checkpointDir(runDir, 1);
    await saveCheckpoint(dir, sample(0));
    const { tensors, metadata } = await readSafetensors(join(dir, 'model.safetensors'));
    expect(tensors.map((t) => t.name)).toEqual(['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.norm.weight']);
    expect(metadata).toEqual({
      format: 'pt',
      model_config: '{"layers":1,"dim":2,"heads":1,"vocab":5,"ropeTheta":10000}',
      tokenizer_path: 'runs/x/tokenizer.json',
      tokenizer_sha256: 'ab'.repeat(32),
      optimizer_state: 'optimizer.safetensors',
      experiment_version: '3',
    });
    const optimizer = await readSafetensors(join(dir, 'optimizer.safetensors'));
    expect(optimizer.metadata).toEqual({ optimizer: 'adamw', step: '300' });
    expect(optimizer.tensors.map((t) => t.name).sort()).toEqual([
      'm.model.embed_tokens.weight',
      'm.model.layers.0.self_attn.q_proj.weight',
      'm.model.norm.weight',
      'v.model.embed_tokens.weight',
      'v.model.layers.0.self_attn.q_proj.weight',
      'v.model.norm.weight',
    ]);
  });

  it('saves and loads weights alone, and skips the optimizer state when asked', async () => {
    const { weights, metadata } = sample(0);
    const weightsOnly = checkpointDir(runDir, 0);
    await saveCheckpoint(weightsOnly, { weights, metadata });
    expect(await readdir(weightsOnly)).toEqual(['model.safetensors']);
    expect((await loadCheckpoint(weightsOnly)).optimizer).toBeUndefined();

    const full = checkpointDir(runDir, 10);
    await saveCheckpoint(full, sample(0));
    await rm(join(full, 'optimizer.safetensors')); // not even looked at
    const loaded = await loadCheckpoint(full, { withOptimizer: false });
    expect(loaded.optimizer).toBeUndefined();
    expect(loaded.weights).toHaveLength(3);
  });

  it('never overwrites an existing checkpoint', async () => {
    const dir = checkpointDir(runDir, 5);
    await saveCheckpoint(dir, sample(0));
    const error = await rejection(saveCheckpoint(dir, sample(1)));
    expect(error.message).toBe(`${dir}: a checkpoint directory of this name already exists; checkpoints are never overwritten`);
    expect((await loadCheckpoint(dir)).optimizer!.step).toBe(300);
  });

  it('refuses optimizer moments that do not match the weights, writing nothing', async () => {
    const dir = checkpointDir(runDir, 7);
    const missing = sample(0);
    missing.optimizer!.v.pop();
    expect((await rejection(saveCheckpoint(dir, missing))).message).toMatch(/optimizer\.safetensors: optimizer moment v\.model\.norm\.weight is missing/);
    const stranger = sample(0);
    stranger.optimizer!.m.push({ name: 'lm_head.weight', shape: [1], data: new Float32Array(1) });
    expect((await rejection(saveCheckpoint(dir, stranger))).message).toMatch(/optimizer moment m\.lm_head\.weight belongs to no weight/);
    const misshapen = sample(0);
    misshapen.optimizer!.m[2] = { name: 'model.norm.weight', shape: [1, 2], data: new Float32Array(2) };
    expect((await rejection(saveCheckpoint(dir, misshapen))).message).toMatch(/optimizer moment m\.model\.norm\.weight has shape \[1,2\] but the weight has \[2\]/);
    expect(await readdir(join(runDir, 'checkpoints')).catch(() => [])).toEqual([]);
  });

  it('refuses a step count that is not a whole number', async () => {
    const checkpoint = sample(0);
    checkpoint.optimizer!.step = 2.5;
    const dir = checkpointDir(runDir, 2);
    expect((await rejection(saveCheckpoint(dir, checkpoint))).message).toBe(`${join(dir, 'optimizer.safetensors')}: the optimizer step count must be an integer >= 0, got 2.5`);
  });

  it('refuses extra metadata that would hide a field the checkpoint fills in', async () => {
    const checkpoint = sample(0);
    checkpoint.metadata.extra = { tokenizer_sha256: 'forged' };
    expect((await rejection(saveCheckpoint(checkpointDir(runDir, 1), checkpoint))).message).toMatch(/extra metadata cannot use the key 'tokenizer_sha256'/);
  });
});

describe('loading a damaged checkpoint', () => {
  it('names the missing directory, or a file in its place', async () => {
    const dir = checkpointDir(runDir, 9);
    expect((await rejection(loadCheckpoint(dir))).message).toBe(`${dir}: the checkpoint directory does not exist`);
    await mkdir(join(runDir, 'checkpoints'));
    await writeFile(dir, 'not a directory');
    expect((await rejection(loadCheckpoint(dir))).message).toBe(`${dir}: a checkpoint is a directory, but this is a file`);
  });

  it('names a missing or truncated model file', async () => {
    const dir = checkpointDir(runDir, 9);
    await saveCheckpoint(dir, sample(0));
    await truncate(join(dir, 'model.safetensors'), 100);
    expect((await rejection(loadCheckpoint(dir))).message).toMatch(new RegExp(`^${join(dir, 'model.safetensors')}: .*truncated`));
    await rm(join(dir, 'model.safetensors'));
    expect((await rejection(loadCheckpoint(dir))).message).toBe(`${join(dir, 'model.safetensors')}: the file does not exist`);
  });

  it('names a missing or corrupt optimizer file', async () => {
    const dir = checkpointDir(runDir, 9);
    await saveCheckpoint(dir, sample(0));
    const optimizerPath = join(dir, 'optimizer.safetensors');
    await writeSafetensors(optimizerPath, [{ name: 'm.model.norm.weight', shape: [2], data: new Float32Array(2) }], { optimizer: 'adamw', step: 'soon' });
    expect((await rejection(loadCheckpoint(dir))).message).toMatch(/optimizer\.safetensors: __metadata__ must name optimizer 'adamw' and a step count/);
    await writeSafetensors(optimizerPath, [{ name: 'x.model.norm.weight', shape: [2], data: new Float32Array(2) }], { optimizer: 'adamw', step: '3' });
    expect((await rejection(loadCheckpoint(dir))).message).toMatch(/tensor 'x\.model\.norm\.weight' is neither an 'm\.' nor a 'v\.' moment/);
    await writeSafetensors(optimizerPath, [{ name: 'm.model.norm.weight', shape: [2], data: new Float32Array(2) }], { optimizer: 'adamw', step: '3' });
    expect((await rejection(loadCheckpoint(dir))).message).toMatch(/optimizer moment m\.model\.embed_tokens\.weight is missing/);
    await rm(optimizerPath);
    expect((await rejection(loadCheckpoint(dir))).message).toBe(`${optimizerPath}: the file does not exist`);
  });

  it('names weights that are not an rpt checkpoint', async () => {
    const dir = join(runDir, 'foreign');
    await mkdir(dir);
    await writeSafetensors(join(dir, 'model.safetensors'), [], { format: 'pt' });
    expect((await rejection(loadCheckpoint(dir))).message).toMatch(/model\.safetensors: __metadata__ lacks 'model_config'; the file is not an rpt checkpoint/);
    await writeSafetensors(join(dir, 'model.safetensors'), [], { model_config: '{', tokenizer_path: 't', tokenizer_sha256: '0' });
    expect((await rejection(loadCheckpoint(dir))).message).toMatch(/__metadata__ model_config is not valid JSON/);
  });
});

describe('finding the latest checkpoint', () => {
  it('is undefined for a run with no checkpoints', async () => {
    expect(await latestCheckpoint(runDir)).toBeUndefined();
    expect(await latestCheckpoint(join(runDir, 'no-such-run'))).toBeUndefined();
  });

  it('picks the highest complete step, ignoring unfinished saves and other files', async () => {
    await saveCheckpoint(checkpointDir(runDir, 100), sample(0));
    await saveCheckpoint(checkpointDir(runDir, 300), sample(0));
    await saveCheckpoint(checkpointDir(runDir, 20), sample(0));
    // A save of step 400 that crashed half way, and unrelated entries.
    await mkdir(join(runDir, 'checkpoints', 'step-000400.tmp'));
    await writeFile(join(runDir, 'checkpoints', 'step-000400.tmp', 'model.safetensors'), 'half');
    await writeFile(join(runDir, 'checkpoints', 'notes.txt'), 'hello');
    expect(await latestCheckpoint(runDir)).toEqual({ step: 300, dir: checkpointDir(runDir, 300) });
    await saveCheckpoint(checkpointDir(runDir, 1_000_000), sample(0)); // beyond the zero padding
    expect(await latestCheckpoint(runDir)).toEqual({ step: 1_000_000, dir: join(runDir, 'checkpoints', 'step-1000000') });
  });

  it('clears the leftovers of a crashed save when that step is saved again', async () => {
    const stale = `${checkpointDir(runDir, 400)}.tmp`;
    await mkdir(stale, { recursive: true });
    await writeFile(join(stale, 'model.safetensors'), 'half written');
    await writeFile(join(stale, 'model.safetensors.tmp-1-abcdef'), 'half written');
    await saveCheckpoint(checkpointDir(runDir, 400), sample(4));
    expect(await readdir(join(runDir, 'checkpoints'))).toEqual(['step-000400']);
    expect((await loadCheckpoint(checkpointDir(runDir, 400))).optimizer!.step).toBe(304);
  });
});

describe('the tokenizer reference', () => {
  it('hashes the file content with SHA-256', async () => {
    const path = join(runDir, 'tokenizer.json');
    await writeFile(path, 'abc');
    expect(await tokenizerReference(path)).toEqual({ path, sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' });
  });

  it('names a tokenizer file that cannot be read', async () => {
    const path = join(runDir, 'missing.json');
    expect((await rejection(tokenizerReference(path))).message).toBe(`${path}: the tokenizer file cannot be read (ENOENT)`);
  });
});

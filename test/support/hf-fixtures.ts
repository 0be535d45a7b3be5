// The Hugging Face fixture folders (test/fixtures/hf, made by make.py there) and what the hf
// tests do with them: broken copies in a temporary directory, and the engine's logits.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/cpu/backend.ts';
import { readHfFolder } from '../../src/hf/folder.ts';
import { exportHfFolder } from '../../src/hf/export.ts';
import { readHfWeights } from '../../src/hf/weights.ts';
import { modelConfig, type ModelConfig } from '../../src/model/config.ts';
import { initParams } from '../../src/model/params.ts';
import { Transformer } from '../../src/model/transformer.ts';

export const HF_FIXTURES = 'test/fixtures/hf';
export const HF_FIXTURE_NAMES = ['llama-tied', 'llama-gqa-sharded', 'smollm2-bf16', 'qwen2-bias', 'qwen3-qknorm'] as const;

/** Absolute, the engine's f32 against make.py's float64 reference; logits have std 0.8-3.9 and agree within 1.8e-6. */
export const LOGIT_TOLERANCE = 2e-5;

/** logits.json of a fixture: the reference's logits [T][V] of one sequence of `tokens`. */
export interface ExpectedLogits {
  tokens: number[];
  logits: number[][];
}

export async function expectedLogits(dir: string): Promise<ExpectedLogits> {
  return JSON.parse(await readFile(join(dir, 'logits.json'), 'utf8')) as ExpectedLogits;
}

/** Temporary directories that `removeTemporaryDirs` clears (after each test). */
const temporary: string[] = [];

export async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rpt-hf-'));
  temporary.push(dir);
  return dir;
}

export async function removeTemporaryDirs(): Promise<void> {
  for (const dir of temporary.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** A copy of fixture `name` to break. */
export async function fixtureCopy(name: string): Promise<string> {
  const dir = await temporaryDir();
  await cp(join(HF_FIXTURES, name), dir, { recursive: true });
  return dir;
}

export async function editJson(path: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const json = JSON.parse(await readFile(path, 'utf8'));
  edit(json);
  await writeFile(path, JSON.stringify(json));
}

/** The engine's logits [T*V] on the cpu backend of one sequence `tokens` at positions 0..T-1, for the folder `dir`. */
export async function engineLogits(dir: string, tokens: number[]): Promise<Float32Array> {
  const { config } = readHfFolder(dir);
  const model = new Transformer(new CpuBackend(), config, await readHfWeights(dir, config));
  return model.backend.read(model.forward(Int32Array.from(tokens), 1, tokens.length).logits);
}

export function maxAbsDifference(got: Float32Array, expected: number[][]): number {
  const V = expected[0].length;
  let worst = 0;
  expected.forEach((row, t) => row.forEach((value, v) => (worst = Math.max(worst, Math.abs(got[t * V + v] - value)))));
  return worst;
}

/**
 * A random Hugging Face folder `dir` (made by the export, as a user's download would be laid out)
 * of the shape of `base` with the fixtures' byte-level tokenizer, its <think> </think> specials
 * and a ChatML template: for runs that need a longer context than the fixtures' 64 positions.
 */
export async function makeRandomHfFolder(dir: string, shape: Partial<ModelConfig> = {}, seed = 1): Promise<void> {
  const fixture = join(HF_FIXTURES, 'qwen3-qknorm');
  const { tokenizer } = readHfFolder(fixture);
  const config = modelConfig({ vocabSize: 272, layers: 2, dim: 32, heads: 4, kvHeads: 2, headDim: 16, ffnHidden: 48, context: 512, tiedEmbeddings: true, qkNorm: true, ropeTheta: 1e6, normEps: 1e-6, ...shape });
  await exportHfFolder(dir, config, initParams(config, seed), { tokenizerPath: join(fixture, 'tokenizer.json'), eosToken: tokenizer.eosToken, chatTemplate: tokenizer.chatTemplate });
}

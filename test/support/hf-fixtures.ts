// The Hugging Face fixture folders (test/fixtures/hf, made by make.py there) and what the hf
// tests do with them: broken copies in a temporary directory, and the engine's logits.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/cpu/backend.ts';
import { readHfFolder } from '../../src/hf/folder.ts';
import { readHfWeights } from '../../src/hf/weights.ts';
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

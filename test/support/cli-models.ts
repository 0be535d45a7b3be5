// Models for the tests of `rpt sample` and `rpt export`: checkpoints of this project (one trained
// "from scratch" with the project's own BPE tokenizer, one started from a Hugging Face fixture),
// the CLI in-process, and the greedy continuation computed from full forward passes.
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createBackend } from '../../src/backend/select.ts';
import { tokenizerReference } from '../../src/checkpoint/checkpoint.ts';
import { main } from '../../src/cli/main.ts';
import { CpuBackend } from '../../src/cpu/backend.ts';
import type { Document } from '../../src/data/document.ts';
import { readHfFolder } from '../../src/hf/folder.ts';
import { readHfWeights } from '../../src/hf/weights.ts';
import { modelConfig, type ModelConfig } from '../../src/model/config.ts';
import { argmaxTokens } from '../../src/model/infer.ts';
import { initParams, paramSpecs } from '../../src/model/params.ts';
import { Transformer } from '../../src/model/transformer.ts';
import { saveModel } from '../../src/stages/model-checkpoint.ts';
import { saveTokenizer } from '../../src/tokenizer/tokenizer-json.ts';
import { trainBpe } from '../../src/tokenizer/train.ts';
import { Random } from '../../src/util/random.ts';
import { HF_FIXTURES } from './hf-fixtures.ts';

/** The CLI in-process: exit status and what it writes to each stream. */
export async function rpt(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await main(argv, { out: (text) => (out += `${text}\n`), err: (text) => (err += `${text}\n`) });
  return { status, out, err };
}

/** What `rpt sample --json` prints for one prompt. */
export interface SampleLine {
  prompt: string;
  seed: number;
  prompt_tokens: number[];
  tokens: number[];
  text: string;
  finish: 'stop' | 'length';
}

/** `rpt sample MODEL --json --backend cpu ARGS...`, parsed; throws with stderr when it fails. */
export async function sampleJson(model: string, ...args: string[]): Promise<SampleLine[]> {
  const result = await rpt('sample', model, '--json', '--backend', 'cpu', ...args);
  if (result.status !== 0) throw new Error(`rpt sample exited ${result.status}: ${result.err}`);
  return result.out.trim().split('\n').map((line) => JSON.parse(line) as SampleLine);
}

const TEXT = `The quick brown fox jumps over the lazy dog. The dog sleeps, and the fox runs on.
Seven cats sat on the mat; three of them were grey, the others were black and white.
A model writes text one token at a time, and every token is drawn from what came before it.`;

async function* documents(): AsyncGenerator<Document> {
  for (let i = 0; i < 8; i++) yield { id: `d${i}`, text: TEXT };
}

/**
 * A checkpoint of a model trained here: a BPE tokenizer of 300 tokens trained by the project (the
 * reasoning markers included) in `dir`/tokenizer, and a Llama model with GQA whose weights are far
 * from their initialisation (matrices of std 0.3), so that sampling has entropy to show.
 */
export async function scratchCheckpoint(dir: string): Promise<{ checkpoint: string; tokenizerPath: string; config: ModelConfig; flat: Float32Array }> {
  const tokenizer = await trainBpe(documents(), 300);
  await mkdir(join(dir, 'tokenizer'), { recursive: true });
  const tokenizerPath = join(dir, 'tokenizer', 'tokenizer.json');
  await saveTokenizer(tokenizerPath, tokenizer);
  const config = modelConfig({ vocabSize: 300, layers: 2, dim: 32, heads: 4, kvHeads: 2, ffnHidden: 48, context: 64 });
  const flat = initParams(config, 7);
  const random = new Random(8);
  for (const spec of paramSpecs(config)) {
    const values = flat.subarray(spec.offset, spec.offset + spec.length);
    for (let i = 0; i < values.length; i++) values[i] = spec.init === 'ones' ? 0.5 + random.float() : values[i] * (0.3 / 0.02);
  }
  const checkpoint = join(dir, 'checkpoints', 'step-000010');
  await saveModel(checkpoint, new Transformer(new CpuBackend(), config, flat), undefined, await tokenizerReference(tokenizerPath), { stage: 'test' });
  return { checkpoint, tokenizerPath, config, flat };
}

/**
 * A checkpoint of a model started from the Hugging Face fixture `name`: the fixture is copied to
 * `dir`/model (the checkpoint's tokenizer is the copy's tokenizer.json, with its
 * tokenizer_config.json and generation_config.json beside it) and its weights saved as a checkpoint.
 */
export async function hfCheckpoint(dir: string, name: string): Promise<{ checkpoint: string; folder: string; config: ModelConfig; flat: Float32Array }> {
  const folder = join(dir, 'model');
  await cp(join(HF_FIXTURES, name), folder, { recursive: true });
  const { config, tokenizerPath } = readHfFolder(folder);
  const flat = await readHfWeights(folder, config);
  const checkpoint = join(dir, 'checkpoints', 'step-000020');
  await saveModel(checkpoint, new Transformer(new CpuBackend(), config, flat), undefined, await tokenizerReference(tokenizerPath), {});
  return { checkpoint, folder, config, flat };
}

/**
 * The greedy continuation of `prompt` computed without the KV cache: a full forward over the
 * sequence so far, its last row's argmax appended, until `maxTokens` or a token of `stop`; on
 * the backend `rpt sample --backend cpu` uses.
 */
export async function argmaxContinuation(config: ModelConfig, flat: Float32Array, prompt: number[], maxTokens: number, stop: number[]): Promise<number[]> {
  const backend = await createBackend('cpu');
  try {
    const model = new Transformer(backend, config, flat);
    const sequence = [...prompt];
    const generated: number[] = [];
    while (generated.length < maxTokens) {
      const next = (await argmaxTokens(model, Int32Array.from(sequence), 1, sequence.length))[sequence.length - 1];
      generated.push(next);
      sequence.push(next);
      if (stop.includes(next)) break;
    }
    return generated;
  } finally {
    backend.destroy();
  }
}

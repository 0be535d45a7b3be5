// `rpt export`: a checkpoint of this project written as a Hugging Face folder, then read back: the
// same config, weights and logits, and `rpt sample` on the folder writes what it writes on the
// checkpoint.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tokenizerReference } from '../src/checkpoint/checkpoint.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { readHfFolder } from '../src/hf/folder.ts';
import { readHfWeights } from '../src/hf/weights.ts';
import { modelConfig } from '../src/model/config.ts';
import { initParams } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';
import { loadModel, saveModel } from '../src/stages/model-checkpoint.ts';
import { loadTokenizer } from '../src/tokenizer/tokenizer-json.ts';
import { hfCheckpoint, rpt, sampleJson, scratchCheckpoint } from './support/cli-models.ts';
import { engineLogits, HF_FIXTURES } from './support/hf-fixtures.ts';

let temp: string;
beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'rpt-cli-export-'));
});
afterAll(async () => {
  await rm(temp, { recursive: true, force: true });
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

async function exported(checkpoint: string, name: string): Promise<string> {
  const out = join(temp, name);
  const result = await rpt('export', checkpoint, out);
  if (result.status !== 0) throw new Error(`rpt export exited ${result.status}: ${result.err}`);
  expect(result.out).toMatch(new RegExp(`^${out}: \\w+ForCausalLM with [\\d,]+ parameters`));
  return out;
}

const PROMPTS = ['--prompt', 'The quick brown fox', '--prompt', 'Seven cats'];

describe('rpt export of a model trained here', () => {
  let scratch: Awaited<ReturnType<typeof scratchCheckpoint>>;
  let out: string;
  beforeAll(async () => {
    scratch = await scratchCheckpoint(join(temp, 'scratch'));
    out = await exported(scratch.checkpoint, 'scratch-hf');
  });

  test('is LlamaForCausalLM with <end> as eos; import gives the same config, weights and tokenizer', async () => {
    const folder = readHfFolder(out);
    expect(folder.architecture).toBe('LlamaForCausalLM');
    expect(folder.config).toEqual(scratch.config);
    const tokenizer = await loadTokenizer(scratch.tokenizerPath);
    expect(folder.tokenizer).toMatchObject({ eosToken: '<end>', bosToken: undefined, chatTemplate: undefined });
    expect(folder.generation.eosTokenIds).toEqual([tokenizer.specialIds['<end>']]);
    expect(sameBits(await readHfWeights(out, folder.config), (await loadModel(scratch.checkpoint)).flat)).toBe(true);
    expect(await readFile(join(out, 'tokenizer.json'))).toEqual(await readFile(scratch.tokenizerPath));
    expect((await readdir(out)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  });

  test('gives the same logits as the checkpoint', async () => {
    const tokens = [5, 72, 101, 260, 32, 99, 280];
    const model = new Transformer(new CpuBackend(), scratch.config, (await loadModel(scratch.checkpoint)).flat);
    const before = await model.backend.read(model.forward(Int32Array.from(tokens), 1, tokens.length).logits);
    expect(sameBits(await engineLogits(out, tokens), before)).toBe(true);
  });

  test('rpt sample on the folder writes what it writes on the checkpoint, greedy and sampled', async () => {
    const args = [...PROMPTS, '--max-tokens', '20'];
    expect(await sampleJson(out, ...args, '--greedy')).toEqual(await sampleJson(scratch.checkpoint, ...args, '--greedy'));
    expect(await sampleJson(out, ...args, '--seed', '4')).toEqual(await sampleJson(scratch.checkpoint, ...args, '--seed', '4'));
  });
});

describe('rpt export of a model started from a Hugging Face model', () => {
  test('keeps the architecture, chat template, special tokens, eos ids and sampling defaults', async () => {
    const { checkpoint, folder: source, config, flat } = await hfCheckpoint(join(temp, 'from-qwen3'), 'qwen3-qknorm');
    const out = await exported(checkpoint, 'from-qwen3-hf');
    const before = readHfFolder(source);
    const after = readHfFolder(out);
    expect(after.architecture).toBe('Qwen3ForCausalLM');
    expect(after.config).toEqual(config);
    expect(after.tokenizer).toEqual(before.tokenizer);
    expect(after.generation).toMatchObject({ eosTokenIds: [269, 267], doSample: true, temperature: 0.6, topP: 0.95, topK: 20, padTokenId: 267 });
    expect(sameBits(await readHfWeights(out, config), flat)).toBe(true);
    const tokens = [268, 72, 101, 258, 32, 267];
    expect(sameBits(await engineLogits(out, tokens), await engineLogits(source, tokens))).toBe(true);

    // Sampling with the carried defaults (temperature 0.6, top-p 0.95, top-k 20), plain and through the chat template.
    const args = [...PROMPTS, '--max-tokens', '16', '--seed', '7'];
    const fromCheckpoint = await sampleJson(checkpoint, ...args);
    expect(await sampleJson(out, ...args)).toEqual(fromCheckpoint);
    expect(await sampleJson(source, ...args)).toEqual(fromCheckpoint);
    expect(await sampleJson(out, ...args, '--chat')).toEqual(await sampleJson(checkpoint, ...args, '--chat'));
  });

  test('carries a bos id that tokenizer_config.json does not name', async () => {
    const { checkpoint } = await hfCheckpoint(join(temp, 'from-qwen2'), 'qwen2-bias'); // vocab 288 over a tokenizer of 272, bos only in config.json
    const out = await exported(checkpoint, 'from-qwen2-hf');
    expect(readHfFolder(out).generation).toMatchObject({ bosTokenId: 267, eosTokenIds: [269] });
    expect(readHfFolder(out).config.vocabSize).toBe(288);
  });
});

describe('rpt export of a model whose tokenizer file lacks the reasoning markers', () => {
  test('writes the tokenizer with the markers the model was trained with, <end> its eos', async () => {
    const dir = join(temp, 'plain-tokenizer');
    await mkdir(dir, { recursive: true });
    const tokenizerPath = join(dir, 'tokenizer.json'); // 272 tokens, <think> and </think> among them; no tokenizer_config.json beside it
    await cp(join(HF_FIXTURES, 'llama-tied', 'tokenizer.json'), tokenizerPath);
    const tokenizer = await loadTokenizer(tokenizerPath);
    expect(tokenizer.vocabSize).toBe(274); // <answer> and <end> appended
    const config = modelConfig({ vocabSize: 274, layers: 1, dim: 16, heads: 2, context: 32 });
    const checkpoint = join(dir, 'checkpoint');
    await saveModel(checkpoint, new Transformer(new CpuBackend(), config, initParams(config, 3)), undefined, await tokenizerReference(tokenizerPath), {});
    const out = await exported(checkpoint, 'plain-tokenizer-hf');
    expect(readHfFolder(out).generation.eosTokenIds).toEqual([273]);
    expect((await loadTokenizer(join(out, 'tokenizer.json'), { forModel: true })).specialIds).toEqual(tokenizer.specialIds);
    const args = ['--prompt', 'Hello <think>', '--max-tokens', '10', '--greedy'];
    expect(await sampleJson(out, ...args)).toEqual(await sampleJson(checkpoint, ...args));
  });
});

describe('rpt export errors', () => {
  test('an out dir that is not empty, or is a file, is refused before anything is read or written', async () => {
    const { checkpoint } = await scratchCheckpoint(join(temp, 'refused'));
    const full = join(temp, 'full');
    await mkdir(full);
    await writeFile(join(full, 'keep.txt'), 'mine');
    const result = await rpt('export', checkpoint, full);
    expect(result.status).toBe(1);
    expect(result.err).toContain(`${full}: the directory is not empty`);
    expect(await readdir(full)).toEqual(['keep.txt']);
    const file = join(full, 'keep.txt');
    expect((await rpt('export', checkpoint, file)).err).toContain(`${file}: exists and is a file`);
    const empty = join(temp, 'empty');
    await mkdir(empty);
    expect((await rpt('export', checkpoint, empty)).status).toBe(0);
  });

  test('a missing or corrupt checkpoint, or a Hugging Face folder, names the path and the cause', async () => {
    const missing = await rpt('export', join(temp, 'nowhere'), join(temp, 'out-missing'));
    expect(missing.status).toBe(1);
    expect(missing.err).toContain(`${join(temp, 'nowhere')}: no such model folder`);

    const corrupt = join(temp, 'corrupt');
    await mkdir(corrupt);
    await writeFile(join(corrupt, 'model.safetensors'), 'not a safetensors file at all');
    const broken = await rpt('export', corrupt, join(temp, 'out-corrupt'));
    expect(broken.status).toBe(1);
    expect(broken.err).toContain(`${join(corrupt, 'model.safetensors')}: the header length is`);
    expect(broken.err).not.toMatch(/\n\s+at /);

    const notRpt = join(temp, 'not-rpt');
    await mkdir(notRpt);
    await cp(join(HF_FIXTURES, 'llama-tied', 'model.safetensors'), join(notRpt, 'model.safetensors'));
    expect((await rpt('export', notRpt, join(temp, 'out-not-rpt'))).err).toContain("__metadata__ lacks 'model_config'; the file is not an rpt checkpoint");

    const hf = await rpt('export', join(HF_FIXTURES, 'llama-tied'), join(temp, 'out-hf'));
    expect(hf.status).toBe(1);
    expect(hf.err).toContain('is a Hugging Face folder already');
    for (const name of ['out-missing', 'out-corrupt', 'out-not-rpt', 'out-hf']) expect(await readdir(temp)).not.toContain(name);
  });

  test('usage mistakes exit 2', async () => {
    for (const args of [[], ['a'], ['a', 'b', 'c'], ['a', 'b', '--force']]) {
      const result = await rpt('export', ...args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.err).toContain('usage: rpt export');
    }
  });
});

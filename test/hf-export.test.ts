// Export to a Hugging Face folder, then import: the same config, bit-identical weights, the same
// logits. With RPT_HF_EXPORT_DIR set, the exported folders and the engine's logits are also left
// there for `make.py compare` (with transformers where it is installed).
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../src/checkpoint/safetensors.ts';
import { checkHfFolder } from '../src/hf/check.ts';
import { exportHfFolder } from '../src/hf/export.ts';
import { readHfFolder } from '../src/hf/folder.ts';
import { readHfWeights } from '../src/hf/weights.ts';
import { modelConfig, type ModelConfig } from '../src/model/config.ts';
import { initParams, paramSpecs } from '../src/model/params.ts';
import { Random } from '../src/util/random.ts';
import { engineLogits, expectedLogits, HF_FIXTURE_NAMES, HF_FIXTURES, maxAbsDifference, removeTemporaryDirs, temporaryDir } from './support/hf-fixtures.ts';

afterEach(removeTemporaryDirs);

const TOKENIZER = join(HF_FIXTURES, 'llama-tied', 'tokenizer.json'); // 272 tokens
const KEEP = process.env.RPT_HF_EXPORT_DIR;

/**
 * A model as this project trains one (Llama, no biases, no q/k norm) with weights far from their
 * initialisation, so that a mistake would show in the logits: matrices of std 0.3, norm gains in [0.5, 1.5).
 */
function trainedHere(): { config: ModelConfig; flat: Float32Array } {
  const config = modelConfig({ vocabSize: 272, layers: 2, dim: 32, heads: 4, kvHeads: 2, ffnHidden: 48, context: 64, tiedEmbeddings: false, ropeTheta: 10000, normEps: 1e-5 });
  const flat = initParams(config, 7);
  const random = new Random(8);
  for (const spec of paramSpecs(config)) {
    const values = flat.subarray(spec.offset, spec.offset + spec.length);
    for (let i = 0; i < values.length; i++) values[i] = spec.init === 'ones' ? 0.5 + random.float() : values[i] * (0.3 / 0.02);
  }
  return { config, flat };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('export to a Hugging Face folder', () => {
  it('writes a model trained here as LlamaForCausalLM in F32, and reads back the same config and bits', async () => {
    const { config, flat } = trainedHere();
    const dir = join(await temporaryDir(), 'export');
    await exportHfFolder(dir, config, flat, { tokenizerPath: TOKENIZER, bosToken: '<|endoftext|>', eosToken: '<|im_end|>', chatTemplate: '{{ messages }}', generation: { temperature: 0.8, topP: 0.9 } });

    const folder = readHfFolder(dir);
    expect(folder.config).toEqual(config);
    expect(folder.architecture).toBe('LlamaForCausalLM');
    expect(folder.tokenizer).toEqual({ bosToken: '<|endoftext|>', eosToken: '<|im_end|>', padToken: undefined, chatTemplate: '{{ messages }}' });
    expect(folder.generation).toMatchObject({ bosTokenId: 267, eosTokenIds: [269], temperature: 0.8, topP: 0.9 });
    expect(sameBits(await readHfWeights(dir, config), flat)).toBe(true);

    const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(json).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', torch_dtype: 'float32', num_key_value_heads: 2, head_dim: 8, tie_word_embeddings: false, bos_token_id: 267, eos_token_id: 269 });
    const header = readSafetensorsHeader(join(dir, 'model.safetensors'));
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(new Set(header.entries.map((entry) => entry.dtype))).toEqual(new Set(['F32']));
    expect(await readFile(join(dir, 'tokenizer.json'))).toEqual(await readFile(TOKENIZER));
    expect(checkHfFolder(dir)).toMatchObject({ architecture: 'LlamaForCausalLM', dtypes: ['F32'], shards: ['model.safetensors'] });

    if (KEEP !== undefined) {
      const keep = join(KEEP, 'trained-here');
      await rm(keep, { recursive: true, force: true });
      await exportHfFolder(keep, config, flat, { tokenizerPath: TOKENIZER, eosToken: '<|im_end|>' });
      const tokens = [268, 72, 101, 258, 32, 267];
      const logits = await engineLogits(keep, tokens);
      const rows = Array.from({ length: tokens.length }, (_, t) => Array.from(logits.subarray(t * config.vocabSize, (t + 1) * config.vocabSize)));
      await writeFile(join(KEEP, 'trained-here.logits.json'), JSON.stringify({ tokens, logits: rows }));
    }
  });

  for (const name of HF_FIXTURE_NAMES) {
    it(`re-exports ${name}: the same architecture, config, weights (now F32) and logits`, async () => {
      const source = join(HF_FIXTURES, name);
      const { config, architecture, tokenizer, generation } = readHfFolder(source);
      const flat = await readHfWeights(source, config);
      const dir = join(KEEP ?? (await temporaryDir()), name);
      if (KEEP !== undefined) await rm(dir, { recursive: true, force: true });
      await exportHfFolder(dir, config, flat, { tokenizerPath: join(source, 'tokenizer.json'), eosToken: tokenizer.eosToken, bosToken: tokenizer.bosToken, chatTemplate: tokenizer.chatTemplate });
      const back = readHfFolder(dir);
      expect(back.architecture).toBe(architecture);
      expect(back.config).toEqual(config);
      expect(back.tokenizer.chatTemplate).toBe(tokenizer.chatTemplate);
      if (tokenizer.eosToken !== undefined) expect(back.generation.eosTokenIds[0]).toBe(generation.eosTokenIds[0]);
      expect(sameBits(await readHfWeights(dir, config), flat)).toBe(true);
      const expected = await expectedLogits(source);
      const before = await engineLogits(source, expected.tokens);
      const after = await engineLogits(dir, expected.tokens);
      expect(sameBits(after, before)).toBe(true);
      if (KEEP !== undefined) await writeFile(join(KEEP, `${name}.logits.json`), JSON.stringify(expected));
      expect(maxAbsDifference(after, expected.logits)).toBeLessThan(1e-4);
    });
  }

  it('refuses a destination that is not empty, and accepts an empty one', async () => {
    const { config, flat } = trainedHere();
    const dir = await temporaryDir();
    await writeFile(join(dir, 'stale.safetensors'), '');
    await expect(exportHfFolder(dir, config, flat, { tokenizerPath: TOKENIZER })).rejects.toThrow(/the directory is not empty/);
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await exportHfFolder(empty, config, flat, { tokenizerPath: TOKENIZER });
    expect(readHfFolder(empty).config).toEqual(config);
  });

  it('refuses a special token the tokenizer lacks, and a tokenizer larger than the vocabulary', async () => {
    const { config, flat } = trainedHere();
    const dir = join(await temporaryDir(), 'out');
    await expect(exportHfFolder(dir, config, flat, { tokenizerPath: TOKENIZER, eosToken: '</s>' })).rejects.toThrow(/tokenizer\.json: has no token "<\/s>" \(the eos_token to export\)/);
    const small = { ...config, vocabSize: 100 };
    await expect(exportHfFolder(dir, small, new Float32Array(0), { tokenizerPath: TOKENIZER })).rejects.toThrow(/parameter array has 0 elements/);
    await expect(exportHfFolder(dir, small, initParams(small, 1), { tokenizerPath: TOKENIZER })).rejects.toThrow(/has id 100, outside the model's vocabulary of 100/);
  });
});

// Weights of Hugging Face folders into the flat parameter array: single files and sharded
// indexes, F32, F16 and BF16, and errors naming the file and the cause for broken copies.
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../src/checkpoint/safetensors.ts';
import { readHfFolder } from '../src/hf/folder.ts';
import { locateHfWeights, readHfWeights } from '../src/hf/weights.ts';
import { paramCount, paramSpecs } from '../src/model/params.ts';
import { editJson, fixtureCopy, HF_FIXTURE_NAMES, HF_FIXTURES, removeTemporaryDirs } from './support/hf-fixtures.ts';

afterEach(removeTemporaryDirs);

async function load(dir: string): Promise<Float32Array> {
  return readHfWeights(dir, readHfFolder(dir).config);
}

describe('reading weights', () => {
  it('reads every fixture into the layout paramSpecs gives, every value finite', async () => {
    for (const name of HF_FIXTURE_NAMES) {
      const { config } = readHfFolder(join(HF_FIXTURES, name));
      const flat = await readHfWeights(join(HF_FIXTURES, name), config);
      expect(flat.length, name).toBe(paramCount(config));
      expect(flat.every(Number.isFinite), name).toBe(true);
    }
  });

  it('reads the same values as the safetensors reader, tensor by tensor, from a sharded index', async () => {
    const dir = join(HF_FIXTURES, 'llama-gqa-sharded');
    const { config } = readHfFolder(dir);
    const flat = await readHfWeights(dir, config);
    const stored = new Map<string, Float32Array>();
    for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      for (const tensor of (await readSafetensors(join(dir, shard))).tensors) stored.set(tensor.name, tensor.data);
    }
    for (const spec of paramSpecs(config)) expect(flat.subarray(spec.offset, spec.offset + spec.length), spec.name).toEqual(stored.get(spec.name));
    const located = locateHfWeights(dir, config);
    expect(located.shards.map((path) => path.split('/').pop())).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(located.index).toBe(join(dir, 'model.safetensors.index.json'));
  });

  it('widens BF16 exactly: every value is a bfloat16 (low 16 bits zero)', async () => {
    const flat = await load(join(HF_FIXTURES, 'smollm2-bf16'));
    const bits = new Uint32Array(flat.buffer);
    expect(bits.every((b) => (b & 0xffff) === 0)).toBe(true);
    expect(locateHfWeights(join(HF_FIXTURES, 'smollm2-bf16'), readHfFolder(join(HF_FIXTURES, 'smollm2-bf16')).config).dtypes).toEqual(['BF16']);
  });

  it('reads into an array the caller gives, e.g. one in shared memory, without another copy of the model', async () => {
    const dir = join(HF_FIXTURES, 'qwen2-bias');
    const { config } = readHfFolder(dir);
    const shared = new Float32Array(new SharedArrayBuffer(paramCount(config) * 4));
    expect(await readHfWeights(dir, config, shared)).toBe(shared);
    expect(shared).toEqual(await readHfWeights(dir, config));
  });

  it('ignores RoPE frequency buffers, and a tied model\'s stored lm_head', async () => {
    const dir = await fixtureCopy('llama-tied');
    const before = await load(dir);
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    const embed = tensors.find((t) => t.name === 'model.embed_tokens.weight')!;
    await writeSafetensors(join(dir, 'model.safetensors'), [
      ...tensors,
      { name: 'lm_head.weight', shape: embed.shape, data: embed.data },
      { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', shape: [4], data: new Float32Array(4) },
    ], { format: 'pt' });
    expect(await load(dir)).toEqual(before);
  });
});

describe('broken folders: errors name the file and the cause', () => {
  it('a missing shard names the index, the shard and a tensor placed in it', async () => {
    const dir = await fixtureCopy('llama-gqa-sharded');
    await rm(join(dir, 'model-00002-of-00002.safetensors'));
    await expect(load(dir)).rejects.toThrow(/model\.safetensors\.index\.json: field "weight_map" places tensor '.*' and \d+ more in shard model-00002-of-00002\.safetensors, which does not exist/);
  });

  it('a tensor the index places in a shard that lacks it, and a shard tensor the index does not list', async () => {
    const dir = await fixtureCopy('llama-gqa-sharded');
    await editJson(join(dir, 'model.safetensors.index.json'), (json) => {
      const map = json.weight_map as Record<string, string>;
      map['model.norm.weight'] = map['model.norm.weight'] === 'model-00001-of-00002.safetensors' ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
    });
    await expect(load(dir)).rejects.toThrow(/model-0000\d-of-00002\.safetensors: has no tensor 'model\.norm\.weight', which model\.safetensors\.index\.json places in it/);
    await editJson(join(dir, 'model.safetensors.index.json'), (json) => {
      const map = json.weight_map as Record<string, string>;
      delete map['model.norm.weight'];
    });
    await expect(load(dir)).rejects.toThrow(/model-0000\d-of-00002\.safetensors: holds tensor 'model\.norm\.weight', which model\.safetensors\.index\.json does not list/);
  });

  it('a shape that disagrees with config.json names the file, the tensor and the fields', async () => {
    const dir = await fixtureCopy('llama-gqa-sharded');
    await editJson(join(dir, 'config.json'), (json) => {
      json.num_key_value_heads = 4;
    });
    await expect(load(dir)).rejects.toThrow(
      /model-0000\d-of-00002\.safetensors: tensor 'model\.layers\.0\.self_attn\.k_proj\.weight' has shape \[16,32\] but config\.json gives \[32,32\] = \[num_key_value_heads \* head_dim, hidden_size\]/,
    );
    const single = await fixtureCopy('qwen2-bias');
    await editJson(join(single, 'config.json'), (json) => {
      json.intermediate_size = 40;
    });
    await expect(load(single)).rejects.toThrow(/model\.safetensors: tensor 'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[48,32\] but config\.json gives \[40,32\] = \[intermediate_size, hidden_size\]/);
  });

  it('an unknown dtype names the file, the tensor and the dtype', async () => {
    const dir = await fixtureCopy('llama-tied');
    const path = join(dir, 'model.safetensors');
    const bytes = await readFile(path);
    const header = bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0)));
    const at = header.indexOf('"dtype":"F32"');
    header.write('"dtype":"I32"', at); // same length: the header stays well-formed
    await writeFile(path, bytes);
    await expect(load(dir)).rejects.toThrow(/model\.safetensors: tensor '.*' has dtype 'I32', which cannot be read \(F32, F16 and BF16 can\)/);
  });

  it('a missing tensor names the file and the tensor; an untied config without lm_head says so', async () => {
    const dir = await fixtureCopy('qwen2-bias');
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    await writeSafetensors(join(dir, 'model.safetensors'), tensors.filter((t) => t.name !== 'model.layers.1.self_attn.v_proj.bias'), { format: 'pt' });
    await expect(load(dir)).rejects.toThrow(/model\.safetensors: tensor 'model\.layers\.1\.self_attn\.v_proj\.bias' is missing; config\.json's model needs it with shape \[16\]/);

    const tied = await fixtureCopy('llama-tied');
    await editJson(join(tied, 'config.json'), (json) => {
      json.tie_word_embeddings = false;
    });
    await expect(load(tied)).rejects.toThrow(/tensor 'lm_head\.weight' is missing.*\(config\.json has tie_word_embeddings false\)/);
  });

  it('a tensor the model has no place for (an o_proj bias in a Llama) names the file and the tensor', async () => {
    const dir = await fixtureCopy('llama-tied');
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    await writeSafetensors(join(dir, 'model.safetensors'), [...tensors, { name: 'model.layers.0.self_attn.o_proj.bias', shape: [32], data: new Float32Array(32) }], { format: 'pt' });
    await expect(load(dir)).rejects.toThrow(/model\.safetensors: holds tensor 'model\.layers\.0\.self_attn\.o_proj\.bias', which the model config\.json describes does not have/);
  });

  it('no weights at all, a PyTorch pickle instead, or both a single file and an index', async () => {
    const dir = await fixtureCopy('llama-tied');
    await rm(join(dir, 'model.safetensors'));
    await expect(load(dir)).rejects.toThrow(/has neither model\.safetensors nor model\.safetensors\.index\.json$/);
    await writeFile(join(dir, 'pytorch_model.bin'), 'pickle');
    await expect(load(dir)).rejects.toThrow(/pytorch_model\.bin is not read/);

    const both = await fixtureCopy('llama-gqa-sharded');
    await cp(join(HF_FIXTURES, 'llama-tied', 'model.safetensors'), join(both, 'model.safetensors'));
    await expect(load(both)).rejects.toThrow(/holds both model\.safetensors and model\.safetensors\.index\.json/);
  });

  it('a shard name that leaves the folder', async () => {
    const dir = await fixtureCopy('llama-gqa-sharded');
    await editJson(join(dir, 'model.safetensors.index.json'), (json) => {
      (json.weight_map as Record<string, string>)['model.norm.weight'] = '../elsewhere.safetensors';
    });
    await expect(load(dir)).rejects.toThrow(/field "weight_map" places tensor 'model\.norm\.weight' in "\.\.\/elsewhere\.safetensors", which is not a file name in the folder/);
  });
});

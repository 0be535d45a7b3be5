// `rpt check` of a Hugging Face folder: files, architecture and every shape against config.json
// from headers alone, or an error naming the file and the field.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkHfFolder } from '../src/hf/check.ts';
import { readHfFolder } from '../src/hf/folder.ts';
import { paramCount } from '../src/model/params.ts';
import { editJson, fixtureCopy, HF_FIXTURES, removeTemporaryDirs } from './support/hf-fixtures.ts';

afterEach(removeTemporaryDirs);

describe('checkHfFolder', () => {
  it('summarises each fixture: architecture, parameters, dtypes, shards', () => {
    const expected = {
      'llama-tied': ['LlamaForCausalLM', ['F32'], ['model.safetensors']],
      'llama-gqa-sharded': ['LlamaForCausalLM', ['F32'], ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']],
      'smollm2-bf16': ['LlamaForCausalLM', ['BF16'], ['model.safetensors']],
      'qwen2-bias': ['Qwen2ForCausalLM', ['F16'], ['model.safetensors']],
      'qwen3-qknorm': ['Qwen3ForCausalLM', ['F32'], ['model.safetensors']],
    } as const;
    for (const [name, [architecture, dtypes, shards]] of Object.entries(expected)) {
      const summary = checkHfFolder(join(HF_FIXTURES, name));
      expect(summary, name).toMatchObject({ architecture, dtypes, shards, tokenizerSize: 272 });
      expect(summary.parameters, name).toBe(paramCount(readHfFolder(join(HF_FIXTURES, name)).config));
    }
  });

  it('reads no tensor data: a folder whose data bytes are garbage still checks', async () => {
    const dir = await fixtureCopy('qwen3-qknorm');
    const path = join(dir, 'model.safetensors');
    const bytes = await readFile(path);
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    bytes.fill(0xff, dataStart); // NaN everywhere
    await writeFile(path, bytes);
    expect(checkHfFolder(dir).architecture).toBe('Qwen3ForCausalLM');
  });

  it('an unsupported architecture names config.json and the field', async () => {
    const dir = await fixtureCopy('llama-tied');
    await editJson(join(dir, 'config.json'), (json) => {
      json.architectures = ['GPT2LMHeadModel'];
    });
    expect(() => checkHfFolder(dir)).toThrow(new RegExp(`^${dir}/config\\.json: field "architectures" names GPT2LMHeadModel, which is not supported`));
  });

  it('a missing or unparsable file is named', async () => {
    const dir = await fixtureCopy('smollm2-bf16');
    await rm(join(dir, 'tokenizer.json'));
    expect(() => checkHfFolder(dir)).toThrow(`${dir}/tokenizer.json: the file does not exist`);
    await rm(join(dir, 'tokenizer_config.json'));
    expect(() => checkHfFolder(dir)).toThrow(`${dir}/tokenizer_config.json: the file does not exist`);
    await writeFile(join(dir, 'config.json'), '{"architectures": [');
    expect(() => checkHfFolder(dir)).toThrow(new RegExp(`^${dir}/config\\.json: not valid JSON`));
    await rm(join(dir, 'config.json'));
    expect(() => checkHfFolder(dir)).toThrow(`${dir}/config.json: the file does not exist`);
  });

  it('a tokenizer with ids beyond vocab_size names tokenizer.json and the token', async () => {
    const dir = await fixtureCopy('llama-tied');
    await editJson(join(dir, 'config.json'), (json) => {
      json.vocab_size = 270;
    });
    expect(() => checkHfFolder(dir)).toThrow(/tokenizer\.json: token "<think>" has id 270, outside config\.json's vocab_size 270/);
  });

  it("a special token that is not the tokenizer's names tokenizer_config.json and the field", async () => {
    const dir = await fixtureCopy('qwen3-qknorm');
    await editJson(join(dir, 'tokenizer_config.json'), (json) => {
      json.eos_token = '</s>';
    });
    expect(() => checkHfFolder(dir)).toThrow(/tokenizer_config\.json: field "eos_token" is "<\/s>", which is not a token of tokenizer\.json/);
  });

  it('an eos id outside the vocabulary names generation_config.json and the field', async () => {
    const dir = await fixtureCopy('qwen3-qknorm');
    await editJson(join(dir, 'generation_config.json'), (json) => {
      json.eos_token_id = [269, 5000];
    });
    expect(() => checkHfFolder(dir)).toThrow(/generation_config\.json: field "eos_token_id" holds 5000, outside config\.json's vocab_size 288/);
  });

  it('a shape that disagrees with config.json, from the header alone', async () => {
    const dir = await fixtureCopy('qwen3-qknorm');
    await editJson(join(dir, 'config.json'), (json) => {
      json.head_dim = 8;
    });
    expect(() => checkHfFolder(dir)).toThrow(/model\.safetensors: tensor 'model\.layers\.0\.self_attn\.q_proj\.weight' has shape \[64,32\] but config\.json gives \[32,32\] = \[num_attention_heads \* head_dim, hidden_size\]/);
  });
});

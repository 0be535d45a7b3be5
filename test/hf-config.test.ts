// config.json, generation_config.json and tokenizer_config.json of Hugging Face folders: the
// mapping to ModelConfig, and a refusal naming the file and the field for everything the engine
// cannot compute exactly.
import { describe, expect, it } from 'vitest';
import { hfArchitecture, parseHfConfig, toHfConfig } from '../src/hf/config.ts';
import { readHfFolder } from '../src/hf/folder.ts';
import { parseGenerationConfig } from '../src/hf/generation-config.ts';
import type { JsonObject } from '../src/hf/json-file.ts';
import { parseTokenizerConfig } from '../src/hf/tokenizer-files.ts';
import { modelConfig } from '../src/model/config.ts';
import { HF_FIXTURES as FIXTURES } from './support/hf-fixtures.ts';

const PATH = '/models/x/config.json';

/** SmolLM2-135M's config.json, as published. */
const SMOLLM2: JsonObject = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pad_token_id: 2,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.42.3',
  use_cache: true,
  vocab_size: 49152,
};

/** Qwen3-0.6B's config.json, as published. */
const QWEN3: JsonObject = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.51.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

/** Qwen2.5-0.5B's config.json, as published. */
const QWEN2: JsonObject = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_mrope: false,
  use_sliding_window: false,
  vocab_size: 151936,
};

describe('config.json to ModelConfig', () => {
  it('maps SmolLM2-135M: Llama with grouped-query attention and tied embeddings', () => {
    const parsed = parseHfConfig(PATH, SMOLLM2);
    expect(parsed.architecture).toBe('LlamaForCausalLM');
    expect(parsed.config).toEqual(modelConfig({
      vocabSize: 49152, layers: 30, dim: 576, heads: 9, kvHeads: 3, headDim: 64, ffnHidden: 1536, context: 8192,
      tiedEmbeddings: true, qkvBias: false, qkNorm: false, ropeTheta: 100000, normEps: 1e-5,
    }));
    expect(parsed).toMatchObject({ dtype: 'bfloat16', bosTokenId: 1, eosTokenIds: [2] });
  });

  it('maps Qwen3-0.6B: q/k norm and a head size of its own (16 * 128 != 1024)', () => {
    const { architecture, config } = parseHfConfig(PATH, QWEN3);
    expect(architecture).toBe('Qwen3ForCausalLM');
    expect(config).toMatchObject({ dim: 1024, heads: 16, kvHeads: 8, headDim: 128, qkNorm: true, qkvBias: false, ropeTheta: 1e6, normEps: 1e-6, context: 40960, tiedEmbeddings: true });
  });

  it('maps Qwen2.5-0.5B: q/k/v biases always; a sliding_window that use_sliding_window leaves off is accepted', () => {
    const { architecture, config } = parseHfConfig(PATH, QWEN2);
    expect(architecture).toBe('Qwen2ForCausalLM');
    expect(config).toMatchObject({ dim: 896, heads: 14, kvHeads: 2, headDim: 64, qkvBias: true, qkNorm: false });
  });

  it("takes transformers' defaults where they are conventions: Llama's kv heads and head_dim, eps 1e-6, theta 1e4, untied", () => {
    const minimal = { architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 10, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, max_position_embeddings: 16 };
    expect(parseHfConfig(PATH, minimal).config).toMatchObject({ kvHeads: 4, headDim: 8, normEps: 1e-6, ropeTheta: 10000, tiedEmbeddings: false });
    expect(parseHfConfig(PATH, minimal).eosTokenIds).toEqual([]);
  });

  it('reads RoPE as transformers 5 writes it (rope_parameters) and eos as a list', () => {
    const v5 = { ...QWEN3, rope_theta: undefined, rope_scaling: undefined, rope_parameters: { rope_type: 'default', rope_theta: 5e5 }, eos_token_id: [1, 2] };
    expect(parseHfConfig(PATH, v5).config.ropeTheta).toBe(5e5);
    expect(parseHfConfig(PATH, v5).eosTokenIds).toEqual([1, 2]);
  });

  it('reads every fixture folder', () => {
    for (const [name, architecture, dtype] of [
      ['llama-tied', 'LlamaForCausalLM', 'float32'],
      ['llama-gqa-sharded', 'LlamaForCausalLM', 'float32'],
      ['smollm2-bf16', 'LlamaForCausalLM', 'bfloat16'],
      ['qwen2-bias', 'Qwen2ForCausalLM', 'float16'],
      ['qwen3-qknorm', 'Qwen3ForCausalLM', 'float32'],
    ] as const) {
      const folder = readHfFolder(`${FIXTURES}/${name}`);
      expect(folder.architecture, name).toBe(architecture);
      expect(folder.dtype, name).toBe(dtype);
    }
  });
});

describe('config.json refusals name the file and the field', () => {
  const refusals: [string, JsonObject, RegExp][] = [
    ['another architecture', { ...SMOLLM2, architectures: ['MistralForCausalLM'] }, /"architectures" names MistralForCausalLM, which is not supported/],
    ['no architectures', { ...SMOLLM2, architectures: undefined }, /"architectures" is missing/],
    ['a model_type that disagrees', { ...SMOLLM2, model_type: 'mistral' }, /"model_type" is "mistral"/],
    ['rope_scaling', { ...SMOLLM2, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /"rope_scaling" is .*llama3.*scaled rotary/],
    ['rope_scaling of the old "type" form', { ...SMOLLM2, rope_scaling: { type: 'linear', factor: 2 } }, /"rope_scaling"/],
    ['rope_parameters of another type', { ...QWEN3, rope_parameters: { rope_type: 'yarn', factor: 4, rope_theta: 1e6 } }, /"rope_parameters" .*default rope_type/],
    ['partial rotary embeddings', { ...SMOLLM2, partial_rotary_factor: 0.5 }, /"partial_rotary_factor" is 0.5/],
    ['a sliding window (Qwen2)', { ...QWEN2, use_sliding_window: true }, /"use_sliding_window" is true: sliding-window attention/],
    ['sliding layers (Qwen3)', { ...QWEN3, layer_types: ['full_attention', 'sliding_attention'] }, /"layer_types"/],
    ['another activation', { ...SMOLLM2, hidden_act: 'gelu' }, /"hidden_act" is "gelu": only silu/],
    ['attention_bias in Llama (o_proj would have one)', { ...SMOLLM2, attention_bias: true }, /"attention_bias" is true: LlamaForCausalLM would add a bias to o_proj/],
    ['attention_bias in Qwen3', { ...QWEN3, attention_bias: true }, /"attention_bias" is true: Qwen3ForCausalLM/],
    ['mlp_bias', { ...SMOLLM2, mlp_bias: true }, /"mlp_bias" is true/],
    ['quantized weights', { ...SMOLLM2, quantization_config: { quant_method: 'bitsandbytes' } }, /"quantization_config"/],
    ['a missing size', { ...SMOLLM2, hidden_size: undefined }, /field "hidden_size" is missing/],
    ['a missing context', { ...SMOLLM2, max_position_embeddings: undefined }, /field "max_position_embeddings" is missing/],
    ["Qwen's num_key_value_heads, whose class default is one model's", { ...QWEN2, num_key_value_heads: undefined }, /field "num_key_value_heads" is missing/],
    ["Qwen3's head_dim, whose class default is one model's", { ...QWEN3, head_dim: undefined }, /field "head_dim" is missing/],
    ['a size that is not an integer', { ...SMOLLM2, vocab_size: 10.5 }, /field "vocab_size" is 10.5; it must be an integer/],
    ['kv heads that do not divide the heads', { ...SMOLLM2, num_key_value_heads: 4 }, /"num_key_value_heads" is 4, which does not divide "num_attention_heads" 9/],
    ['an odd head_dim', { ...QWEN3, head_dim: 63 }, /"head_dim" is 63; rotary embeddings need an even head size/],
    ['hidden_size not a multiple of heads without head_dim', { ...SMOLLM2, hidden_size: 577 }, /"head_dim" is missing and "hidden_size" 577/],
    ['tie_word_embeddings not a boolean', { ...SMOLLM2, tie_word_embeddings: 'yes' }, /"tie_word_embeddings" is "yes"; it must be true or false/],
    ['two rope thetas that disagree', { ...QWEN3, rope_parameters: { rope_type: 'default', rope_theta: 10000 } }, /"rope_theta" is 1000000 but "rope_parameters" has rope_theta 10000/],
    ['a negative eps', { ...SMOLLM2, rms_norm_eps: -1 }, /"rms_norm_eps" is -1/],
  ];
  for (const [what, json, message] of refusals) {
    it(what, () => {
      expect(() => parseHfConfig(PATH, json)).toThrow(message);
      expect(() => parseHfConfig(PATH, json)).toThrow(/^\/models\/x\/config\.json: /);
    });
  }
});

describe('ModelConfig to config.json', () => {
  it('exports a model trained here as Llama and reads it back to the same config', () => {
    const config = modelConfig({ vocabSize: 300, layers: 2, dim: 64, heads: 4, context: 128, tiedEmbeddings: true, ropeTheta: 12345.5, normEps: 1e-5 });
    const json = toHfConfig(config, { bosTokenId: 3, eosTokenIds: [7] });
    expect(json).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', torch_dtype: 'float32', hidden_act: 'silu', rope_scaling: null, attention_bias: false, mlp_bias: false, eos_token_id: 7 });
    const parsed = parseHfConfig(PATH, JSON.parse(JSON.stringify(json)));
    expect(parsed.config).toEqual(config);
    expect(parsed).toMatchObject({ bosTokenId: 3, eosTokenIds: [7] });
  });

  it('round-trips Qwen2 and Qwen3 configs, and a GQA Llama', () => {
    for (const json of [QWEN2, QWEN3, SMOLLM2]) {
      const { config, architecture } = parseHfConfig(PATH, json);
      expect(hfArchitecture(config)).toBe(architecture);
      expect(parseHfConfig(PATH, JSON.parse(JSON.stringify(toHfConfig(config)))).config).toEqual(config);
    }
  });

  it('refuses a model with both q/k/v biases and q/k norm, which no architecture has', () => {
    const config = modelConfig({ vocabSize: 10, layers: 1, dim: 8, heads: 2, context: 8, qkvBias: true, qkNorm: true });
    expect(() => toHfConfig(config)).toThrow(/both q\/k\/v biases and q\/k norm/);
  });
});

describe('generation_config.json and tokenizer_config.json', () => {
  const GEN = '/models/x/generation_config.json';
  it('reads ids (eos as an int or a list) and the sampling defaults; config.json fills the ids it leaves out', () => {
    const fallback = { bosTokenId: 1, eosTokenIds: [2] };
    expect(parseGenerationConfig(GEN, { eos_token_id: [5, 6], temperature: 0.6, top_p: 0.95, top_k: 20, do_sample: true }, fallback)).toEqual({
      bosTokenId: 1, eosTokenIds: [5, 6], padTokenId: undefined, doSample: true, temperature: 0.6, topP: 0.95, topK: 20,
    });
    expect(parseGenerationConfig(GEN, { eos_token_id: 9, bos_token_id: 8 }, fallback)).toMatchObject({ bosTokenId: 8, eosTokenIds: [9], temperature: undefined, topP: undefined });
    expect(parseGenerationConfig(GEN, {}, fallback)).toMatchObject(fallback);
  });

  it('refuses malformed generation fields, naming the file and the field', () => {
    expect(() => parseGenerationConfig(GEN, { eos_token_id: 'x' }, { eosTokenIds: [] })).toThrow(/generation_config\.json: field "eos_token_id" is "x"/);
    expect(() => parseGenerationConfig(GEN, { top_p: 1.5 }, { eosTokenIds: [] })).toThrow(/generation_config\.json: field "top_p" is 1.5/);
    expect(() => parseGenerationConfig(GEN, { temperature: -1 }, { eosTokenIds: [] })).toThrow(/field "temperature" is -1/);
  });

  it('takes the fixtures\' generation configs, and config.json\'s ids where a folder has none', () => {
    expect(readHfFolder(`${FIXTURES}/qwen3-qknorm`).generation).toMatchObject({ eosTokenIds: [269, 267], temperature: 0.6, topP: 0.95, topK: 20, doSample: true });
    expect(readHfFolder(`${FIXTURES}/smollm2-bf16`).generation).toMatchObject({ bosTokenId: 267, eosTokenIds: [269], temperature: undefined });
  });

  const TOK = '/models/x/tokenizer_config.json';
  it('reads special tokens written as strings or as AddedToken objects, and the chat template', () => {
    const parsed = parseTokenizerConfig(TOK, {
      bos_token: '<s>',
      eos_token: { __type: 'AddedToken', content: '<|im_end|>', lstrip: false },
      pad_token: null,
      chat_template: '{{ messages }}',
    });
    expect(parsed).toEqual({ bosToken: '<s>', eosToken: '<|im_end|>', padToken: undefined, chatTemplate: '{{ messages }}' });
    expect(parseTokenizerConfig(TOK, { chat_template: [{ name: 'tool_use', template: 'a' }, { name: 'default', template: 'b' }] }).chatTemplate).toBe('b');
    expect(parseTokenizerConfig(TOK, { chat_template: 'in the config' }, 'in chat_template.jinja').chatTemplate).toBe('in chat_template.jinja');
    expect(() => parseTokenizerConfig(TOK, { eos_token: 5 })).toThrow(/tokenizer_config\.json: field "eos_token" is 5/);
  });

  it("reads the fixtures' tokenizer configs", () => {
    expect(readHfFolder(`${FIXTURES}/llama-tied`).tokenizer).toMatchObject({ bosToken: '<|endoftext|>', eosToken: '<|endoftext|>', chatTemplate: undefined });
    expect(readHfFolder(`${FIXTURES}/qwen3-qknorm`).tokenizer).toMatchObject({ eosToken: '<|im_end|>', padToken: '<|endoftext|>' });
    expect(readHfFolder(`${FIXTURES}/qwen3-qknorm`).tokenizer.chatTemplate).toContain('<|im_start|>');
  });
});

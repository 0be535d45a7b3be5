// config.json of a Hugging Face folder <-> ModelConfig, for the three architectures the engine
// computes exactly: Llama (SmolLM2 included), Qwen2 (q/k/v biases) and Qwen3 (per-head q/k
// RMSNorm, a head size of its own). Anything else the file asks for that the engine would have
// to approximate (scaled RoPE, sliding windows, other activations, other biases) is refused with
// the field named.
//
//   config.json                          ModelConfig
//   vocab_size                           vocabSize
//   num_hidden_layers                    layers
//   hidden_size                          dim
//   num_attention_heads                  heads
//   num_key_value_heads                  kvHeads      (Llama: default heads)
//   head_dim                             headDim      (Llama, Qwen2: default hidden_size / heads)
//   intermediate_size                    ffnHidden
//   max_position_embeddings              context
//   tie_word_embeddings                  tiedEmbeddings (default false)
//   rope_theta | rope_parameters         ropeTheta    (default 10000)
//   rms_norm_eps                         normEps      (default 1e-6)
//   architectures[0]                     qkvBias (Qwen2), qkNorm (Qwen3)
// Defaults are those of transformers' config classes where they are conventions; where the class
// default is one particular model's size (Qwen's num_key_value_heads 32, Qwen3's head_dim 128),
// the field is required instead.

import { CheckpointError } from '../checkpoint/error.ts';
import { modelConfig, type ModelConfig } from '../model/config.ts';
import { booleanField, integerField, isObject, positiveField, present, stringField, tokenIdsField, type JsonObject } from './json-file.ts';

export const HF_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'] as const;
export type HfArchitecture = (typeof HF_ARCHITECTURES)[number];

const MODEL_TYPES: Record<HfArchitecture, string> = { LlamaForCausalLM: 'llama', Qwen2ForCausalLM: 'qwen2', Qwen3ForCausalLM: 'qwen3' };

/** What config.json says: the model and the token ids it names. */
export interface HfModelConfig {
  architecture: HfArchitecture;
  config: ModelConfig;
  dtype: string | undefined; // torch_dtype (or dtype) as written; the weights are computed in f32 whatever it is
  bosTokenId: number | undefined;
  eosTokenIds: number[]; // eos_token_id, one id or several
}

/** The model a config.json (parsed, read from `path`) describes, or a CheckpointError naming the field. */
export function parseHfConfig(path: string, json: JsonObject): HfModelConfig {
  const architecture = architectureOf(path, json);
  const modelType = stringField(path, json, 'model_type');
  if (modelType !== MODEL_TYPES[architecture]) {
    throw new CheckpointError(path, `field "model_type" is ${JSON.stringify(modelType ?? null)} but architecture ${architecture} has model_type "${MODEL_TYPES[architecture]}"`);
  }
  refuseInexact(path, json, architecture);

  const heads = integerField(path, json, 'num_attention_heads', 1);
  const dim = integerField(path, json, 'hidden_size', 1);
  const isLlama = architecture === 'LlamaForCausalLM';
  const kvHeads = integerField(path, json, 'num_key_value_heads', 1, isLlama ? heads : undefined);
  if (heads % kvHeads !== 0) {
    throw new CheckpointError(path, `field "num_key_value_heads" is ${kvHeads}, which does not divide "num_attention_heads" ${heads}`);
  }
  const defaultHeadDim = architecture === 'Qwen3ForCausalLM' ? undefined : dim / heads;
  if (present(json, 'head_dim') === undefined && defaultHeadDim !== undefined && !Number.isInteger(defaultHeadDim)) {
    throw new CheckpointError(path, `field "head_dim" is missing and "hidden_size" ${dim} is not a multiple of "num_attention_heads" ${heads}`);
  }
  const headDim = integerField(path, json, 'head_dim', 1, defaultHeadDim);
  if (headDim % 2 !== 0) throw new CheckpointError(path, `field "head_dim" is ${headDim}; rotary embeddings need an even head size`);

  let config: ModelConfig;
  try {
    config = modelConfig({
      vocabSize: integerField(path, json, 'vocab_size', 1),
      layers: integerField(path, json, 'num_hidden_layers', 1),
      dim,
      heads,
      kvHeads,
      headDim,
      ffnHidden: integerField(path, json, 'intermediate_size', 1),
      context: integerField(path, json, 'max_position_embeddings', 1),
      tiedEmbeddings: booleanField(path, json, 'tie_word_embeddings', false),
      qkvBias: architecture === 'Qwen2ForCausalLM',
      qkNorm: architecture === 'Qwen3ForCausalLM',
      ropeTheta: ropeThetaOf(path, json),
      normEps: positiveField(path, json, 'rms_norm_eps', 1e-6),
    });
  } catch (err) {
    throw new CheckpointError(path, (err as Error).message);
  }
  const dtype = stringField(path, json, 'torch_dtype') ?? stringField(path, json, 'dtype');
  const bos = tokenIdsField(path, json, 'bos_token_id');
  if (bos.length > 1) throw new CheckpointError(path, `field "bos_token_id" is ${JSON.stringify(bos)}; it must be one token id`);
  return { architecture, config, dtype, bosTokenId: bos[0], eosTokenIds: tokenIdsField(path, json, 'eos_token_id') };
}

/** The architecture a model of this config exports as: Qwen3 for q/k norm, Qwen2 for q/k/v biases, else Llama. */
export function hfArchitecture(config: ModelConfig): HfArchitecture {
  if (config.qkNorm && config.qkvBias) {
    throw new Error('a model with both q/k/v biases and q/k norm has no Hugging Face architecture (Qwen3 with attention_bias would also bias o_proj)');
  }
  if (config.qkNorm) return 'Qwen3ForCausalLM';
  if (config.qkvBias) return 'Qwen2ForCausalLM';
  return 'LlamaForCausalLM';
}

/**
 * The config.json of `config`, with every field transformers' LlamaConfig, Qwen2Config or
 * Qwen3Config needs to rebuild exactly this model; parseHfConfig reads it back to `config`.
 */
export function toHfConfig(config: ModelConfig, tokens: { bosTokenId?: number; eosTokenIds?: number[] } = {}): JsonObject {
  const architecture = hfArchitecture(config);
  const eos = tokens.eosTokenIds ?? [];
  const json: JsonObject = {
    architectures: [architecture],
    model_type: MODEL_TYPES[architecture],
    vocab_size: config.vocabSize,
    hidden_size: config.dim,
    intermediate_size: config.ffnHidden,
    num_hidden_layers: config.layers,
    num_attention_heads: config.heads,
    num_key_value_heads: config.kvHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    max_position_embeddings: config.context,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: config.tiedEmbeddings,
    attention_dropout: 0.0,
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: 'float32',
    bos_token_id: tokens.bosTokenId ?? null,
    eos_token_id: eos.length === 0 ? null : eos.length === 1 ? eos[0] : eos,
  };
  if (architecture === 'LlamaForCausalLM') Object.assign(json, { attention_bias: false, mlp_bias: false, pretraining_tp: 1 });
  if (architecture === 'Qwen3ForCausalLM') json.attention_bias = false;
  if (architecture !== 'LlamaForCausalLM') Object.assign(json, { use_sliding_window: false, sliding_window: null, max_window_layers: config.layers });
  // Qwen2Config declares no head_dim; its attention takes one from the config when set, else hidden / heads.
  if (architecture === 'Qwen2ForCausalLM' && config.headDim === config.dim / config.heads) delete json.head_dim;
  return json;
}

function architectureOf(path: string, json: JsonObject): HfArchitecture {
  const architectures = present(json, 'architectures');
  if (architectures === undefined) throw new CheckpointError(path, `field "architectures" is missing; supported: ${HF_ARCHITECTURES.join(', ')}`);
  if (!Array.isArray(architectures) || architectures.length !== 1 || typeof architectures[0] !== 'string') {
    throw new CheckpointError(path, `field "architectures" is ${JSON.stringify(architectures)}; it must name one architecture`);
  }
  const name = architectures[0];
  if (!(HF_ARCHITECTURES as readonly string[]).includes(name)) {
    throw new CheckpointError(path, `field "architectures" names ${name}, which is not supported (supported: ${HF_ARCHITECTURES.join(', ')})`);
  }
  return name as HfArchitecture;
}

/** Refuses every field whose value would make Hugging Face compute something the engine does not. */
function refuseInexact(path: string, json: JsonObject, architecture: HfArchitecture): void {
  const refuse = (field: string, why: string): never => {
    throw new CheckpointError(path, `field "${field}" is ${JSON.stringify(json[field])}: ${why}`);
  };
  const act = present(json, 'hidden_act');
  // transformers' ACT2FN maps "swish" to the same SiLU
  if (act !== undefined && act !== 'silu' && act !== 'swish') refuse('hidden_act', 'only silu (SwiGLU) is supported');
  const scaling = present(json, 'rope_scaling');
  if (scaling !== undefined && !isDefaultRope(scaling)) refuse('rope_scaling', 'scaled rotary embeddings are not supported, only the default RoPE');
  const parameters = present(json, 'rope_parameters');
  if (parameters !== undefined) {
    if (!isDefaultRope(parameters)) refuse('rope_parameters', 'only the default rope_type is supported');
    const factor = (parameters as JsonObject).partial_rotary_factor;
    if (factor !== undefined && factor !== null && factor !== 1) refuse('rope_parameters', 'partial rotary embeddings are not supported');
  }
  const factor = present(json, 'partial_rotary_factor');
  if (factor !== undefined && factor !== 1) refuse('partial_rotary_factor', 'partial rotary embeddings are not supported');
  if (present(json, 'quantization_config') !== undefined) refuse('quantization_config', 'quantized weights are not supported');
  if (architecture === 'LlamaForCausalLM' || architecture === 'Qwen3ForCausalLM') {
    if (present(json, 'attention_bias') === true) refuse('attention_bias', `${architecture} would add a bias to o_proj as well as q/k/v, which the engine does not have`);
  }
  if (architecture === 'LlamaForCausalLM' && present(json, 'mlp_bias') === true) refuse('mlp_bias', 'MLP biases are not supported');
  if (architecture !== 'LlamaForCausalLM') {
    if (present(json, 'use_sliding_window') === true) refuse('use_sliding_window', 'sliding-window attention is not supported');
    const layerTypes = present(json, 'layer_types');
    if (layerTypes !== undefined && (!Array.isArray(layerTypes) || layerTypes.some((type) => type !== 'full_attention'))) {
      refuse('layer_types', 'only full_attention layers are supported');
    }
  }
}

/** rope_scaling or rope_parameters that leave RoPE as it is: no type, or type "default". */
function isDefaultRope(value: unknown): boolean {
  if (!isObject(value)) return false;
  const type = value.rope_type ?? value.type ?? 'default';
  return type === 'default';
}

function ropeThetaOf(path: string, json: JsonObject): number {
  const parameters = present(json, 'rope_parameters');
  const nested = isObject(parameters) ? present(parameters, 'rope_theta') : undefined;
  if (nested !== undefined && !(typeof nested === 'number' && nested > 1 && Number.isFinite(nested))) {
    throw new CheckpointError(path, `field "rope_parameters" has rope_theta ${JSON.stringify(nested)}; it must be a number greater than 1`);
  }
  const top = present(json, 'rope_theta') === undefined ? undefined : positiveField(path, json, 'rope_theta', 0);
  if (nested !== undefined && top !== undefined && nested !== top) {
    throw new CheckpointError(path, `field "rope_theta" is ${top} but "rope_parameters" has rope_theta ${nested}`);
  }
  return (nested as number | undefined) ?? top ?? 10000;
}

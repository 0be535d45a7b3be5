// Every parameter of the model lives in ONE flat Float32Array (which may sit in a
// SharedArrayBuffer), each tensor a contiguous range of it named and shaped as in Hugging Face
// Llama, Qwen2 and Qwen3 so that checkpoints interoperate with that ecosystem.

import { Random } from '../util/random.ts';
import type { ModelConfig } from './config.ts';

export interface ParamSpec {
  name: string;
  shape: readonly number[];
  offset: number; // into the flat array
  length: number;
  weightDecay: boolean; // matrices decay; norm gains and biases do not
  init: 'normal' | 'ones' | 'zeros'; // matrices normal, norm gains ones, biases zeros
  std: number; // of the normal initialisation; 0 for the others
}

/** The weights (or their gradients) of one block, in the order the forward pass uses them. */
export interface LayerTensors<T> {
  inputNorm: T;
  q: T;
  qBias?: T; // when qkvBias
  k: T;
  kBias?: T;
  v: T;
  vBias?: T;
  o: T;
  qNorm?: T; // when qkNorm
  kNorm?: T;
  postAttentionNorm: T;
  gate: T;
  up: T;
  down: T;
}

export interface ModelTensors<T> {
  embed: T;
  layers: LayerTensors<T>[];
  norm: T;
  lmHead: T; // the same object as `embed` when embeddings are tied
}

const INIT_STD = 0.02;

/** The layout of the flat parameter array, in Hugging Face order. */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const { vocabSize: V, dim: C, ffnHidden: H, layers: L, heads: NH, kvHeads: KVH, headDim: HS } = config;
  // Each residual branch ends in a projection; scaling those keeps the stream's variance flat in depth.
  const residualStd = INIT_STD / Math.sqrt(2 * L);
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], init: ParamSpec['init'], std = 0): void => {
    const length = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset, length, weightDecay: init === 'normal', init, std });
    offset += length;
  };
  const projection = (name: string, rows: number): void => {
    add(`${name}.weight`, [rows, C], 'normal', INIT_STD);
    if (config.qkvBias) add(`${name}.bias`, [rows], 'zeros');
  };
  add('model.embed_tokens.weight', [V, C], 'normal', INIT_STD);
  for (let l = 0; l < L; l++) {
    const prefix = `model.layers.${l}`;
    add(`${prefix}.input_layernorm.weight`, [C], 'ones');
    projection(`${prefix}.self_attn.q_proj`, NH * HS);
    projection(`${prefix}.self_attn.k_proj`, KVH * HS);
    projection(`${prefix}.self_attn.v_proj`, KVH * HS);
    add(`${prefix}.self_attn.o_proj.weight`, [C, NH * HS], 'normal', residualStd);
    if (config.qkNorm) {
      add(`${prefix}.self_attn.q_norm.weight`, [HS], 'ones');
      add(`${prefix}.self_attn.k_norm.weight`, [HS], 'ones');
    }
    add(`${prefix}.post_attention_layernorm.weight`, [C], 'ones');
    add(`${prefix}.mlp.gate_proj.weight`, [H, C], 'normal', INIT_STD);
    add(`${prefix}.mlp.up_proj.weight`, [H, C], 'normal', INIT_STD);
    add(`${prefix}.mlp.down_proj.weight`, [C, H], 'normal', residualStd);
  }
  add('model.norm.weight', [C], 'ones');
  if (!config.tiedEmbeddings) add('lm_head.weight', [V, C], 'normal', INIT_STD);
  return specs;
}

/** Number of elements of the flat parameter array. */
export function paramCount(config: ModelConfig): number {
  const specs = paramSpecs(config);
  const last = specs[specs.length - 1];
  return last.offset + last.length;
}

/**
 * Seeded initialisation into `flat` (a new array by default): matrices normal with std 0.02, the
 * residual output projections scaled by 1/sqrt(2 * layers), norm gains 1, biases 0.
 */
export function initParams(config: ModelConfig, seed: number, flat: Float32Array = new Float32Array(paramCount(config))): Float32Array {
  checkFlatLength(config, flat);
  const random = new Random(seed);
  for (const spec of paramSpecs(config)) {
    const values = flat.subarray(spec.offset, spec.offset + spec.length);
    if (spec.init === 'ones') values.fill(1);
    else if (spec.init === 'zeros') values.fill(0);
    else for (let i = 0; i < values.length; i++) values[i] = spec.std * standardNormal(random);
  }
  return flat;
}

export function checkFlatLength(config: ModelConfig, flat: Float32Array): void {
  const count = paramCount(config);
  if (flat.length !== count) throw new Error(`parameter array has ${flat.length} elements, the model needs ${count}`);
}

/** The per-tensor items of `items` (one per spec, in spec order) arranged by role. */
export function arrangeByRole<T>(config: ModelConfig, items: readonly T[]): ModelTensors<T> {
  const byName = new Map(paramSpecs(config).map((spec, i) => [spec.name, items[i]]));
  const get = (name: string): T => {
    const item = byName.get(name);
    if (item === undefined) throw new Error(`no parameter named ${name}`);
    return item;
  };
  const layers: LayerTensors<T>[] = [];
  for (let l = 0; l < config.layers; l++) {
    const prefix = `model.layers.${l}`;
    const attn = `${prefix}.self_attn`;
    layers.push({
      inputNorm: get(`${prefix}.input_layernorm.weight`),
      q: get(`${attn}.q_proj.weight`),
      k: get(`${attn}.k_proj.weight`),
      v: get(`${attn}.v_proj.weight`),
      o: get(`${attn}.o_proj.weight`),
      ...(config.qkvBias ? { qBias: get(`${attn}.q_proj.bias`), kBias: get(`${attn}.k_proj.bias`), vBias: get(`${attn}.v_proj.bias`) } : {}),
      ...(config.qkNorm ? { qNorm: get(`${attn}.q_norm.weight`), kNorm: get(`${attn}.k_norm.weight`) } : {}),
      postAttentionNorm: get(`${prefix}.post_attention_layernorm.weight`),
      gate: get(`${prefix}.mlp.gate_proj.weight`),
      up: get(`${prefix}.mlp.up_proj.weight`),
      down: get(`${prefix}.mlp.down_proj.weight`),
    });
  }
  const embed = get('model.embed_tokens.weight');
  return { embed, layers, norm: get('model.norm.weight'), lmHead: config.tiedEmbeddings ? embed : get('lm_head.weight') };
}

/** Box-Muller over the project's seeded generator. */
function standardNormal(random: Random): number {
  const u = 1 - random.float(); // in (0, 1], so the logarithm is finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.float());
}

// The flat parameter layout, seeded initialisation, config validation (and the defaults an old
// stored config gets) and the flat round trip.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { saveCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { headSize, modelConfig } from '../src/model/config.ts';
import { initParams, paramCount, paramSpecs } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';
import { loadModel } from '../src/stages/model-checkpoint.ts';

const shape = { vocabSize: 50, layers: 2, dim: 16, heads: 4, ffnHidden: 24, context: 32 };

describe('model config', () => {
  test('defaults follow Llama: ffn 8/3 dim rounded up to 32, one key/value head per head of dim/heads, no biases, no q/k norm, theta 1e4, eps 1e-5', () => {
    const config = modelConfig({ vocabSize: 512, layers: 4, dim: 128, heads: 4, context: 128 });
    expect(config).toEqual({
      vocabSize: 512, layers: 4, dim: 128, heads: 4, kvHeads: 4, headDim: 32, context: 128, ffnHidden: 352, tiedEmbeddings: false,
      qkvBias: false, qkNorm: false, ropeTheta: 10000, normEps: 1e-5,
    });
    expect(headSize(config)).toBe(32);
    expect(modelConfig({ ...shape, headDim: undefined, kvHeads: undefined })).toMatchObject({ headDim: 4, kvHeads: 4 });
  });

  test('headDim need not be dim/heads (Qwen3-0.6B: 16 heads of 128 over dim 1024)', () => {
    const config = modelConfig({ ...shape, dim: 1024, heads: 16, kvHeads: 8, headDim: 128, qkNorm: true });
    expect(headSize(config)).toBe(128);
    expect(modelConfig({ ...shape, dim: 18, headDim: 6 }).headDim).toBe(6);
  });

  test('names every invalid field', () => {
    expect(() => modelConfig({ ...shape, dim: 18 })).toThrow(/dim 18 must be a multiple of heads 4 \(headDim defaults to dim\/heads\)/);
    expect(() => modelConfig({ ...shape, dim: 12, heads: 4 })).toThrow(/headDim 3 must be even for rotary embeddings/);
    expect(() => modelConfig({ ...shape, headDim: 0 })).toThrow(/headDim must be a positive integer, got 0/);
    expect(() => modelConfig({ ...shape, heads: 9, kvHeads: 2, headDim: 8 })).toThrow(/heads 9 must be a multiple of kvHeads 2/);
    expect(() => modelConfig({ ...shape, kvHeads: 0 })).toThrow(/kvHeads must be a positive integer, got 0/);
    expect(() => modelConfig({ ...shape, qkNorm: 'yes' as unknown as boolean })).toThrow(/qkNorm must be true or false/);
    expect(() => modelConfig({ ...shape, layers: 0, context: 1.5 })).toThrow(/layers must be a positive integer.*context must be a positive integer/);
  });

  test('a checkpoint whose stored config predates kvHeads, headDim, qkvBias and qkNorm loads with their defaults', async () => {
    const config = modelConfig(shape);
    const flat = initParams(config, 5);
    const { kvHeads: _kvHeads, headDim: _headDim, qkvBias: _qkvBias, qkNorm: _qkNorm, ...old } = config;
    const dir = await mkdtemp(join(tmpdir(), 'rpt-old-config-'));
    try {
      await saveCheckpoint(join(dir, 'checkpoint'), {
        weights: paramSpecs(config).map((spec) => ({ name: spec.name, shape: [...spec.shape], data: flat.subarray(spec.offset, spec.offset + spec.length) })),
        metadata: { modelConfig: old, tokenizer: { path: 'tokenizer.json', sha256: 'ab'.repeat(32) } },
      });
      const loaded = await loadModel(join(dir, 'checkpoint'));
      expect(loaded.config).toEqual(config);
      expect(loaded.flat).toEqual(flat);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parameter layout', () => {
  test('Hugging Face Llama names tile one flat array; lm_head only when untied', () => {
    const untied = paramSpecs(modelConfig(shape));
    expect(untied.map((spec) => spec.name).slice(0, 11)).toEqual([
      'model.embed_tokens.weight',
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.v_proj.weight',
      'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.post_attention_layernorm.weight',
      'model.layers.0.mlp.gate_proj.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.0.mlp.down_proj.weight',
      'model.layers.1.input_layernorm.weight',
    ]);
    expect(untied.at(-2)?.name).toBe('model.norm.weight');
    expect(untied.at(-1)).toMatchObject({ name: 'lm_head.weight', shape: [50, 16] });
    expect(untied.find((spec) => spec.name.endsWith('0.mlp.down_proj.weight'))?.shape).toEqual([16, 24]);
    let offset = 0;
    for (const spec of untied) {
      expect(spec.offset).toBe(offset);
      expect(spec.length).toBe(spec.shape.reduce((a, b) => a * b));
      offset += spec.length;
    }
    expect(paramCount(modelConfig(shape))).toBe(offset);
    const tied = paramSpecs(modelConfig({ ...shape, tiedEmbeddings: true }));
    expect(tied.map((spec) => spec.name)).not.toContain('lm_head.weight');
    expect(paramCount(modelConfig({ ...shape, tiedEmbeddings: true }))).toBe(offset - 50 * 16);
  });

  test('grouped-query attention, biases and q/k norm: Hugging Face Qwen2/Qwen3 names and shapes', () => {
    // 4 query heads and 2 key/value heads of 6 channels over dim 16
    const specs = paramSpecs(modelConfig({ ...shape, kvHeads: 2, headDim: 6, qkvBias: true, qkNorm: true }));
    const layer0 = specs.filter((spec) => spec.name.startsWith('model.layers.0.')).map((spec) => [spec.name.slice('model.layers.0.'.length), spec.shape]);
    expect(layer0).toEqual([
      ['input_layernorm.weight', [16]],
      ['self_attn.q_proj.weight', [24, 16]],
      ['self_attn.q_proj.bias', [24]],
      ['self_attn.k_proj.weight', [12, 16]],
      ['self_attn.k_proj.bias', [12]],
      ['self_attn.v_proj.weight', [12, 16]],
      ['self_attn.v_proj.bias', [12]],
      ['self_attn.o_proj.weight', [16, 24]],
      ['self_attn.q_norm.weight', [6]],
      ['self_attn.k_norm.weight', [6]],
      ['post_attention_layernorm.weight', [16]],
      ['mlp.gate_proj.weight', [24, 16]],
      ['mlp.up_proj.weight', [24, 16]],
      ['mlp.down_proj.weight', [16, 24]],
    ]);
  });

  test('matrices decay and start normal; norm gains start at 1, biases at 0, neither decays', () => {
    for (const spec of paramSpecs(modelConfig({ ...shape, kvHeads: 2, qkvBias: true, qkNorm: true }))) {
      expect(spec.weightDecay, spec.name).toBe(spec.shape.length === 2);
      const init = spec.shape.length === 2 ? 'normal' : spec.name.endsWith('.bias') ? 'zeros' : 'ones';
      expect(spec.init, spec.name).toBe(init);
    }
  });

  test('seeded init: norm gains 1, std 0.02, residual projections 0.02/sqrt(2 layers), reproducible', () => {
    const config = modelConfig({ ...shape, dim: 64, ffnHidden: 128 });
    const flat = initParams(config, 7);
    expect(initParams(config, 7)).toEqual(flat);
    expect(initParams(config, 8)).not.toEqual(flat);
    const std = (name: string): number => {
      const spec = paramSpecs(config).find((s) => s.name === name)!;
      const values = flat.subarray(spec.offset, spec.offset + spec.length);
      return Math.sqrt(values.reduce((sum, x) => sum + x * x, 0) / values.length);
    };
    expect(std('model.layers.1.input_layernorm.weight')).toBe(1);
    expect(std('model.layers.0.self_attn.q_proj.weight')).toBeCloseTo(0.02, 3);
    expect(std('model.layers.0.mlp.down_proj.weight')).toBeCloseTo(0.02 / 2, 3);
    expect(std('model.layers.1.self_attn.o_proj.weight')).toBeCloseTo(0.02 / 2, 3);
  });

  test('seeded init with biases and q/k norm: biases 0, q/k norm gains 1; the matrices as without them', () => {
    const plain = modelConfig({ ...shape, dim: 64, ffnHidden: 128 });
    const qwen = { ...plain, qkvBias: true, qkNorm: true };
    const flat = initParams(qwen, 7);
    const values = (config: typeof plain, array: Float32Array, name: string): Float32Array => {
      const spec = paramSpecs(config).find((s) => s.name === name)!;
      return array.subarray(spec.offset, spec.offset + spec.length);
    };
    expect(values(qwen, flat, 'model.layers.0.self_attn.k_proj.bias').every((x) => x === 0)).toBe(true);
    expect(values(qwen, flat, 'model.layers.1.self_attn.q_norm.weight').every((x) => x === 1)).toBe(true);
    const plainFlat = initParams(plain, 7);
    for (const name of ['model.layers.1.self_attn.v_proj.weight', 'lm_head.weight']) expect(values(qwen, flat, name)).toEqual(values(plain, plainFlat, name));
  });
});

describe('flat weights', () => {
  test('import and export round trip through a SharedArrayBuffer', async () => {
    const config = modelConfig(shape);
    const count = paramCount(config);
    const shared = new Float32Array(new SharedArrayBuffer(count * 4));
    initParams(config, 1, shared);
    const model = new Transformer(new CpuBackend(), config, shared);
    const exported = new Float32Array(new SharedArrayBuffer(count * 4));
    expect(await model.exportFlat(exported)).toBe(exported);
    expect(exported).toEqual(shared);

    const other = initParams(config, 2);
    model.importFlat(other);
    expect(await model.exportFlat()).toEqual(other);
    expect(() => model.importFlat(new Float32Array(count - 1))).toThrow(/needs/);
  });
});

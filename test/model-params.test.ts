// The flat parameter layout, seeded initialisation, config validation and the flat round trip.

import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { modelConfig } from '../src/model/config.ts';
import { initParams, paramCount, paramSpecs } from '../src/model/params.ts';
import { Transformer } from '../src/model/transformer.ts';

const shape = { vocabSize: 50, layers: 2, dim: 16, heads: 4, ffnHidden: 24, context: 32 };

describe('model config', () => {
  test('defaults follow Llama: ffn 8/3 dim rounded up to 32, theta 1e4, eps 1e-5', () => {
    const config = modelConfig({ vocabSize: 512, layers: 4, dim: 128, heads: 4, context: 128 });
    expect(config).toEqual({
      vocabSize: 512, layers: 4, dim: 128, heads: 4, context: 128, ffnHidden: 352, tiedEmbeddings: false, ropeTheta: 10000, normEps: 1e-5,
    });
  });

  test('names every invalid field', () => {
    expect(() => modelConfig({ ...shape, dim: 18 })).toThrow(/dim 18 must be a multiple of heads 4/);
    expect(() => modelConfig({ ...shape, dim: 12, heads: 4 })).toThrow(/head size dim\/heads = 3 must be even/);
    expect(() => modelConfig({ ...shape, layers: 0, context: 1.5 })).toThrow(/layers must be a positive integer.*context must be a positive integer/);
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

  test('matrices decay, norm gains do not', () => {
    for (const spec of paramSpecs(modelConfig(shape))) expect(spec.weightDecay).toBe(spec.shape.length === 2);
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

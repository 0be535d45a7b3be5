import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { checkFile, checkSource } from '../dsl/check.ts';
import { defaultFfn } from '../dsl/derived.ts';
import { expandGlob } from '../dsl/glob.ts';
import { makeSource, positionOf } from '../dsl/source.ts';
import { closest } from '../dsl/suggest.ts';

test('the source map gives the line:column of each IR field', () => {
  const result = checkFile('experiments/arith.rpt');
  const at = (path: string) => positionOf(result.source, result.sourceMap.get(path)!.span.start);
  expect(at('learner.lr')).toEqual({ line: 21, column: 30 });
  expect(at('models.base.transformer.dim')).toEqual({ line: 11, column: 33 });
  expect(at('eval.every')).toEqual({ line: 25, column: 14 });
});

test('the IR is plain JSON with a stable key order', () => {
  const first = checkFile('experiments/brown.rpt').ir;
  const second = checkFile('experiments/brown.rpt').ir;
  expect(JSON.parse(JSON.stringify(first))).toEqual(first);
  expect(JSON.stringify(second)).toBe(JSON.stringify(first));
  expect(Object.keys(first!)).toEqual(['name', 'seed', 'output', 'corpus', 'models', 'filter', 'policy', 'reward', 'learner', 'actors', 'eval', 'checkpoint']);
});

test('the same file written in a different key order gives the same IR', () => {
  const text = readFileSync('experiments/quickstart.rpt', 'utf8');
  const lines = text.split('\n');
  const body = lines.filter((line) => /^  (policy|reward|learner|actors) /.test(line));
  const reordered = lines.filter((line) => !body.includes(line));
  reordered.splice(reordered.indexOf('}'), 0, ...body.reverse());
  const original = checkSource(makeSource('experiments/quickstart.rpt', text)).ir;
  expect(checkSource(makeSource('experiments/quickstart.rpt', reordered.join('\n'))).ir).toEqual(original);
});

test('an override may add an entry the file leaves out, and moves derived defaults with it', () => {
  const ir = checkFile('experiments/quickstart.rpt', { overrides: ['model.base.transformer.dim=48', 'policy.top_k=40'] }).ir!;
  expect(ir.models.base.transformer!.dim).toBe(48);
  expect(ir.models.base.transformer!.ffn).toBe(defaultFfn(48));
  expect(ir.policy.top_k).toBe(40);
});

test('defaults follow the paper where it gives one', () => {
  const ir = checkFile('test/golden/valid/minimal.rpt').ir!;
  expect(ir.learner).toMatchObject({ rollouts: 8, clip_low: 0.2, clip_high: 0.2, kl: 0, betas: [0.9, 0.999], weight_decay: 0.01 });
  expect(ir.policy.temperature).toBe(0.8);
  expect(ir.filter).toMatchObject({ entropy_top_k: 16, difficulty: { easy: 0.5, medium: 1.0, hard: 1.5 } });
});

test('Llama feed-forward width: 8/3 of dim, rounded up to a multiple of 32', () => {
  expect(defaultFfn(128)).toBe(352);
  expect(defaultFfn(96)).toBe(256);
});

test('did-you-mean accepts typos and rejects unrelated words', () => {
  expect(closest('temprature', ['temperature', 'top_p'])).toBe('temperature');
  expect(closest('lerner', ['learner', 'eval'])).toBe('learner');
  expect(closest('banana', ['learner', 'eval'])).toBeNull();
});

test('globs match within a segment with * and across folders with **', () => {
  expect(expandGlob('data/*.txt', 'test/golden/valid')).toEqual(['data/a.txt', 'data/b.txt']);
  expect(expandGlob('**/*.jsonl', 'test/golden/valid')).toEqual(['data/docs.jsonl']);
  expect(expandGlob('data/?.txt', 'test/golden/valid')).toEqual(['data/a.txt', 'data/b.txt']);
  expect(expandGlob('data/none.txt', 'test/golden/valid')).toEqual([]);
});

test('a checkpoint may be named by its folder, which must hold model.safetensors, as the loader reads it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rpt-checkpoint-'));
  try {
    mkdirSync(join(dir, 'whole'));
    writeFileSync(join(dir, 'whole', 'model.safetensors'), '');
    mkdirSync(join(dir, 'empty'));
    const check = (init: string) => checkFile('test/golden/valid/checkpoint-init.rpt', { overrides: [`policy.init=${JSON.stringify(init)}`] }).diagnostics.map((d) => d.message);
    expect(check(join(dir, 'whole'))).toEqual([]);
    expect(check(join(dir, 'empty'))).toEqual([`checkpoint folder ${JSON.stringify(join(dir, 'empty'))} holds no model.safetensors`]);
    expect(check(join(dir, 'missing'))).toEqual([`checkpoint ${JSON.stringify(join(dir, 'missing'))} does not exist`]);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

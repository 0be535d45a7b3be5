import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { checkSource } from '../dsl/check.ts';
import { renderDiagnostic } from '../dsl/diagnostics.ts';
import { lex } from '../dsl/lexer.ts';
import { makeSource } from '../dsl/source.ts';

// Seeded mutation fuzzing of every experiment file: random token deletions, duplications and
// swaps, and cuts. Whatever the edit, checking returns either an IR or diagnostics whose spans
// lie inside the text they point into, and never throws.
const MUTANTS_PER_FILE = 1500;

// mulberry32: a small, seedable generator, so a failure can be replayed from its seed.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(text: string, pieces: { start: number; end: number }[], next: () => number): string {
  const pick = () => pieces[Math.floor(next() * pieces.length)];
  const edits = 1 + Math.floor(next() * 3);
  let out = text;
  for (let i = 0; i < edits; i++) {
    const op = Math.floor(next() * 4);
    const a = pick();
    if (a.end > out.length) break;
    if (op === 0) out = out.slice(0, a.start) + out.slice(a.end);
    else if (op === 1) out = out.slice(0, a.end) + ' ' + out.slice(a.start, a.end) + out.slice(a.end);
    else if (op === 2) {
      const b = pick();
      if (b.end > out.length || b.start === a.start) continue;
      const [first, second] = a.start < b.start ? [a, b] : [b, a];
      if (first.end > second.start) continue;
      out = out.slice(0, first.start) + out.slice(second.start, second.end) + out.slice(first.end, second.start) + out.slice(first.start, first.end) + out.slice(second.end);
    } else out = out.slice(0, Math.floor(next() * out.length));
  }
  return out;
}

const files = readdirSync('experiments').filter((name) => name.endsWith('.rpt')).sort();

test('the fuzzer has experiment files to mutate', () => {
  expect(files.length).toBeGreaterThanOrEqual(3);
});

for (const [index, name] of files.entries()) {
  test(`mutants of experiments/${name} always get an IR or placed diagnostics`, () => {
    const path = `experiments/${name}`;
    const text = readFileSync(path, 'utf8');
    const pieces = lex(makeSource(path, text)).tokens.map((t) => ({ start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1 }));
    const next = random(1000 + index);
    let invalid = 0;
    for (let i = 0; i < MUTANTS_PER_FILE; i++) {
      const mutant = mutate(text, pieces, next);
      const result = checkSource(makeSource(path, mutant), { baseDir: 'experiments' });
      if (result.ir) {
        expect(result.diagnostics).toEqual([]);
        continue;
      }
      invalid++;
      expect(result.diagnostics.length, mutant).toBeGreaterThan(0);
      for (const d of result.diagnostics) {
        expect(d.span, mutant).not.toBeNull();
        expect(d.span!.start, mutant).toBeGreaterThanOrEqual(0);
        expect(d.span!.end, mutant).toBeGreaterThanOrEqual(d.span!.start);
        expect(d.span!.end, mutant).toBeLessThanOrEqual(d.source.text.length);
        expect(renderDiagnostic(d)).toMatch(/^experiments\/.*:\d+:\d+: error: /);
      }
    }
    // Most random edits break something; a fuzzer whose mutants all pass tests nothing.
    expect(invalid).toBeGreaterThan(MUTANTS_PER_FILE / 2);
  });
}

// The documents a corpus block names.
import { describe, expect, test } from 'vitest';
import type { Document } from '../src/data/document.ts';
import { DEFAULT_ARITHMETIC, generateArithmetic } from '../src/data/arithmetic.ts';
import { corpusDocuments } from '../src/stages/corpus.ts';
import { TINY_EXPERIMENT, tinyExperiment } from './stages-fixture.ts';

async function collect(documents: AsyncIterable<Document>): Promise<Document[]> {
  const all: Document[] = [];
  for await (const document of documents) all.push(document);
  return all;
}

async function bothSides(overrides: string[], text?: string): Promise<Document[]> {
  const { corpus, seed } = tinyExperiment(overrides, text);
  return [...(await collect(corpusDocuments(corpus, seed, '.', 'train'))), ...(await collect(corpusDocuments(corpus, seed, '.', 'holdout')))];
}

describe('corpus documents', () => {
  test('arithmetic with every operator is the generator output as it is', async () => {
    const documents = await bothSides([]);
    const generated = await collect(generateArithmetic({ ...DEFAULT_ARITHMETIC, seed: 3, problems: 400, minDigits: 1, maxDigits: 2, traceFraction: 0.5 }));
    expect(documents.map((d) => d.id).sort()).toEqual(generated.map((d) => d.id).sort());
  });

  test('arithmetic limited to some operators has as many problems, none with another operator', async () => {
    const documents = await bothSides(['corpus.generate.ops=[add, sub]']);
    expect(documents).toHaveLength(400);
    const questions = documents.map((d) => d.text.slice(0, d.text.indexOf('=')));
    expect(questions.some((q) => q.includes('*'))).toBe(false);
    expect(questions.some((q) => q.includes('+'))).toBe(true);
    expect(questions.some((q) => q.includes('-'))).toBe(true);
  });

  test('brown categories select the files of those categories', async () => {
    const documents = await bothSides([], TINY_EXPERIMENT.replace(/generate arithmetic \{[^}]*\}/, 'brown { categories [humor] },'));
    expect(documents.length).toBe(9); // cr01..cr09
    expect(documents.every((d) => d.id.startsWith('brown/cr'))).toBe(true);
  });
});

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CorpusIR } from '../../dsl/ir.ts';
import { DEFAULT_ARITHMETIC, generateArithmetic } from '../data/arithmetic.ts';
import { brownDirectory, readBrown } from '../data/brown.ts';
import type { Document } from '../data/document.ts';
import { DEFAULT_DOCUMENT_CHARS, readFiles } from '../data/files.ts';
import { expandPaths } from '../data/paths.ts';
import { splitDocuments, type SplitPart } from '../data/split.ts';

// The documents an experiment's corpus block names, train or holdout side.

// The Brown corpus files are named c<letter><number>; the letter is the category.
const BROWN_LETTERS: Record<string, string> = {
  news: 'a', editorial: 'b', reviews: 'c', religion: 'd', hobbies: 'e', lore: 'f', belles_lettres: 'g', government: 'h',
  learned: 'j', fiction: 'k', mystery: 'l', science_fiction: 'm', adventure: 'n', romance: 'p', humor: 'r',
};

type Op = 'add' | 'sub' | 'mul';
const OPERATORS: Record<Op, string> = { add: '+', sub: '-', mul: '*' };

/** One side of the corpus's seeded document split; paths are relative to `baseDir`. */
export function corpusDocuments(corpus: CorpusIR, seed: number, baseDir: string, part: SplitPart): AsyncGenerator<Document> {
  return splitDocuments(allDocuments(corpus, seed, baseDir), part, seed, corpus.holdout);
}

async function* allDocuments(corpus: CorpusIR, seed: number, baseDir: string): AsyncGenerator<Document> {
  const source = corpus.source;
  if (source.kind === 'arithmetic') {
    const forbidden = Object.entries(OPERATORS).filter(([op]) => !source.ops.includes(op as Op)).map(([, operator]) => operator);
    // The generator draws each operator uniformly from all three; keeping only the problems
    // without a forbidden one draws each uniformly from the allowed ones, and keeps each
    // problem's id (its index) and text as the generator makes them.
    const problems = generateArithmetic({
      ...DEFAULT_ARITHMETIC,
      seed,
      problems: Number.MAX_SAFE_INTEGER, // stopped below, once enough are kept
      minDigits: source.digits.min,
      maxDigits: source.digits.max,
      minOperands: source.operands.min,
      maxOperands: source.operands.max,
      traceFraction: source.traces,
    });
    let kept = 0;
    for await (const problem of problems) {
      if (kept === source.problems) break;
      const question = problem.text.slice(0, problem.text.indexOf('='));
      if (forbidden.some((operator) => question.includes(operator))) continue;
      kept++;
      yield problem;
    }
  } else if (source.kind === 'brown') {
    const letters = new Set(source.categories.map((category) => BROWN_LETTERS[category]));
    for await (const document of readBrown()) {
      if (letters.size === 0 || letters.has(document.id.charAt('brown/c'.length))) yield document;
    }
  } else {
    yield* readFiles({ paths: source.paths.map((path) => resolve(baseDir, path)), field: source.field, documentChars: DEFAULT_DOCUMENT_CHARS });
  }
}

/**
 * What the corpus's content depends on beyond its block in the file: the files it reads, by
 * path, size and modification time, so that an edited file invalidates cached results.
 */
export async function corpusFingerprint(corpus: CorpusIR, baseDir: string): Promise<unknown> {
  const source = corpus.source;
  if (source.kind === 'arithmetic') return null;
  const paths = source.kind === 'brown' ? [brownDirectory()] : await expandPaths(source.paths.map((path) => resolve(baseDir, path)));
  return Promise.all(paths.map(async (path) => {
    const info = await stat(path);
    return { path, size: info.size, modified: info.mtimeMs };
  }));
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { brownDirectory, brownText, readBrown } from '../src/data/brown.ts';
import type { Document } from '../src/data/document.ts';
import { isHoldout, splitDocuments } from '../src/data/split.ts';

async function collect(documents: AsyncIterable<Document>): Promise<Document[]> {
  const all: Document[] = [];
  for await (const document of documents) all.push(document);
  return all;
}

describe('Brown corpus', async () => {
  const documents = await collect(readBrown());

  it('reads every file of the package as one document, in order', () => {
    expect(documents.length).toBe(500);
    expect(documents[0].id).toBe('brown/ca01');
    expect(documents[499].id).toBe('brown/cr09');
    expect(new Set(documents.map((d) => d.id)).size).toBe(500);
  });

  it('strips the tags and rebuilds sentences and paragraphs of a real file', async () => {
    const text = brownText(await readFile(join(brownDirectory(), 'ca01'), 'utf8'), 'ca01');
    const paragraphs = text.split('\n\n');
    expect(paragraphs[0]).toBe(
      'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
    );
    expect(paragraphs[1]).toBe(
      'The jury further said in term-end presentments that the City Executive Committee, which had over-all charge of the election, "deserves the praise and thanks of the City of Atlanta" for the manner in which the election was conducted.',
    );
    // A headline stands alone rather than running into the sentence after it.
    expect(paragraphs).toContain('Merger proposed');
    expect(text).toBe(documents[0].text);
  });

  it('leaves no tag behind in any document', () => {
    for (const { id, text } of documents) {
      expect(text, id).not.toMatch(/\w\/(at|nn|in|jj|vbd|np|cc|nns)\b|``/);
      expect(text.length, id).toBeGreaterThan(5000);
    }
  });

  it('names the file and line of a token without a tag', () => {
    expect(() => brownText('\tThe/at jury\n', 'cx01')).toThrow('cx01:1: token "jury" is not of the form word/TAG');
  });

  it('splits documents by a seeded hash of their id, stable when others are removed', async () => {
    const holdout = documents.filter((d) => isHoldout(d.id, 1, 0.05)).map((d) => d.id);
    // Pinned: a change here moves documents between train and holdout for every user.
    expect(holdout.length).toBe(HOLDOUT_COUNT);
    expect(holdout.slice(0, 3)).toEqual(HOLDOUT_FIRST);
    const everyOther = documents.filter((_, i) => i % 2 === 0);
    const holdoutOfSubset = await collect(splitDocuments(fromArray(everyOther), 'holdout', 1, 0.05));
    expect(holdoutOfSubset.map((d) => d.id)).toEqual(holdout.filter((id) => everyOther.some((d) => d.id === id)));
    const train = await collect(splitDocuments(fromArray(documents), 'train', 1, 0.05));
    expect(train.length + holdout.length).toBe(500);
    expect(documents.filter((d) => isHoldout(d.id, 2, 0.05)).map((d) => d.id)).not.toEqual(holdout);
  });

  it('rejects a holdout fraction outside [0, 1]', () => {
    expect(() => isHoldout('x', 1, 1.5)).toThrow('holdout fraction must be in [0, 1], got 1.5');
  });
});

async function* fromArray(documents: Document[]): AsyncGenerator<Document> {
  yield* documents;
}

const HOLDOUT_COUNT = 25;
const HOLDOUT_FIRST = ['brown/ca03', 'brown/ca09', 'brown/ca15'];

// The data stage encodes in a piscina pool, a batch of documents per task: what it writes is
// what encoding every document in this thread gives, in corpus order, and a tokenizer the
// threads cannot load stops it with the file's path and the cause.
import { afterAll, describe, expect, test } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExperimentIR } from '../dsl/ir.ts';
import type { Document } from '../src/data/document.ts';
import { corpusDocuments } from '../src/stages/corpus.ts';
import { loadSplit, loadThoughts, runDataStage } from '../src/stages/token-data.ts';
import { encodeDocuments } from '../src/stages/tokenize-task.ts';
import { runTokenizerStage } from '../src/stages/tokenizer.ts';
import { loadTokenizer } from '../src/tokenizer/tokenizer-json.ts';
import { TINY_EXPERIMENT, temporaryDirectory, tinyExperiment } from './stages-fixture.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function folder(): Promise<string> {
  const temp = await temporaryDirectory();
  cleanups.push(temp.remove);
  return temp.dir;
}

/** The data stage's files against the whole side encoded at once in this thread. */
async function expectPoolMatchesThisThread(ir: ExperimentIR, dir: string): Promise<{ batches: number; thoughts: number }> {
  const runDir = join(dir, 'run');
  const tokenizerResult = await runTokenizerStage(ir, runDir, dir);
  const data = await runDataStage(ir, runDir, dir, tokenizerResult);
  const tokenizer = await loadTokenizer(tokenizerResult.path);
  let batches = 0;
  let thoughts = 0;
  for (const part of ['train', 'holdout'] as const) {
    const documents: Document[] = [];
    for await (const document of corpusDocuments(ir.corpus, ir.seed, dir, part)) documents.push(document);
    const expected = encodeDocuments(documents, tokenizer);
    const split = await loadSplit(data, part);
    expect(split.ids).toEqual(documents.map(({ id }) => id));
    expect(Array.from(split.starts.subarray(1).map((start, d) => start - split.starts[d]))).toEqual(Array.from(expected.lengths));
    expect(Buffer.from(split.tokens.buffer).equals(Buffer.from(expected.tokens.buffer))).toBe(true);
    expect(await loadThoughts(data, part)).toEqual(expected.thoughts);
    batches += Math.ceil(documents.length / 64);
    thoughts += expected.thoughts.length;
  }
  return { batches, thoughts };
}

describe('data stage in a piscina pool', () => {
  test('arithmetic with worked traces: the same tokens, starts, ids and thoughts as in one thread, over many batches', async () => {
    const ir = tinyExperiment([], TINY_EXPERIMENT.replace('problems 400', 'problems 3000'));
    const { batches, thoughts } = await expectPoolMatchesThisThread(ir, await folder());
    expect(batches).toBeGreaterThan(40); // more than the threads' batches in flight, so the order is at stake
    expect(thoughts).toBeGreaterThan(1000);
  });

  test('a plain corpus of short and long documents (some past the characters of a batch): the same as in one thread', async () => {
    const dir = await folder();
    const words = ['the', 'caf\u00e9', 'na\u00efve', '\u6570\u5b66', 'ran', 'quickly', '12', '\ud83d\ude00', 'end.', 'And'];
    const lines = Array.from({ length: 1500 }, (_, i) => {
      const length = i % 500 === 7 ? 60_000 : 1 + ((i * 37) % 90); // three documents of over 256K characters
      return JSON.stringify({ text: Array.from({ length }, (_, w) => words[(i * 7 + w * 3) % words.length]).join(' ') + ` #${i}` });
    });
    await writeFile(join(dir, 'plain.jsonl'), `${lines.join('\n')}\n`);
    const ir = tinyExperiment([], TINY_EXPERIMENT.replace(/generate arithmetic \{[^}]*\}/, `files "${join(dir, 'plain.jsonl')}" { format jsonl }`));
    const { thoughts } = await expectPoolMatchesThisThread(ir, dir);
    expect(thoughts).toBe(0);
  });

  test('a tokenizer file the threads cannot read: an error naming its path and the cause', async () => {
    const dir = await folder();
    // Many batches, so that several are out when the first fails: the pool is destroyed only
    // after they answer (one answering a destroyed pool is an uncaught error in piscina).
    const ir = tinyExperiment([], TINY_EXPERIMENT.replace('problems 400', 'problems 3000'));
    const path = join(dir, 'missing', 'tokenizer.json');
    const tokenizer = { path, sha256: '0'.repeat(64), vocabSize: 300, endToken: 0, pretrained: false, trainSeconds: 0, cached: false };
    await expect(runDataStage(ir, join(dir, 'run'), dir, tokenizer)).rejects.toThrow(new RegExp(`tokenizer ${path}.*ENOENT`));
  });
});

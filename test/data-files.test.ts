import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Document } from '../src/data/document.ts';
import { DEFAULT_DOCUMENT_CHARS, DEFAULT_FIELD, readFiles, type FileCorpusOptions } from '../src/data/files.ts';
import { expandPaths, globToRegExp } from '../src/data/paths.ts';
import { Utf8Checker } from '../src/data/utf8.ts';
import { Random } from '../src/util/random.ts';

const CORPUS = 'test/fixtures/data/corpus';

async function read(paths: string[], options: Partial<FileCorpusOptions> = {}): Promise<Document[]> {
  const documents: Document[] = [];
  for await (const document of readFiles({ paths, field: DEFAULT_FIELD, documentChars: DEFAULT_DOCUMENT_CHARS, ...options })) {
    documents.push(document);
  }
  return documents;
}

async function temporaryFile(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'rpt-data-')), name);
  await writeFile(path, content);
  return path;
}

describe('user file corpora', () => {
  it('walks a directory for .txt and .jsonl files, sorted, skipping others', async () => {
    expect(await expandPaths([CORPUS])).toEqual([
      `${CORPUS}/a.txt`,
      `${CORPUS}/notes/b.txt`,
      `${CORPUS}/notes/deep/c.txt`,
      `${CORPUS}/records.jsonl`,
    ]);
  });

  it('expands globs with *, ** and ?, without repeating a file', async () => {
    expect(await expandPaths([`${CORPUS}/*.txt`])).toEqual([`${CORPUS}/a.txt`]);
    expect(await expandPaths([`${CORPUS}/**/*.txt`])).toEqual([`${CORPUS}/a.txt`, `${CORPUS}/notes/b.txt`, `${CORPUS}/notes/deep/c.txt`]);
    expect(await expandPaths([`${CORPUS}/notes/?.txt`, `${CORPUS}/notes/b.txt`])).toEqual([`${CORPUS}/notes/b.txt`]);
    expect(globToRegExp('a/**/[!x]?.txt').test('a/b/c/yz.txt')).toBe(true);
    expect(globToRegExp('a/*.txt').test('a/b/c.txt')).toBe(false);
  });

  it('names a missing path, a glob without matches and an unsupported file', async () => {
    await expect(expandPaths([`${CORPUS}/missing.txt`])).rejects.toThrow(`${CORPUS}/missing.txt: no such file or directory`);
    await expect(expandPaths([`${CORPUS}/*.csv`])).rejects.toThrow(`no .txt or .jsonl files match ${CORPUS}/*.csv`);
    await expect(expandPaths([`${CORPUS}/readme.md`])).rejects.toThrow(`${CORPUS}/readme.md: unsupported file type`);
  });

  it('reads .txt files whole when small and .jsonl records by line', async () => {
    const documents = await read([CORPUS]);
    expect(documents).toEqual([
      { id: `${CORPUS}/a.txt#0`, text: 'First paragraph of a.\n\nSecond paragraph, café.\n' },
      { id: `${CORPUS}/notes/b.txt#0`, text: 'Notes b.\n' },
      { id: `${CORPUS}/notes/deep/c.txt#0`, text: 'Deep c.\n' },
      { id: `${CORPUS}/records.jsonl:1`, text: 'one' },
      { id: `${CORPUS}/records.jsonl:3`, text: 'two é' },
      { id: `${CORPUS}/records.jsonl:4`, text: 'three' },
    ]);
  });

  it('cuts a large .txt file into documents at paragraph breaks, losing nothing', async () => {
    const random = new Random(3);
    const paragraphs = Array.from({ length: 400 }, (_, i) => `Paragraph ${i} ${'word '.repeat(random.int(1, 60))}ünïcödé 🎉`);
    const text = `${paragraphs.join('\n\n')}\n`;
    const path = await temporaryFile('big.txt', text);
    const documents = await read([path], { documentChars: 1000 });
    expect(documents.map((d) => d.text).join('')).toBe(text);
    expect(documents.map((d) => d.id)).toEqual(documents.map((_, i) => `${path}#${i}`));
    for (const document of documents.slice(0, -1)) {
      expect(document.text.length).toBeGreaterThanOrEqual(1000);
      expect(document.text.endsWith('\n\n')).toBe(true);
    }
  });

  it('cuts a file without paragraph breaks at lines, and one without lines anywhere', async () => {
    const lines = await temporaryFile('lines.txt', 'line of text\n'.repeat(500));
    const lineDocuments = await read([lines], { documentChars: 1000 });
    expect(lineDocuments.length).toBeGreaterThan(2);
    for (const document of lineDocuments) expect(document.text.endsWith('\n')).toBe(true);
    const oneLine = `a${'🎉'.repeat(3000)}`; // pairs start at odd offsets: an even cut would split one
    const documents = await read([await temporaryFile('one.txt', oneLine)], { documentChars: 1001 });
    expect(documents.map((d) => d.text).join('')).toBe(oneLine);
    // No cut between the two halves of a surrogate pair: no lone surrogate on either side.
    for (const document of documents) expect(document.text).not.toMatch(/\p{Cs}/u);
  });

  it('names the file and byte offset of invalid UTF-8', async () => {
    const bad = await temporaryFile('bad.txt', Uint8Array.of(0x61, 0x62, 0xc3, 0xa9, 0x63, 0xe2, 0x28, 0xa1));
    await expect(read([bad])).rejects.toThrow(`${bad}: invalid UTF-8 at byte offset 5`);
    const cut = await temporaryFile('cut.txt', Uint8Array.of(0x61, 0x0a, 0x62, 0xf0, 0x9f, 0x8e));
    await expect(read([cut])).rejects.toThrow(`${cut}: invalid UTF-8 at byte offset 3 (sequence cut off by the end of the file)`);
  });

  it('names the file and line of bad JSON and of a missing field', async () => {
    const bad = await temporaryFile('bad.jsonl', '{"text": "ok"}\n\n{"text": oops}\n');
    await expect(read([bad])).rejects.toThrow(`${bad}:3: invalid JSON`);
    await expect(read([`${CORPUS}/records.jsonl`], { field: 'title' })).rejects.toThrow(`${CORPUS}/records.jsonl:1: no string field "title"`);
  });

  it('validates UTF-8 exactly as a strict decoder does, across any chunking', () => {
    const random = new Random(5);
    const interesting = [0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff];
    const strict = new TextDecoder('utf-8', { fatal: true });
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = Uint8Array.from({ length: random.int(0, 12) }, () => (random.float() < 0.7 ? random.pick(interesting) : random.int(0, 255)));
      let valid = true;
      try {
        strict.decode(bytes);
      } catch {
        valid = false;
      }
      const checker = new Utf8Checker();
      const split = random.int(0, bytes.length);
      let bad = checker.check(bytes.subarray(0, split));
      if (bad < 0) bad = checker.check(bytes.subarray(split));
      if (bad < 0) bad = checker.finish();
      expect(bad < 0, `${Array.from(bytes)}`).toBe(valid);
      // Everything before the reported offset is valid on its own.
      if (bad >= 0) expect(() => strict.decode(bytes.subarray(0, bad))).not.toThrow();
    }
  });
});

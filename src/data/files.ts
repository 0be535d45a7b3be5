import { createReadStream } from 'node:fs';
import type { Document } from './document.ts';
import { expandPaths } from './paths.ts';
import { Utf8Checker } from './utf8.ts';

// User corpora: .txt files and .jsonl files (one document per line, text in a named field),
// named directly, by directory or by glob. Files are streamed in chunks, never read whole.
export interface FileCorpusOptions {
  paths: string[];
  field: string; // the .jsonl field holding a document's text
  documentChars: number; // a .txt file is cut into documents of about this many characters
}

export const DEFAULT_FIELD = 'text';
export const DEFAULT_DOCUMENT_CHARS = 1 << 20;

export async function* readFiles(options: FileCorpusOptions): AsyncGenerator<Document> {
  if (!(Number.isInteger(options.documentChars) && options.documentChars > 0)) {
    throw new Error(`document size must be a positive number of characters, got ${options.documentChars}`);
  }
  for (const path of await expandPaths(options.paths)) {
    if (path.endsWith('.jsonl')) yield* jsonlDocuments(path, options.field);
    else yield* textDocuments(path, options.documentChars);
  }
}

const CHUNK_BYTES = 1 << 20;

async function* readTextChunks(path: string): AsyncGenerator<string> {
  const checker = new Utf8Checker();
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    const bad = checker.check(chunk);
    if (bad >= 0) throw new Error(`${path}: invalid UTF-8 at byte offset ${bad}`);
    const text = decoder.decode(chunk, { stream: true });
    if (text.length > 0) yield text;
  }
  const cut = checker.finish();
  if (cut >= 0) throw new Error(`${path}: invalid UTF-8 at byte offset ${cut} (sequence cut off by the end of the file)`);
}

// A .txt file yields documents `path#0`, `path#1`, ...: each ends at the first paragraph break
// after `documentChars` characters, so a book-sized file is held out in whole sections.
async function* textDocuments(path: string, documentChars: number): AsyncGenerator<Document> {
  let pending = '';
  let part = 0;
  for await (const text of readTextChunks(path)) {
    pending += text;
    for (let cut = documentCut(pending, documentChars); cut > 0; cut = documentCut(pending, documentChars)) {
      yield { id: `${path}#${part++}`, text: pending.slice(0, cut) };
      pending = pending.slice(cut);
    }
  }
  if (pending.length > 0) yield { id: `${path}#${part}`, text: pending };
}

// Where to end the document at the head of `text`, or 0 to wait for more text. Without a
// paragraph break by twice the size, the cut falls on the last line break, or failing that
// anywhere outside a surrogate pair: memory stays bounded whatever the file holds.
function documentCut(text: string, size: number): number {
  if (text.length < size) return 0;
  const paragraph = text.indexOf('\n\n', size - 1);
  if (paragraph >= 0 && paragraph < 2 * size) return paragraph + 2;
  if (text.length < 2 * size) return 0;
  const line = text.lastIndexOf('\n', 2 * size - 1);
  if (line >= 0) return line + 1;
  const low = text.charCodeAt(2 * size);
  return low >= 0xdc00 && low <= 0xdfff ? 2 * size - 1 : 2 * size;
}

// A .jsonl file yields one document `path:line` per non-blank line.
async function* jsonlDocuments(path: string, field: string): AsyncGenerator<Document> {
  let pending = '';
  let line = 0;
  for await (const text of readTextChunks(path)) {
    pending += text;
    let start = 0;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n', start)) {
      const document = jsonlDocument(pending.slice(start, end), path, ++line, field);
      if (document) yield document;
      start = end + 1;
    }
    pending = pending.slice(start);
  }
  const document = jsonlDocument(pending, path, ++line, field);
  if (document) yield document;
}

function jsonlDocument(json: string, path: string, line: number, field: string): Document | null {
  if (json.trim() === '') return null;
  let record: unknown;
  try {
    record = JSON.parse(json);
  } catch (error) {
    throw new Error(`${path}:${line}: invalid JSON (${(error as Error).message})`);
  }
  const text = typeof record === 'object' && record !== null ? (record as Record<string, unknown>)[field] : undefined;
  if (typeof text !== 'string') throw new Error(`${path}:${line}: no string field "${field}"`);
  return { id: `${path}:${line}`, text };
}

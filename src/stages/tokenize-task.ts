// A piscina task of the data stage (src/stages/token-data.ts): one batch of documents encoded,
// with the tokenizer loaded once per worker thread from its tokenizer.json.
import type { Document } from '../data/document.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { loadTokenizer } from '../tokenizer/tokenizer-json.ts';
import type { SplitThought } from './token-data.ts';

export interface TokenizeTask {
  tokenizer: string; // tokenizer.json path
  forModel?: boolean; // a pretrained model's tokenizer (loadTokenizer's option): never appended to
  documents: Document[]; // their thought spans already checked
}

export interface TokenizedBatch {
  tokens: Int32Array; // the batch's documents back to back
  lengths: Int32Array; // tokens per document
  thoughts: SplitThought[]; // spans as indices into `tokens`
}

let loaded: { path: string; forModel: boolean; tokenizer: Promise<Tokenizer> } | undefined;

export default async function tokenizeBatch(task: TokenizeTask): Promise<TokenizedBatch> {
  const forModel = task.forModel ?? false;
  if (loaded?.path !== task.tokenizer || loaded.forModel !== forModel) {
    loaded = { path: task.tokenizer, forModel, tokenizer: loadTokenizer(task.tokenizer, { forModel }) };
  }
  return encodeDocuments(task.documents, await loaded.tokenizer);
}

/**
 * The text of each document is encoded in pieces cut at every thought span's ends, so that a
 * span always starts and ends at a token boundary.
 */
export function encodeDocuments(documents: Document[], tokenizer: Pick<Tokenizer, 'encode'>): TokenizedBatch {
  const tokens: number[] = [];
  const lengths = new Int32Array(documents.length);
  const thoughts: SplitThought[] = [];
  // One id at a time: spreading a long document's ids as arguments can overflow the stack.
  const append = (text: string) => {
    for (const id of tokenizer.encode(text)) tokens.push(id);
  };
  documents.forEach((document, d) => {
    const first = tokens.length;
    let at = 0; // characters of the text tokenized so far
    for (const thought of document.thoughts ?? []) {
      append(document.text.slice(at, thought.start));
      const start = tokens.length;
      append(document.text.slice(thought.start, thought.end));
      thoughts.push({ start, end: tokens.length, tokens: Int32Array.from(tokenizer.encode(thought.text)) });
      at = thought.end;
    }
    append(document.text.slice(at));
    lengths[d] = tokens.length - first;
  });
  return { tokens: Int32Array.from(tokens), lengths, thoughts };
}

// Tokenizer figures on the Brown corpus: reading it, training BPE at a few vocabulary sizes,
// and encoding it with our encoder and with @huggingface/tokenizers.
import { Tokenizer } from '@huggingface/tokenizers';
import { readBrown } from '../src/data/brown.ts';
import type { Document } from '../src/data/document.ts';
import { toTokenizerJson } from '../src/tokenizer/tokenizer-json.ts';
import { trainBpe } from '../src/tokenizer/train.ts';
import { printFigures, type Figure } from './report.ts';

const VOCAB_SIZES = [1024, 8192, 32768];

async function* stream(documents: Document[]): AsyncGenerator<Document> {
  yield* documents;
}

export async function main(args: string[]): Promise<void> {
  const figures: Figure[] = [];
  let start = performance.now();
  const documents: Document[] = [];
  for await (const document of readBrown()) documents.push(document);
  figures.push({ name: 'brown_read', value: (performance.now() - start) / 1000, unit: 's' });
  const megabytes = documents.reduce((sum, d) => sum + Buffer.byteLength(d.text), 0) / 1e6;
  figures.push({ name: 'brown_text', value: megabytes, unit: 'MB' });

  for (const vocabSize of VOCAB_SIZES) {
    start = performance.now();
    const tokenizer = await trainBpe(stream(documents), vocabSize);
    figures.push({ name: `tokenizer_train_brown_${vocabSize}`, value: (performance.now() - start) / 1000, unit: 's' });
    if (vocabSize !== 8192) continue;

    start = performance.now();
    let tokens = 0;
    for (const { text } of documents) tokens += tokenizer.encode(text).length;
    figures.push({ name: 'tokenizer_encode_brown_8192', value: megabytes / ((performance.now() - start) / 1000), unit: 'MB/s' });
    figures.push({ name: 'brown_bytes_per_token_8192', value: (megabytes * 1e6) / tokens, unit: 'B' });
    const reference = new Tokenizer(toTokenizerJson(tokenizer), {});
    start = performance.now();
    for (const { text } of documents) reference.encode(text);
    figures.push({ name: 'hf_tokenizers_js_encode_brown_8192', value: megabytes / ((performance.now() - start) / 1000), unit: 'MB/s' });
  }
  printFigures(figures, args);
}

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkHfFolder } from '../src/hf/check.ts';
import { HF_FILES, readHfFolder } from '../src/hf/folder.ts';
import { readTokenizerIds } from '../src/hf/tokenizer-files.ts';
import { join } from 'node:path';

// What the checks of an experiment need to know about a Hugging Face folder it names: that the
// folder holds a model the engine runs (files, architecture, every shape against config.json),
// how long a context it was trained on, and its tokenizer, which the corpus must share.

export interface HuggingfaceFolder {
  maxContext: number; // config.json max_position_embeddings
  tokenizerPath: string;
  tokenizerSha256: string;
  tokenizerConfigPath: string;
  tokens: Map<string, number>; // every token of tokenizer.json by its text
  chatTemplate: boolean; // tokenizer_config.json (or chat_template.jinja) has one
}

/**
 * The summary of the folder `dir`, written `shown` in the experiment (which messages and paths
 * use, so that they read as the file does); throws an Error naming the file and the field that
 * is wrong.
 */
export function readHuggingfaceFolder(dir: string, shown: string): HuggingfaceFolder {
  try {
    const summary = checkHfFolder(dir);
    const folder = readHfFolder(dir);
    return {
      maxContext: summary.config.context,
      tokenizerPath: join(shown, HF_FILES.tokenizer),
      tokenizerSha256: fileSha256(folder.tokenizerPath)!,
      tokenizerConfigPath: join(shown, HF_FILES.tokenizerConfig),
      tokens: readTokenizerIds(folder.tokenizerPath),
      chatTemplate: folder.tokenizer.chatTemplate !== undefined,
    };
  } catch (error) {
    throw new Error((error as Error).message.split(dir).join(shown));
  }
}

/** The sha256 of a file, or undefined when it cannot be read (reported where the file is required). */
export function fileSha256(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

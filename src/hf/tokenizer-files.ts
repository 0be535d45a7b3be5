// The tokenizer's files in a Hugging Face folder: tokenizer_config.json (special token strings
// and the chat template) and tokenizer.json (here only its token ids; encoding is the
// tokenizer's business).

import { readFileSync } from 'node:fs';
import { CheckpointError } from '../checkpoint/error.ts';
import { isObject, present, readJsonObject, type JsonObject } from './json-file.ts';

export interface HfTokenizerConfig {
  chatTemplate: string | undefined; // Jinja source
  bosToken: string | undefined;
  eosToken: string | undefined;
  padToken: string | undefined;
}

/**
 * tokenizer_config.json (`json`, read from `path`). A special token is a string or an AddedToken
 * object {content: ...}. chat_template is a string, or a list of {name, template} of which the
 * one named "default" is the template; a chat_template.jinja file beside it (`jinja`) takes
 * precedence, as it does in transformers.
 */
export function parseTokenizerConfig(path: string, json: JsonObject, jinja?: string): HfTokenizerConfig {
  const token = (field: string): string | undefined => {
    const value = present(json, field);
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value;
    if (isObject(value) && typeof value.content === 'string') return value.content;
    throw new CheckpointError(path, `field "${field}" is ${JSON.stringify(value)}; it must be a string or an object with a string "content"`);
  };
  return { chatTemplate: jinja ?? chatTemplateOf(path, present(json, 'chat_template')), bosToken: token('bos_token'), eosToken: token('eos_token'), padToken: token('pad_token') };
}

/** tokenizer_config.json with the chat_template.jinja beside it, if any. */
export function readTokenizerConfig(configPath: string, jinjaPath: string): HfTokenizerConfig {
  let jinja: string | undefined;
  try {
    jinja = readFileSync(jinjaPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CheckpointError(jinjaPath, `the file cannot be read (${(err as Error).message})`);
  }
  return parseTokenizerConfig(configPath, readJsonObject(configPath), jinja);
}

/**
 * Every token of tokenizer.json by its text: the model's vocabulary and the added tokens. Token
 * texts of the vocabulary are as the file writes them (byte-level BPE: GPT-2's byte alphabet).
 */
export function readTokenizerIds(path: string): Map<string, number> {
  const json = readJsonObject(path);
  const ids = new Map<string, number>();
  const add = (text: string, id: unknown, where: string): void => {
    if (!(Number.isSafeInteger(id) && (id as number) >= 0)) throw new CheckpointError(path, `${where} ${JSON.stringify(text)} has id ${JSON.stringify(id)}`);
    ids.set(text, id as number);
  };
  const model = json.model;
  if (!isObject(model)) throw new CheckpointError(path, 'field "model" is missing or not an object');
  const vocab = model.vocab;
  // BPE and WordPiece keep {text: id}; Unigram a list of [text, score] whose position is the id.
  if (isObject(vocab)) for (const [text, id] of Object.entries(vocab)) add(text, id, 'vocabulary entry');
  else if (Array.isArray(vocab)) vocab.forEach((entry, id) => add(Array.isArray(entry) ? String(entry[0]) : String(entry), id, 'vocabulary entry'));
  else throw new CheckpointError(path, 'field "model.vocab" is missing');
  const added = present(json, 'added_tokens') ?? [];
  if (!Array.isArray(added)) throw new CheckpointError(path, 'field "added_tokens" is not a list');
  for (const token of added) {
    if (!isObject(token) || typeof token.content !== 'string') throw new CheckpointError(path, `added token ${JSON.stringify(token)} has no string "content"`);
    add(token.content, token.id, 'added token');
  }
  return ids;
}

function chatTemplateOf(path: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((entry) => isObject(entry) && entry.name === 'default');
    if (named === undefined) return undefined;
    if (typeof named.template === 'string') return named.template;
  }
  throw new CheckpointError(path, `field "chat_template" is ${JSON.stringify(value).slice(0, 80)}; it must be a string or a list of {name, template}`);
}

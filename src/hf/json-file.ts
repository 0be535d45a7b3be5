// The JSON files of a Hugging Face folder, read with errors that name the file and the field.

import { readFileSync } from 'node:fs';
import { CheckpointError } from '../checkpoint/error.ts';

export type JsonObject = Record<string, unknown>;

// Synchronous: the files are small, and the checks of an experiment that read them are synchronous.

/** The JSON object in the file at `path`; undefined when the file does not exist and `optional`. */
export function readJsonObject(path: string): JsonObject;
export function readJsonObject(path: string, optional: 'optional'): JsonObject | undefined;
export function readJsonObject(path: string, optional?: 'optional'): JsonObject | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return undefined;
    throw new CheckpointError(path, code === 'ENOENT' ? 'the file does not exist' : `the file cannot be read (${code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(path, `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) throw new CheckpointError(path, 'not a JSON object');
  return json;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field that is absent or null reads as undefined: Hugging Face writes null for "not set". */
export function present(json: JsonObject, field: string): unknown {
  const value = Object.hasOwn(json, field) ? json[field] : undefined;
  return value === null ? undefined : value;
}

/** The field as an integer >= `min`; `fallback` when absent (an error when there is none). */
export function integerField(path: string, json: JsonObject, field: string, min: number, fallback?: number): number {
  const value = present(json, field);
  if (value === undefined) {
    if (fallback === undefined) throw new CheckpointError(path, `field "${field}" is missing`);
    return fallback;
  }
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new CheckpointError(path, `field "${field}" is ${JSON.stringify(value)}; it must be an integer >= ${min}`);
  }
  return value as number;
}

/** The field as a finite number > 0; `fallback` when absent. */
export function positiveField(path: string, json: JsonObject, field: string, fallback: number): number {
  const value = present(json, field);
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new CheckpointError(path, `field "${field}" is ${JSON.stringify(value)}; it must be a positive number`);
  }
  return value;
}

export function booleanField(path: string, json: JsonObject, field: string, fallback: boolean): boolean {
  const value = present(json, field);
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new CheckpointError(path, `field "${field}" is ${JSON.stringify(value)}; it must be true or false`);
  return value;
}

export function stringField(path: string, json: JsonObject, field: string): string | undefined {
  const value = present(json, field);
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new CheckpointError(path, `field "${field}" is ${JSON.stringify(value)}; it must be a string`);
  return value;
}

/** A token id field that may hold one id or a list of them (eos_token_id); [] when absent. */
export function tokenIdsField(path: string, json: JsonObject, field: string): number[] {
  const value = present(json, field);
  if (value === undefined) return [];
  const ids = Array.isArray(value) ? value : [value];
  if (!ids.every((id) => Number.isSafeInteger(id) && id >= 0)) {
    throw new CheckpointError(path, `field "${field}" is ${JSON.stringify(value)}; it must be a token id or a list of token ids`);
  }
  return ids as number[];
}

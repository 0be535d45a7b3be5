import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../checkpoint/atomic.ts';

// Every stage writes its result into `<run>/stages/<stage>-<hash12>/`, where the hash covers
// everything the result depends on. `done.json` is written last, atomically: a folder without
// it is unfinished work (a pretrain stage resumes from its checkpoints), a folder with it is a
// result any later run with the same inputs reuses as it is.

const DONE_FILE = 'done.json';

/** sha256 (hex) of a JSON value with its object keys sorted, so that key order never matters. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The folder of a stage result, created if missing. */
export async function stageDirectory(runDir: string, stage: string, hash: string): Promise<string> {
  const dir = join(runDir, 'stages', `${stage}-${hash.slice(0, 12)}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** The completed result recorded in `dir`, or undefined when the stage has not finished there. */
export async function readDone<T>(dir: string, hash: string): Promise<T | undefined> {
  const path = join(dir, DONE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: cannot read the stage result (${(error as Error).message})`);
  }
  let done: { hash?: unknown; result?: T };
  try {
    done = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: the stage result is not valid JSON (${(error as Error).message}); remove the file to compute the stage again`);
  }
  // Twelve hex digits name the folder; the full hash inside rules out a collision.
  if (done.hash !== hash || done.result === undefined) throw new Error(`${path}: records the result of other inputs (hash ${String(done.hash)}, expected ${hash}); remove the folder to compute the stage again`);
  return done.result;
}

/** Marks the stage in `dir` complete with `result`; written last, so its presence means done. */
export async function writeDone(dir: string, hash: string, result: unknown): Promise<void> {
  await writeJson(join(dir, DONE_FILE), { hash, result });
}

/** Writes `value` as indented JSON to `path`, atomically. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  await writeFileAtomically(path, (file) => file.writeFile(text));
}

/** Writes a typed array to `path` as little-endian binary, atomically. */
export async function writeArray(path: string, array: Int32Array | Float32Array): Promise<void> {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  await writeFileAtomically(path, (file) => file.writeFile(bytes));
}

/** Reads a file written by `writeArray`. */
export async function readInt32Array(path: string): Promise<Int32Array> {
  const bytes = await readBinary(path, Int32Array.BYTES_PER_ELEMENT);
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

export async function readFloat32Array(path: string): Promise<Float32Array> {
  const bytes = await readBinary(path, Float32Array.BYTES_PER_ELEMENT);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

async function readBinary(path: string, elementBytes: number): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (bytes.byteLength % elementBytes !== 0) throw new Error(`${path}: ${bytes.byteLength} bytes is not a whole number of ${elementBytes}-byte elements; the file is damaged`);
  // A fresh, aligned copy: a Buffer may sit at any offset of a shared pool.
  return new Uint8Array(bytes);
}

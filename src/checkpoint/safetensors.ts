import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { writeFileAtomically } from './atomic.ts';
import { CheckpointError } from './error.ts';
import { bf16ToF32, f16ToF32 } from './half.ts';

// The safetensors format (github.com/huggingface/safetensors), byte by byte:
//   8 bytes   N, the length of the header, unsigned 64-bit little-endian
//   N bytes   the header, UTF-8 JSON: {"__metadata__": {string: string},
//             "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
//             padded with spaces to a multiple of 8 bytes so that the data starts aligned
//   the rest  the data section: each tensor's elements, row-major and little-endian, at
//             [begin, end) relative to the start of the section; the tensors tile it exactly.
// Tensors are written as F32, sorted by name as the reference writer does; F32, F16 and BF16
// are read, all widened exactly to f32.

/** A tensor with its Hugging Face style name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsContents {
  tensors: NamedTensor[]; // in file order
  metadata: Record<string, string>; // the header's `__metadata__`
}

const METADATA_KEY = '__metadata__';
const MAX_HEADER_BYTES = 100_000_000; // the reference implementation's limit
const BYTES_PER_ELEMENT: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
const MAX_IO_BYTES = 1 << 30; // one read or write call moves at most this much; Linux caps a call near 2 GiB

/** Writes `tensors` as F32 with `metadata` to `path`, atomically: a crash leaves the old file or none. */
export async function writeSafetensors(path: string, tensors: NamedTensor[], metadata: Record<string, string>): Promise<void> {
  requireLittleEndian(path);
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header = encodeHeader(path, sorted, metadata);
  const headerLength = Buffer.alloc(8);
  headerLength.writeBigUInt64LE(BigInt(header.length));
  await writeFileAtomically(path, async (file) => {
    await writeAll(file, headerLength);
    await writeAll(file, header);
    for (const tensor of sorted) await writeAll(file, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  });
}

/** Reads every tensor of a safetensors file as f32, checking the header against the file first. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  const file = await SafetensorsFile.open(path);
  try {
    const tensors: NamedTensor[] = [];
    for (const entry of file.entries) {
      let data: Float32Array;
      try {
        data = new Float32Array(entry.elements);
      } catch {
        throw new CheckpointError(path, `tensor '${entry.name}' of ${entry.elements} elements does not fit in memory`);
      }
      await file.read(data, entry);
      tensors.push({ name: entry.name, shape: entry.shape, data });
    }
    return { tensors, metadata: file.metadata };
  } finally {
    await file.close();
  }
}

/** A header, checked against the file's size. */
export interface SafetensorsHeader {
  entries: SafetensorsEntry[]; // in file order
  metadata: Record<string, string>; // the header's `__metadata__`
  dataStart: number; // where the data section starts in the file
}

/**
 * Reads and checks the header of a safetensors file without reading any tensor data;
 * synchronous, as it reads a few kilobytes, so that checks of a folder can be too.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  requireLittleEndian(path);
  const fd = openForReadingSync(path);
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8) throw new CheckpointError(path, `the file is ${fileSize} bytes long, too short to hold the 8-byte header length`);
    const lengthBytes = Buffer.alloc(8);
    readExactlySync(lengthBytes, fd, 0, path);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(fileSize - 8)) {
      throw new CheckpointError(path, `the header length is ${headerLength} bytes but only ${fileSize - 8} bytes follow it: the file is truncated or not safetensors`);
    }
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw new CheckpointError(path, `the header length is ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit: the file is not safetensors`);
    }
    const headerBytes = Buffer.alloc(Number(headerLength));
    readExactlySync(headerBytes, fd, 8, path);
    const { entries, metadata } = parseHeader(path, headerBytes);
    const dataStart = 8 + headerBytes.length;
    checkLayout(path, entries, fileSize - dataStart);
    return { entries, metadata, dataStart };
  } finally {
    closeSync(fd);
  }
}

/**
 * An open safetensors file whose header has been read and checked. Tensors are read one at a
 * time into arrays the caller owns, so a large model can be read straight into its own
 * parameter array without a second copy of every tensor.
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    readonly entries: SafetensorsEntry[], // in file order
    readonly metadata: Record<string, string>,
    private readonly dataStart: number,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const { entries, metadata, dataStart } = readSafetensorsHeader(path);
    return new SafetensorsFile(path, await openForReading(path), entries, metadata, dataStart);
  }

  /** Reads the tensor `entry` (one of `entries`) into `out`, widened exactly to f32. */
  async read(out: Float32Array, entry: SafetensorsEntry): Promise<void> {
    const { name, dtype, elements, begin } = entry;
    if (out.length !== elements) throw new CheckpointError(this.path, `tensor '${name}' has ${elements} elements, read into an array of ${out.length}`);
    const position = this.dataStart + begin;
    if (dtype === 'F32') {
      await readExactly(new Uint8Array(out.buffer, out.byteOffset, out.byteLength), this.file, position, this.path);
      return;
    }
    const halves = new Uint16Array(elements);
    await readExactly(new Uint8Array(halves.buffer), this.file, position, this.path);
    if (dtype === 'F16') f16ToF32(out, halves);
    else bf16ToF32(out, halves);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** One tensor as the header describes it; its bytes are [begin, end) of the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  elements: number;
  begin: number;
  end: number;
}

function encodeHeader(path: string, sorted: NamedTensor[], metadata: Record<string, string>): Buffer {
  // Built by hand rather than from an object: a tensor named `__proto__` or `constructor` stays a
  // plain key, and the order is exactly the one written.
  const fields = [`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`];
  let offset = 0;
  for (let i = 0; i < sorted.length; i++) {
    const { name, shape, data } = sorted[i];
    if (name === METADATA_KEY) throw new CheckpointError(path, `a tensor cannot be named ${METADATA_KEY}`);
    if (i > 0 && name === sorted[i - 1].name) throw new CheckpointError(path, `two tensors are named '${name}'`);
    const elements = elementCount(shape);
    if (elements === undefined) throw new CheckpointError(path, `tensor '${name}' has shape ${JSON.stringify(shape)}; dimensions must be non-negative integers`);
    if (elements !== data.length) throw new CheckpointError(path, `tensor '${name}' has shape ${JSON.stringify(shape)} (${elements} elements) but ${data.length} values`);
    const info = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += data.byteLength;
  }
  const json = Buffer.from(`{${fields.join(',')}}`, 'utf8');
  return Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, ' ')]);
}

function parseHeader(path: string, bytes: Buffer): { entries: SafetensorsEntry[]; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new CheckpointError(path, `the header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isObject(header)) throw new CheckpointError(path, 'the header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isObject(value)) throw new CheckpointError(path, `${METADATA_KEY} is not a JSON object`);
      for (const [key, text] of Object.entries(value)) {
        if (typeof text !== 'string') throw new CheckpointError(path, `${METADATA_KEY} entry '${key}' is not a string`);
        metadata[key] = text;
      }
      continue;
    }
    entries.push(parseEntry(path, name, value));
  }
  return { entries, metadata };
}

function parseEntry(path: string, name: string, value: unknown): SafetensorsEntry {
  const where = `tensor '${name}'`;
  if (!isObject(value)) throw new CheckpointError(path, `${where} is described by ${JSON.stringify(value)}, not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw new CheckpointError(path, `${where} has no dtype`);
  if (!Object.hasOwn(BYTES_PER_ELEMENT, dtype)) {
    throw new CheckpointError(path, `${where} has dtype '${dtype}', which cannot be read (F32, F16 and BF16 can)`);
  }
  const size = BYTES_PER_ELEMENT[dtype];
  const elements = Array.isArray(shape) ? elementCount(shape) : undefined;
  if (elements === undefined) throw new CheckpointError(path, `${where} has shape ${JSON.stringify(shape)}; it must be a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw new CheckpointError(path, `${where} has data_offsets ${JSON.stringify(offsets)}; they must be [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as number[];
  if (end - begin !== elements * size) {
    throw new CheckpointError(path, `${where} has shape ${JSON.stringify(shape)} of ${dtype}, which needs ${elements * size} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], elements, begin, end };
}

/** Sorts `entries` by offset and checks that they tile the data section: no gap, no overlap, nothing missing. */
function checkLayout(path: string, entries: SafetensorsEntry[], dataSize: number): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous = 'the start of the data';
  for (const { name, begin, end } of entries) {
    if (begin > covered) throw new CheckpointError(path, `bytes [${covered}, ${begin}) of the data, between ${previous} and tensor '${name}', belong to no tensor`);
    if (begin < covered) throw new CheckpointError(path, `tensor '${name}' at [${begin}, ${end}) overlaps ${previous}, which ends at ${covered}`);
    if (end > dataSize) throw new CheckpointError(path, `tensor '${name}' ends at byte ${end} of the data but the file holds only ${dataSize} data bytes: the file is truncated`);
    covered = end;
    previous = `tensor '${name}'`;
  }
  if (covered < dataSize) throw new CheckpointError(path, `${dataSize - covered} bytes follow the end of the last tensor; the header describes only ${covered} data bytes`);
}

async function openForReading(path: string): Promise<FileHandle> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(path, code === 'ENOENT' ? 'the file does not exist' : `the file cannot be opened (${code ?? (err as Error).message})`);
  }
  if (!(await file.stat()).isFile()) {
    await file.close();
    throw new CheckpointError(path, 'not a regular file');
  }
  return file;
}

function openForReadingSync(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(path, code === 'ENOENT' ? 'the file does not exist' : `the file cannot be opened (${code ?? (err as Error).message})`);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new CheckpointError(path, 'not a regular file');
  }
  return fd;
}

function readExactlySync(target: Uint8Array, fd: number, position: number, path: string): void {
  let done = 0;
  while (done < target.length) {
    const bytesRead = readSync(fd, target, done, Math.min(target.length - done, MAX_IO_BYTES), position + done);
    if (bytesRead === 0) throw new CheckpointError(path, `the file ended at byte ${position + done} while being read: it was truncated`);
    done += bytesRead;
  }
}

async function readExactly(target: Uint8Array, file: FileHandle, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await file.read(target, done, Math.min(target.length - done, MAX_IO_BYTES), position + done);
    if (bytesRead === 0) throw new CheckpointError(path, `the file ended at byte ${position + done} while being read: it was truncated`);
    done += bytesRead;
  }
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await file.write(bytes, done, Math.min(bytes.length - done, MAX_IO_BYTES));
    done += bytesWritten;
  }
}

function requireLittleEndian(path: string): void {
  // Typed arrays use the machine's byte order and safetensors is little-endian; swapping is not implemented.
  if (endianness() !== 'LE') throw new CheckpointError(path, 'safetensors files can only be read and written on a little-endian machine');
}

/** The number of elements of `shape`, or undefined unless every dimension is a non-negative integer. */
function elementCount(shape: unknown[]): number | undefined {
  let count = 1;
  for (const dimension of shape) {
    if (!isCount(dimension)) return undefined;
    count *= dimension;
  }
  return Number.isSafeInteger(count) ? count : undefined;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

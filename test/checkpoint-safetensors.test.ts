import { mkdtemp, readFile, readdir, rm, truncate, writeFile, mkdir, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError } from '../src/checkpoint/error.ts';
import { readSafetensors, writeSafetensors, type NamedTensor } from '../src/checkpoint/safetensors.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rpt-safetensors-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function floatsFromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}

function bitsOf(data: Float32Array): number[] {
  return Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length));
}

/** A safetensors file made by hand: length prefix, header text, then the data bytes as given. */
function fileBytes(header: string, data: Uint8Array = new Uint8Array(0), headerLength = Buffer.byteLength(header)): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerLength));
  return Buffer.concat([prefix, Buffer.from(header), data]);
}

async function expectRejected(path: string, problem: RegExp): Promise<void> {
  const error = await readSafetensors(path).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  expect((error as Error).message.startsWith(`${path}: `)).toBe(true);
  expect((error as Error).message).toMatch(problem);
}

describe('writing and reading back', () => {
  it('round-trips every bit, including -0, subnormals, infinities and NaN payloads', async () => {
    const special = floatsFromBits([
      0x80000000, // -0
      0x00000001, // smallest subnormal
      0x807fffff, // largest negative subnormal
      0x7f800000, // inf
      0xff800000, // -inf
      0x7fc00000, // quiet NaN
      0x7fc00001, // quiet NaN with a payload
      0xffa00005, // negative signalling NaN with a payload
      0x7f7fffff, // largest finite
      0x3eaaaaab, // 1/3
    ]);
    const backing = new Float32Array([9, 9, 1.5, -2.25, 9]);
    const tensors: NamedTensor[] = [
      { name: 'special', shape: [2, 5], data: special },
      { name: 'view.with.offset', shape: [2], data: backing.subarray(2, 4) },
      { name: 'scalar', shape: [], data: new Float32Array([42]) },
      { name: 'empty', shape: [3, 0], data: new Float32Array(0) },
      { name: '__proto__', shape: [1], data: new Float32Array([7]) },
      { name: 'model.layers.0.self_attn.q_proj.weight', shape: [1, 1], data: new Float32Array([-1]) },
    ];
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcödé' });
    const { tensors: read, metadata } = await readSafetensors(path);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcödé' });
    const byName = new Map(read.map((t) => [t.name, t]));
    expect(byName.size).toBe(tensors.length);
    for (const tensor of tensors) {
      const back = byName.get(tensor.name)!;
      expect(back.shape).toEqual(tensor.shape);
      expect(bitsOf(back.data)).toEqual(bitsOf(tensor.data));
    }
  });

  it('writes the exact byte layout of the format: length, sorted header padded to 8 bytes, data', async () => {
    const path = join(dir, 'layout.safetensors');
    await writeSafetensors(
      path,
      [
        { name: 'b', shape: [2], data: new Float32Array([1, 2]) },
        { name: 'a', shape: [1, 1], data: new Float32Array([3]) },
      ],
      { k: 'v' },
    );
    const header =
      '{"__metadata__":{"k":"v"},' +
      '"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},' +
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' +
      ' '; // 135 bytes of JSON padded to 136
    const expected = Buffer.concat([
      Buffer.from([136, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from(header, 'ascii'),
      Buffer.from([0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40]), // 3, 1, 2
    ]);
    expect((await readFile(path)).toString('hex')).toBe(expected.toString('hex'));
  });

  it('overwrites an existing file and leaves no temporary file behind', async () => {
    const path = join(dir, 'w.safetensors');
    await writeSafetensors(path, [{ name: 'x', shape: [1], data: new Float32Array([1]) }], {});
    await writeSafetensors(path, [{ name: 'x', shape: [1], data: new Float32Array([2]) }], {});
    expect(Array.from((await readSafetensors(path)).tensors[0].data)).toEqual([2]);
    expect(await readdir(dir)).toEqual(['w.safetensors']);
  });

  it.each([
    ['a shape that does not match the data', [{ name: 'x', shape: [2, 2], data: new Float32Array(3) }], /'x' has shape \[2,2\] \(4 elements\) but 3 values/],
    ['a negative dimension', [{ name: 'x', shape: [-1], data: new Float32Array(0) }], /'x' has shape \[-1\]/],
    ['two tensors of one name', [{ name: 'x', shape: [1], data: new Float32Array(1) }, { name: 'x', shape: [1], data: new Float32Array(1) }], /two tensors are named 'x'/],
    ['a tensor named __metadata__', [{ name: '__metadata__', shape: [1], data: new Float32Array(1) }], /cannot be named __metadata__/],
  ])('refuses to write %s, and creates no file', async (_, tensors, problem) => {
    const path = join(dir, 'bad.safetensors');
    const error = await writeSafetensors(path, tensors, {}).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(problem);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('reading half-precision files made by hand', () => {
  it('widens F16 and BF16 exactly, beside a misaligned F32 tensor', async () => {
    const f16 = [
      [0x0000, 0x00000000], // 0
      [0x8000, 0x80000000], // -0
      [0x3c00, 0x3f800000], // 1
      [0xc000, 0xc0000000], // -2
      [0x3555, 0x3eaaa000], // 0.333251953125
      [0x7bff, 0x477fe000], // 65504, the largest finite
      [0x0400, 0x38800000], // 2^-14, the smallest normal
      [0x03ff, 0x387fc000], // 1023 * 2^-24, the largest subnormal
      [0x0001, 0x33800000], // 2^-24, the smallest subnormal
      [0x8001, 0xb3800000], // -2^-24
      [0x0003, 0x34400000], // 3 * 2^-24
      [0x7c00, 0x7f800000], // inf
      [0xfc00, 0xff800000], // -inf
      [0x7e00, 0x7fc00000], // quiet NaN
      [0x7c01, 0x7f802000], // signalling NaN, payload kept
      [0xfe01, 0xffc02000], // negative NaN, payload kept
    ];
    const bf16 = [
      [0x3f80, 0x3f800000], // 1
      [0xc000, 0xc0000000], // -2
      [0x4049, 0x40490000], // 3.140625
      [0x8000, 0x80000000], // -0
      [0x0001, 0x00010000], // the smallest subnormal, 2^-133
      [0x7f80, 0x7f800000], // inf
      [0xff80, 0xff800000], // -inf
      [0x7fc1, 0x7fc10000], // NaN, payload kept
    ];
    const f16Bytes = Buffer.from(new Uint16Array(f16.map(([h]) => h)).buffer);
    const f16Odd = Buffer.from(new Uint16Array([0x3c00, 0x4000, 0x4200]).buffer); // 1, 2, 3: leaves the next tensor misaligned
    const f32 = Buffer.from(new Float32Array([0.5, -0.75]).buffer);
    const bf16Bytes = Buffer.from(new Uint16Array(bf16.map(([h]) => h)).buffer);
    const offsets: number[] = [0];
    for (const part of [f16Bytes, f16Odd, f32, bf16Bytes]) offsets.push(offsets[offsets.length - 1] + part.length);
    const header = JSON.stringify({
      half: { dtype: 'F16', shape: [4, 4], data_offsets: [offsets[0], offsets[1]] },
      odd: { dtype: 'F16', shape: [3], data_offsets: [offsets[1], offsets[2]] },
      single: { dtype: 'F32', shape: [2], data_offsets: [offsets[2], offsets[3]] },
      brain: { dtype: 'BF16', shape: [2, 2, 2], data_offsets: [offsets[3], offsets[4]] },
    });
    const path = join(dir, 'half.safetensors');
    await writeFile(path, fileBytes(header, Buffer.concat([f16Bytes, f16Odd, f32, bf16Bytes])));
    const { tensors, metadata } = await readSafetensors(path);
    expect(metadata).toEqual({});
    const byName = new Map(tensors.map((t) => [t.name, t]));
    expect(byName.get('half')!.shape).toEqual([4, 4]);
    expect(bitsOf(byName.get('half')!.data)).toEqual(f16.map(([, bits]) => bits));
    expect(Array.from(byName.get('odd')!.data)).toEqual([1, 2, 3]);
    expect(Array.from(byName.get('single')!.data)).toEqual([0.5, -0.75]);
    expect(byName.get('brain')!.shape).toEqual([2, 2, 2]);
    expect(bitsOf(byName.get('brain')!.data)).toEqual(bf16.map(([, bits]) => bits));
  });

  it('widens all 65536 F16 bit patterns to the value the IEEE 754 definition gives', async () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const path = join(dir, 'all.safetensors');
    const header = JSON.stringify({ all: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] } });
    await writeFile(path, fileBytes(header, new Uint8Array(all.buffer)));
    const { data } = (await readSafetensors(path)).tensors[0];
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const mantissa = h & 0x3ff;
      const expected =
        exponent === 0 ? sign * mantissa * 2 ** -24 : exponent === 31 ? (mantissa === 0 ? sign * Infinity : NaN) : sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
      if (!Object.is(data[h], expected)) expect.fail(`f16 0x${h.toString(16)} read as ${data[h]}, expected ${expected}`);
    }
  });
});

describe('rejecting damaged files with the file and the problem named', () => {
  const tensor = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });

  it('a file shorter than the 8-byte length', async () => {
    const path = join(dir, 'short.safetensors');
    await writeFile(path, Buffer.from([1, 2, 3]));
    await expectRejected(path, /3 bytes long, too short/);
  });

  it('a header length larger than the file', async () => {
    const path = join(dir, 'long.safetensors');
    await writeFile(path, fileBytes('{}', undefined, 5000));
    await expectRejected(path, /header length is 5000 bytes but only 2 bytes follow/);
  });

  it('an absurd header length', async () => {
    const path = join(dir, 'absurd.safetensors');
    await writeFile(path, fileBytes('{}', undefined, 150_000_000));
    await truncate(path, 150_000_100); // sparse: no disk space is used
    await expectRejected(path, /header length is 150000000 bytes, over the 100000000-byte limit/);
  });

  it('a file that is not safetensors at all', async () => {
    const path = join(dir, 'text.safetensors');
    await writeFile(path, 'This is a plain text file, long enough to be read as a header length.');
    await expectRejected(path, /the file is truncated or not safetensors/);
  });

  it.each([
    ['not JSON', '{"a": ', /not valid UTF-8 JSON/],
    ['a JSON array', '[1, 2]', /not a JSON object/],
    ['JSON null', 'null', /not a JSON object/],
    ['metadata that is not an object', '{"__metadata__": [1]}', /__metadata__ is not a JSON object/],
    ['a metadata value that is not a string', '{"__metadata__": {"step": 3}}', /__metadata__ entry 'step' is not a string/],
    ['a tensor described by a number', '{"x": 5}', /tensor 'x' is described by 5, not an object/],
    ['a tensor without dtype', JSON.stringify({ x: { shape: [1], data_offsets: [0, 4] } }), /tensor 'x' has no dtype/],
    ['an unsupported dtype', JSON.stringify({ x: tensor('I64', [1], [0, 8]) }), /tensor 'x' has dtype 'I64', which cannot be read \(F32, F16 and BF16 can\)/],
    ['an unknown dtype', JSON.stringify({ x: tensor('toString', [1], [0, 4]) }), /tensor 'x' has dtype 'toString', which cannot be read/],
    ['a negative dimension', JSON.stringify({ x: tensor('F32', [-1], [0, 4]) }), /tensor 'x' has shape \[-1\]; it must be a list of non-negative integers/],
    ['a fractional dimension', JSON.stringify({ x: tensor('F32', [1.5], [0, 4]) }), /tensor 'x' has shape \[1.5\]/],
    ['a shape that is not a list', JSON.stringify({ x: tensor('F32', 4 as never, [0, 16]) }), /tensor 'x' has shape 4/],
    ['reversed offsets', JSON.stringify({ x: tensor('F32', [0], [8, 4]) }), /tensor 'x' has data_offsets \[8,4\]/],
    ['offsets that are not a pair', JSON.stringify({ x: tensor('F32', [1], [0]) }), /tensor 'x' has data_offsets \[0\]/],
    ['a shape that needs more bytes than the offsets span', JSON.stringify({ x: tensor('F32', [2], [0, 4]) }), /tensor 'x' has shape \[2\] of F32, which needs 8 bytes, but data_offsets \[0, 4\] span 4/],
    ['a BF16 size mismatch', JSON.stringify({ x: tensor('BF16', [3], [0, 4]) }), /needs 6 bytes, but data_offsets \[0, 4\] span 4/],
  ])('a header with %s', async (_, header, problem) => {
    const path = join(dir, 'bad-header.safetensors');
    await writeFile(path, fileBytes(header, new Uint8Array(16)));
    await expectRejected(path, problem);
  });

  it('a header that is not UTF-8', async () => {
    const path = join(dir, 'latin1.safetensors');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(4n);
    await writeFile(path, Buffer.concat([prefix, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]));
    await expectRejected(path, /not valid UTF-8 JSON/);
  });

  it.each([
    ['overlapping tensors', { a: tensor('F32', [2], [0, 8]), b: tensor('F32', [2], [4, 12]) }, 12, /tensor 'b' at \[4, 12\) overlaps tensor 'a', which ends at 8/],
    ['a hole between tensors', { a: tensor('F32', [1], [0, 4]), b: tensor('F32', [1], [8, 12]) }, 12, /bytes \[4, 8\) of the data, between tensor 'a' and tensor 'b', belong to no tensor/],
    ['a hole at the start', { a: tensor('F32', [1], [4, 8]) }, 8, /bytes \[0, 4\) of the data, between the start of the data and tensor 'a'/],
    ['offsets past the end of the file', { a: tensor('F32', [1], [0, 4]), b: tensor('F32', [4], [4, 20]) }, 12, /tensor 'b' ends at byte 20 of the data but the file holds only 12 data bytes: the file is truncated/],
    ['bytes after the last tensor', { a: tensor('F32', [1], [0, 4]) }, 12, /8 bytes follow the end of the last tensor; the header describes only 4 data bytes/],
  ])('%s', async (_, header, dataBytes, problem) => {
    const path = join(dir, 'bad-layout.safetensors');
    await writeFile(path, fileBytes(JSON.stringify(header), new Uint8Array(dataBytes)));
    await expectRejected(path, problem);
  });

  it('a written file truncated by one byte, or appended to', async () => {
    const path = join(dir, 'cut.safetensors');
    await writeSafetensors(path, [{ name: 'w', shape: [4], data: new Float32Array([1, 2, 3, 4]) }], {});
    const size = (await readFile(path)).length;
    await truncate(path, size - 1);
    await expectRejected(path, /tensor 'w' ends at byte 16 of the data but the file holds only 15 data bytes: the file is truncated/);
    await truncate(path, 20); // inside the header
    await expectRejected(path, /only 12 bytes follow it: the file is truncated/);
    await writeSafetensors(path, [{ name: 'w', shape: [4], data: new Float32Array([1, 2, 3, 4]) }], {});
    await appendFile(path, Buffer.from([0]));
    await expectRejected(path, /1 bytes follow the end of the last tensor/);
  });

  it('a file that does not exist, or is a directory', async () => {
    await expectRejected(join(dir, 'missing.safetensors'), /the file does not exist/);
    await mkdir(join(dir, 'folder.safetensors'));
    await expectRejected(join(dir, 'folder.safetensors'), /not a regular file/);
  });
});

// The webgpu backend's memory and recording behaviour, one device per worker thread, and a clean
// exit after destroy.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, test } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { webgpuForTests } from '../src/backend/select.ts';
import { WebGpuBackend } from '../src/gpu/backend.ts';
import { Random } from '../src/util/random.ts';
import type { MatmulJob } from './support/gpu-matmul-job.ts';
import { uniform } from './support/gpu.ts';

const gpu = await webgpuForTests();
const backend = gpu.backend as WebGpuBackend;
afterAll(() => backend?.destroy());
const job = new URL('./support/gpu-matmul-job.ts', import.meta.url);

/** A worker thread running a TypeScript module: tsx is registered inside the worker first. */
function typeScriptWorker(module: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(module.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), { workerData });
}

describe.skipIf(!gpu.backend)(`webgpu backend ${gpu.skipReason}`, () => {
  test('describes its adapter in one line', () => {
    expect(backend.name).toBe('webgpu');
    expect(backend.description).toMatch(/^webgpu: \S.*$/);
  });

  test('upload, read, sub-range read, write at an offset, i32 round trip', async () => {
    const x = backend.upload(Float32Array.of(1, 2, 3, 4, 5, 6, 7));
    expect(Array.from(await backend.read(x))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(await backend.read(x, 2, 3))).toEqual([3, 4, 5]);
    expect(Array.from(await backend.read(x, 7))).toEqual([]);
    backend.write(x, Float32Array.of(-1, -2), 5);
    expect(Array.from(await backend.read(x))).toEqual([1, 2, 3, 4, 5, -1, -2]);
    const ids = backend.upload(Int32Array.of(-3, 0, 2147483647));
    expect(Array.from(await backend.readInt(ids))).toEqual([-3, 0, 2147483647]);
  });

  test('copy between offsets, fill with a value and with zero', async () => {
    const a = backend.upload(Float32Array.of(1, 2, 3, 4, 5));
    const b = backend.zeros(6);
    backend.copy(b, 1, a, 2, 3);
    expect(Array.from(await backend.read(b))).toEqual([0, 3, 4, 5, 0, 0]);
    const c = backend.zeros(8); // a multiple of 4: the vec4 form of the kernel
    backend.fill(a, 2.5);
    backend.fill(c, -1.5);
    backend.fill(b, 0);
    expect(Array.from(await backend.read(a))).toEqual([2.5, 2.5, 2.5, 2.5, 2.5]);
    expect(Array.from(await backend.read(c))).toEqual(new Array(8).fill(-1.5));
    expect(Array.from(await backend.read(b))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('released memory is reused, and zeros() on a reused buffer is zero', async () => {
    const first = backend.upload(new Float32Array(1000).fill(7));
    await backend.sync();
    const before = backend.allocatedBytes;
    backend.release(first);
    const second = backend.zeros(900); // same size class as 1000 elements
    expect(backend.allocatedBytes).toBe(before);
    expect((await backend.read(second)).every((x) => x === 0)).toBe(true);
    await expect(backend.read(first)).rejects.toThrow(/after release/);
  });

  test('a write lands after the work recorded before it', async () => {
    const dst = backend.upload(Float32Array.of(1, 1, 1));
    const src = backend.upload(Float32Array.of(10, 20, 30));
    backend.accumulate(dst, src, 3);
    backend.write(dst, Float32Array.of(5), 1);
    backend.accumulate(dst, src, 3);
    expect(Array.from(await backend.read(dst))).toEqual([21, 25, 61]);
  });

  test('misuse is reported at the call', async () => {
    const x = backend.zeros(4);
    await expect(backend.read(x, 2, 3)).rejects.toThrow(RangeError);
    expect(() => backend.write(x, Int32Array.of(1))).toThrow(TypeError);
    expect(() => backend.accumulate(x, x, 4)).toThrow(/passed twice/);
    expect(() => backend.embeddingForward(x, x, x, 1, 4)).toThrow(/i32/);
    expect(() => backend.accumulate(x, new CpuBackend().zeros(4), 4)).toThrow(/webgpu backend/);
  });

  test('two worker threads each create a device and run a kernel', async () => {
    const random = new Random(5);
    const cpu = new CpuBackend();
    const jobs: MatmulJob[] = [0, 1].map(() => ({ N: 9, C: 6, OC: 5, inp: uniform(random, 54), weight: uniform(random, 30) }));
    const results = await Promise.all(
      jobs.map(
        (data) =>
          new Promise<{ out: Float32Array; description: string }>((resolve, reject) => {
            const worker = typeScriptWorker(job, data);
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );
    for (const [index, { out, description }] of results.entries()) {
      const { N, C, OC, inp, weight } = jobs[index];
      const expected = cpu.zeros(N * OC);
      cpu.matmulForward(expected, cpu.upload(inp), cpu.upload(weight), N, C, OC);
      const reference = await cpu.read(expected);
      expect(description).toBe(backend.description);
      out.forEach((x, i) => expect(x).toBeCloseTo(reference[i], 5));
    }
  });

  test('a process that creates and destroys a backend exits on its own', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(job)], { encoding: 'utf8', timeout: 60_000 });
    expect(child.signal, 'killed at the timeout: the process did not exit by itself').toBeNull();
    expect(child.stdout).toContain('matmul done: 6 6 6 6 6 6 6 6 6 6');
    expect(child.status).toBe(0);
  });
});

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { checkpointDir, latestCheckpoint, loadCheckpoint, saveCheckpoint, type Checkpoint } from '../src/checkpoint/checkpoint.ts';
import { readSafetensors, writeSafetensors } from '../src/checkpoint/safetensors.ts';

// A disk that fills up: once armed, file handles opened from then on accept `writesLeft` more
// writes and fail the next one with ENOSPC, as a real full disk would.
const disk = vi.hoisted(() => ({ writesLeft: Infinity }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open = (async (...args: Parameters<typeof actual.open>) => {
    const handle = await actual.open(...args);
    return new Proxy(handle, {
      get(target, key) {
        if (key === 'write') {
          return (...writeArgs: Parameters<typeof handle.write>) => {
            if (disk.writesLeft-- <= 0) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
            return target.write(...writeArgs);
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }) as typeof actual.open;
  return { ...actual, open, default: { ...actual, open } };
});

let runDir: string;
beforeEach(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'rpt-atomic-'));
  disk.writesLeft = Infinity;
});
afterEach(async () => {
  await rm(runDir, { recursive: true, force: true });
});

function checkpoint(value: number): Checkpoint {
  const tensor = (name: string) => ({ name, shape: [2, 2], data: new Float32Array(4).fill(value) });
  return {
    weights: [tensor('a.weight'), tensor('b.weight')],
    optimizer: { step: value, m: [tensor('a.weight'), tensor('b.weight')], v: [tensor('a.weight'), tensor('b.weight')] },
    metadata: { modelConfig: { value }, tokenizer: { path: 'tokenizer.json', sha256: '00' } },
  };
}

it('a write that fails part way keeps the previous file and leaves no temporary file', async () => {
  const path = join(runDir, 'model.safetensors');
  await writeSafetensors(path, checkpoint(1).weights, { version: 'old' });
  disk.writesLeft = 3; // length, header, first tensor; the second tensor fails
  await expect(writeSafetensors(path, checkpoint(2).weights, { version: 'new' })).rejects.toThrow('ENOSPC');
  disk.writesLeft = Infinity;
  const { tensors, metadata } = await readSafetensors(path);
  expect(metadata).toEqual({ version: 'old' });
  expect(tensors.map((t) => Array.from(t.data))).toEqual([
    [1, 1, 1, 1],
    [1, 1, 1, 1],
  ]);
  expect(await readdir(runDir)).toEqual(['model.safetensors']);
});

it('a checkpoint save that fails in its second file keeps the previous checkpoint and leaves no litter', async () => {
  await saveCheckpoint(checkpointDir(runDir, 100), checkpoint(1));
  disk.writesLeft = 4 + 3; // all of model.safetensors, then part of optimizer.safetensors
  await expect(saveCheckpoint(checkpointDir(runDir, 200), checkpoint(2))).rejects.toThrow('ENOSPC');
  disk.writesLeft = Infinity;
  expect(await readdir(join(runDir, 'checkpoints'))).toEqual(['step-000100']);
  expect(await readdir(checkpointDir(runDir, 100))).toEqual(['model.safetensors', 'optimizer.safetensors']);
  expect(await latestCheckpoint(runDir)).toEqual({ step: 100, dir: checkpointDir(runDir, 100) });
  const previous = await loadCheckpoint(checkpointDir(runDir, 100));
  expect(previous.optimizer!.step).toBe(1);
  expect(Array.from(previous.weights[0].data)).toEqual([1, 1, 1, 1]);

  await saveCheckpoint(checkpointDir(runDir, 200), checkpoint(2)); // the disk has room again
  expect(await latestCheckpoint(runDir)).toEqual({ step: 200, dir: checkpointDir(runDir, 200) });
});

// Shared by the GPU test files: random inputs, and one op run on the cpu reference and on webgpu
// with identical inputs so that their outputs can be compared.
import type { Backend, Tensor } from '../../src/backend/backend.ts';
import { Random } from '../../src/util/random.ts';

export type Arrays = Record<string, Float32Array | Int32Array>;

export function uniform(random: Random, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (random.float() * 2 - 1) * scale);
}

export function ints(random: Random, n: number, below: number): Int32Array {
  return Int32Array.from({ length: n }, () => random.int(0, below - 1));
}

/** Uploads `inputs` to `backend`, runs `op` on them, and reads back every tensor named in `outputs`. */
export async function runOp(
  backend: Backend, inputs: Arrays, op: (backend: Backend, t: Record<string, Tensor>) => void, outputs: string[],
): Promise<Arrays> {
  const tensors = Object.fromEntries(Object.entries(inputs).map(([name, data]) => [name, backend.upload(data)]));
  op(backend, tensors);
  const results: Arrays = {};
  for (const name of outputs) {
    const tensor = tensors[name];
    results[name] = tensor.dtype === 'i32' ? await backend.readInt(tensor) : await backend.read(tensor);
  }
  for (const tensor of Object.values(tensors)) backend.release(tensor);
  return results;
}

/** max |actual - expected| / (1 + |expected|): absolute near zero, relative for large values. */
export function worstError(actual: Float32Array | Int32Array, expected: Float32Array | Int32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i]));
    if (!(error <= worst)) worst = Number.isNaN(error) ? Infinity : error;
  }
  return worst;
}

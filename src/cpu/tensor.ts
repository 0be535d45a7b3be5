import type { DType, Tensor } from '../backend/backend.ts';

/** A tensor of the cpu backend: a typed array in ordinary JavaScript memory. */
export class CpuTensor implements Tensor {
  readonly dtype: DType;
  constructor(readonly data: Float32Array | Int32Array) {
    this.dtype = data instanceof Int32Array ? 'i32' : 'f32';
  }
  get length(): number {
    return this.data.length;
  }
}

/** The typed array behind a tensor of the cpu backend. */
export function storage(tensor: Tensor): Float32Array | Int32Array {
  if (!(tensor instanceof CpuTensor)) throw new TypeError(`expected a tensor of the cpu backend, got ${tensor.constructor.name}`);
  return tensor.data;
}

/** The Float32Array behind an f32 tensor of the cpu backend. */
export function f32(tensor: Tensor): Float32Array {
  const data = storage(tensor);
  if (!(data instanceof Float32Array)) throw new TypeError('expected an f32 tensor, got i32');
  return data;
}

/** The Int32Array behind an i32 tensor of the cpu backend. */
export function i32(tensor: Tensor): Int32Array {
  const data = storage(tensor);
  if (!(data instanceof Int32Array)) throw new TypeError('expected an i32 tensor, got f32');
  return data;
}

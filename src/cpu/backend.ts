// The cpu backend: the readable reference every webgpu kernel is checked against, and the engine
// of last resort when no GPU adapter exists. Each op runs at once, in plain TypeScript.

import type { AdamWSettings, Backend, DType, Tensor } from '../backend/backend.ts';
import { adamw, sumSquares } from './adamw.ts';
import { attentionBackward, attentionForward } from './attention.ts';
import { biasBackward, biasForward } from './bias.ts';
import { embeddingBackward, embeddingForward } from './embedding.ts';
import { argmax, gatherRows, topkEntropy } from './inference.ts';
import { attentionDecode, cacheWrite } from './kvcache.ts';
import { logprobBackward, logprobForward } from './logprob.ts';
import { matmulBackward, matmulForward } from './matmul.ts';
import { accumulate, residualForward } from './residual.ts';
import { rmsnormBackward, rmsnormForward } from './rmsnorm.ts';
import { ropeBackward, ropeForward } from './rope.ts';
import { swigluBackward, swigluForward } from './swiglu.ts';
import { CpuTensor, f32, i32, storage } from './tensor.ts';

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly description = `cpu: plain TypeScript on Node ${process.versions.node} (${process.arch})`;

  // ---- memory ------------------------------------------------------------------------------
  zeros(length: number, dtype: DType = 'f32'): Tensor {
    return new CpuTensor(dtype === 'i32' ? new Int32Array(length) : new Float32Array(length));
  }
  upload(data: Float32Array | Int32Array): Tensor {
    return new CpuTensor(data.slice());
  }
  write(dst: Tensor, data: Float32Array | Int32Array, dstOffset = 0): void {
    if (data instanceof Int32Array) i32(dst).set(data, dstOffset);
    else f32(dst).set(data, dstOffset);
  }
  async read(src: Tensor, offset = 0, length = src.length - offset): Promise<Float32Array> {
    return f32(src).slice(offset, offset + length);
  }
  async readInt(src: Tensor, offset = 0, length = src.length - offset): Promise<Int32Array> {
    return i32(src).slice(offset, offset + length);
  }
  copy(dst: Tensor, dstOffset: number, src: Tensor, srcOffset: number, length: number): void {
    if (dst.dtype !== src.dtype) throw new TypeError(`copy from ${src.dtype} to ${dst.dtype}`);
    const from = storage(src).subarray(srcOffset, srcOffset + length);
    if (from.length !== length) throw new RangeError(`copy of ${length} elements from offset ${srcOffset} of ${src.length}`);
    storage(dst).set(from, dstOffset);
  }
  fill(dst: Tensor, value: number): void {
    f32(dst).fill(value);
  }
  release(_tensor: Tensor): void {
    // Ordinary garbage-collected memory: nothing to return.
  }
  async sync(): Promise<void> {}
  destroy(): void {}

  // ---- layers ------------------------------------------------------------------------------
  embeddingForward(out: Tensor, tokens: Tensor, wte: Tensor, N: number, C: number): void {
    embeddingForward(f32(out), i32(tokens), f32(wte), N, C);
  }
  embeddingBackward(dwte: Tensor, dout: Tensor, tokens: Tensor, N: number, C: number): void {
    embeddingBackward(f32(dwte), f32(dout), i32(tokens), N, C);
  }
  rmsnormForward(out: Tensor, rstd: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, eps: number): void {
    rmsnormForward(f32(out), f32(rstd), f32(inp), f32(weight), N, C, eps);
  }
  rmsnormBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, rstd: Tensor, N: number, C: number): void {
    rmsnormBackward(f32(dinp), f32(dweight), f32(dout), f32(inp), f32(weight), f32(rstd), N, C);
  }
  matmulForward(out: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void {
    matmulForward(f32(out), f32(inp), f32(weight), N, C, OC);
  }
  matmulBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void {
    matmulBackward(f32(dinp), f32(dweight), f32(dout), f32(inp), f32(weight), N, C, OC);
  }
  biasForward(out: Tensor, bias: Tensor, N: number, OC: number): void {
    biasForward(f32(out), f32(bias), N, OC);
  }
  biasBackward(dbias: Tensor, dout: Tensor, N: number, OC: number): void {
    biasBackward(f32(dbias), f32(dout), N, OC);
  }
  ropeForward(out: Tensor, inp: Tensor, positions: Tensor, N: number, NH: number, HS: number, theta: number): void {
    ropeForward(f32(out), f32(inp), i32(positions), N, NH, HS, theta);
  }
  ropeBackward(dinp: Tensor, dout: Tensor, positions: Tensor, N: number, NH: number, HS: number, theta: number): void {
    ropeBackward(f32(dinp), f32(dout), i32(positions), N, NH, HS, theta);
  }
  attentionForward(out: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, KVH: number, HS: number): void {
    attentionForward(f32(out), f32(probs), f32(q), f32(k), f32(v), B, T, NH, KVH, HS);
  }
  attentionBackward(
    dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor,
    B: number, T: number, NH: number, KVH: number, HS: number,
  ): void {
    attentionBackward(f32(dq), f32(dk), f32(dv), f32(dout), f32(probs), f32(q), f32(k), f32(v), B, T, NH, KVH, HS);
  }
  swigluForward(out: Tensor, gate: Tensor, up: Tensor, N: number, H: number): void {
    swigluForward(f32(out), f32(gate), f32(up), N, H);
  }
  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, N: number, H: number): void {
    swigluBackward(f32(dgate), f32(dup), f32(dout), f32(gate), f32(up), N, H);
  }
  residualForward(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    residualForward(f32(out), f32(a), f32(b), n);
  }
  accumulate(dst: Tensor, src: Tensor, n: number): void {
    accumulate(f32(dst), f32(src), n);
  }

  // ---- loss head ---------------------------------------------------------------------------
  logprobForward(logp: Tensor, logits: Tensor, targets: Tensor, N: number, V: number): void {
    logprobForward(f32(logp), f32(logits), i32(targets), N, V);
  }
  logprobBackward(dlogits: Tensor, dlogp: Tensor, logits: Tensor, targets: Tensor, N: number, V: number): void {
    logprobBackward(f32(dlogits), f32(dlogp), f32(logits), i32(targets), N, V);
  }

  // ---- optimizer ---------------------------------------------------------------------------
  sumSquares(out: Tensor, x: Tensor, n: number): void {
    sumSquares(f32(out), f32(x), n);
  }
  adamw(param: Tensor, m: Tensor, v: Tensor, grad: Tensor, gradSumSquares: Tensor, n: number, settings: AdamWSettings): void {
    adamw(f32(param), f32(m), f32(v), f32(grad), f32(gradSumSquares), n, settings);
  }

  // ---- inference ---------------------------------------------------------------------------
  gatherRows(out: Tensor, inp: Tensor, rows: Tensor, R: number, C: number): void {
    gatherRows(f32(out), f32(inp), i32(rows), R, C);
  }
  argmax(out: Tensor, logits: Tensor, N: number, V: number): void {
    argmax(i32(out), f32(logits), N, V);
  }
  topkEntropy(out: Tensor, logits: Tensor, N: number, V: number, k: number): void {
    topkEntropy(f32(out), f32(logits), N, V, k);
  }
  cacheWrite(cache: Tensor, src: Tensor, positions: Tensor, B: number, Tn: number, Tmax: number, C: number): void {
    cacheWrite(f32(cache), f32(src), i32(positions), B, Tn, Tmax, C);
  }
  attentionDecode(
    out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, positions: Tensor,
    B: number, Tq: number, NH: number, KVH: number, HS: number, Tmax: number,
  ): void {
    attentionDecode(f32(out), f32(q), f32(kCache), f32(vCache), i32(positions), B, Tq, NH, KVH, HS, Tmax);
  }
}

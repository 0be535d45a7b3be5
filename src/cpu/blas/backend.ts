// The fast cpu backend: its matrix products in the system BLAS (the linear layers, the LM head
// and attention's per-head score and value products in training, prefill and decoding), the
// softmaxes, SwiGLU, RMSNorm, RoPE, the residual stream, the log-probabilities and AdamW in
// WebAssembly SIMD kernels. Every other op is the TypeScript reference's.
import type { AdamWSettings, Tensor } from '../../backend/backend.ts';
import { CpuBackend } from '../backend.ts';
import { f32, i32 } from '../tensor.ts';
import { attentionBackward, attentionForward } from './attention.ts';
import { attentionDecode } from './kvcache.ts';
import type { Blas } from './library.ts';
import * as simd from '../simd/kernels.ts';
import { matmulBackward, matmulForward } from './matmul.ts';

export class BlasCpuBackend extends CpuBackend {
  override readonly description: string;

  constructor(private readonly blas: Blas) {
    super();
    this.description = `cpu: ${blas.description} via koffi, WebAssembly SIMD kernels, on Node ${process.versions.node} (${process.arch})`;
    simd.simdKernels(); // a missing module fails here, at the start, not in the middle of a step
  }

  override rmsnormForward(out: Tensor, rstd: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, eps: number): void {
    simd.rmsnormForward(f32(out), f32(rstd), f32(inp), f32(weight), N, C, eps);
  }
  override rmsnormBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, rstd: Tensor, N: number, C: number): void {
    simd.rmsnormBackward(f32(dinp), f32(dweight), f32(dout), f32(inp), f32(weight), f32(rstd), N, C);
  }
  override ropeForward(out: Tensor, inp: Tensor, positions: Tensor, N: number, NH: number, HS: number, theta: number): void {
    simd.ropeForward(f32(out), f32(inp), i32(positions), N, NH, HS, theta);
  }
  override ropeBackward(dinp: Tensor, dout: Tensor, positions: Tensor, N: number, NH: number, HS: number, theta: number): void {
    simd.ropeBackward(f32(dinp), f32(dout), i32(positions), N, NH, HS, theta);
  }
  override residualForward(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    simd.residualForward(f32(out), f32(a), f32(b), n);
  }
  override accumulate(dst: Tensor, src: Tensor, n: number): void {
    simd.accumulate(f32(dst), f32(src), n);
  }
  override adamw(param: Tensor, m: Tensor, v: Tensor, grad: Tensor, gradSumSquares: Tensor, n: number, settings: AdamWSettings): void {
    simd.adamw(f32(param), f32(m), f32(v), f32(grad), f32(gradSumSquares), n, settings);
  }
  override swigluForward(out: Tensor, gate: Tensor, up: Tensor, N: number, H: number): void {
    simd.swigluForward(f32(out), f32(gate), f32(up), N, H);
  }
  override swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, N: number, H: number): void {
    simd.swigluBackward(f32(dgate), f32(dup), f32(dout), f32(gate), f32(up), N, H);
  }
  override logprobForward(logp: Tensor, logits: Tensor, targets: Tensor, N: number, V: number): void {
    simd.logprobForward(f32(logp), f32(logits), i32(targets), N, V);
  }
  override logprobBackward(dlogits: Tensor, dlogp: Tensor, logits: Tensor, targets: Tensor, N: number, V: number): void {
    simd.logprobBackward(f32(dlogits), f32(dlogp), f32(logits), i32(targets), N, V);
  }

  override matmulForward(out: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void {
    matmulForward(this.blas, f32(out), f32(inp), f32(weight), N, C, OC);
  }
  override matmulBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void {
    matmulBackward(this.blas, f32(dinp), f32(dweight), f32(dout), f32(inp), f32(weight), N, C, OC);
  }
  override attentionForward(out: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, KVH: number, HS: number): void {
    attentionForward(this.blas, f32(out), f32(probs), f32(q), f32(k), f32(v), B, T, NH, KVH, HS);
  }
  override attentionBackward(
    dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor,
    B: number, T: number, NH: number, KVH: number, HS: number,
  ): void {
    attentionBackward(this.blas, f32(dq), f32(dk), f32(dv), f32(dout), f32(probs), f32(q), f32(k), f32(v), B, T, NH, KVH, HS);
  }
  override attentionDecode(
    out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, positions: Tensor,
    B: number, Tq: number, NH: number, KVH: number, HS: number, Tmax: number,
  ): void {
    attentionDecode(this.blas, f32(out), f32(q), f32(kCache), f32(vCache), i32(positions), B, Tq, NH, KVH, HS, Tmax);
  }
}

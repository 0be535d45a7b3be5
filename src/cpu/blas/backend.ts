// The cpu backend with its matrix products in the system BLAS: the linear layers, the LM head
// and attention's per-head score and value products (training, prefill and decoding). Every
// other op is the TypeScript reference's.
import type { Tensor } from '../../backend/backend.ts';
import { CpuBackend } from '../backend.ts';
import { f32, i32 } from '../tensor.ts';
import { attentionBackward, attentionForward } from './attention.ts';
import { attentionDecode } from './kvcache.ts';
import type { Blas } from './library.ts';
import { matmulBackward, matmulForward } from './matmul.ts';

export class BlasCpuBackend extends CpuBackend {
  override readonly description: string;

  constructor(private readonly blas: Blas) {
    super();
    this.description = `cpu: ${blas.description} via koffi, on Node ${process.versions.node} (${process.arch})`;
  }

  override matmulForward(out: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void {
    matmulForward(this.blas, f32(out), f32(inp), f32(weight), N, C, OC);
  }
  override matmulBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void {
    matmulBackward(this.blas, f32(dinp), f32(dweight), f32(dout), f32(inp), f32(weight), N, C, OC);
  }
  override attentionForward(out: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, HS: number): void {
    attentionForward(this.blas, f32(out), f32(probs), f32(q), f32(k), f32(v), B, T, NH, HS);
  }
  override attentionBackward(
    dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor,
    B: number, T: number, NH: number, HS: number,
  ): void {
    attentionBackward(this.blas, f32(dq), f32(dk), f32(dv), f32(dout), f32(probs), f32(q), f32(k), f32(v), B, T, NH, HS);
  }
  override attentionDecode(
    out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, positions: Tensor,
    B: number, Tq: number, NH: number, HS: number, Tmax: number,
  ): void {
    attentionDecode(this.blas, f32(out), f32(q), f32(kCache), f32(vCache), i32(positions), B, Tq, NH, HS, Tmax);
  }
}

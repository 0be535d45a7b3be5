// Device buffers of one forward pass over [B, T] tokens, allocated once per shape and reused.
// When the pass is kept for a backward, every layer gets its own buffers; otherwise all layers
// share one set and the residual stream is updated in place.

import type { Backend, Tensor } from '../backend/backend.ts';
import type { ModelConfig } from './config.ts';

// Sizes: C = dim, Q = heads * headDim, K = kvHeads * headDim.
export interface LayerActivations {
  ln1: Tensor; // [N,C] input_layernorm output
  ln1Rstd: Tensor; // [N]
  qProj?: Tensor; // [N,Q] q_proj output (with its bias) before q_norm, when qkNorm
  kProj?: Tensor; // [N,K]
  qRstd?: Tensor; // [N*NH] q_norm's rstd of each head row, when qkNorm
  kRstd?: Tensor; // [N*KVH]
  q: Tensor; // [N,Q] after rotary embedding
  k: Tensor; // [N,K] after rotary embedding
  v: Tensor; // [N,K]
  probs: Tensor; // [B,NH,T,T]
  attention: Tensor; // [N,Q] attention output, before o_proj
  residualMid: Tensor; // [N,C] the stream after the attention branch
  ln2: Tensor; // [N,C] post_attention_layernorm output
  ln2Rstd: Tensor; // [N]
  gate: Tensor; // [N,H]
  up: Tensor; // [N,H]
  hidden: Tensor; // [N,H] silu(gate) * up
}

/** Gradients of the activations, one set reused by every layer on the way down. */
export interface ActivationGrads {
  logp: Tensor; // [N] the loss's derivative with respect to each logp, from the caller
  logits: Tensor; // [N,V]
  residual: Tensor; // [N,C] the stream, accumulating both branches
  normed: Tensor; // [N,C] into a norm's output
  attention: Tensor; // [N,Q]
  qRotated: Tensor; // [N,Q] into q after rotary embedding
  kRotated: Tensor; // [N,K]
  qNormed?: Tensor; // [N,Q] into q_norm's output, when qkNorm
  kNormed?: Tensor; // [N,K]
  q: Tensor; // [N,Q] into q_proj's output (with its bias)
  k: Tensor; // [N,K]
  v: Tensor; // [N,K]
  hidden: Tensor; // [N,H]
  gate: Tensor; // [N,H]
  up: Tensor; // [N,H]
}

export class Activations {
  readonly N: number;
  readonly tokens: Tensor; // i32 [N]
  readonly positions: Tensor; // i32 [N]
  readonly targets: Tensor; // i32 [N] for the loss head
  readonly residuals: Tensor[]; // L+1 of [N,C]: residuals[l] enters layer l, residuals[L] leaves the last
  readonly layers: LayerActivations[]; // L
  readonly projection: Tensor; // [N,C] o_proj / down_proj output, added to the stream at once
  readonly lnf: Tensor; // [N,C] final norm output
  readonly lnfRstd: Tensor; // [N]
  readonly logits: Tensor; // [N,V]
  readonly logp: Tensor; // [N] log-probabilities of the targets
  private grads: ActivationGrads | undefined;

  constructor(
    private readonly backend: Backend, private readonly config: ModelConfig,
    readonly B: number, readonly T: number, readonly forBackward: boolean,
  ) {
    const { dim: C, ffnHidden: H, heads: NH, kvHeads: KVH, headDim: HS, vocabSize: V, layers: L, qkNorm } = config;
    const Q = NH * HS, K = KVH * HS;
    const N = (this.N = B * T);
    const f32 = (length: number): Tensor => backend.zeros(length);
    const i32 = (length: number): Tensor => backend.zeros(length, 'i32');
    this.tokens = i32(N);
    this.positions = i32(N);
    this.targets = i32(N);
    const layer = (residualMid: Tensor): LayerActivations => ({
      ln1: f32(N * C), ln1Rstd: f32(N),
      ...(qkNorm ? { qProj: f32(N * Q), kProj: f32(N * K), qRstd: f32(N * NH), kRstd: f32(N * KVH) } : {}),
      q: f32(N * Q), k: f32(N * K), v: f32(N * K), probs: f32(B * NH * T * T),
      attention: f32(N * Q), residualMid, ln2: f32(N * C), ln2Rstd: f32(N), gate: f32(N * H), up: f32(N * H), hidden: f32(N * H),
    });
    if (forBackward) {
      this.residuals = Array.from({ length: L + 1 }, () => f32(N * C));
      this.layers = Array.from({ length: L }, () => layer(f32(N * C)));
    } else {
      const stream = f32(N * C);
      this.residuals = new Array<Tensor>(L + 1).fill(stream);
      this.layers = new Array<LayerActivations>(L).fill(layer(stream));
    }
    this.projection = f32(N * C);
    this.lnf = f32(N * C);
    this.lnfRstd = f32(N);
    this.logits = f32(N * V);
    this.logp = f32(N);
  }

  /** The gradient buffers, allocated on first use. */
  gradients(): ActivationGrads {
    if (!this.forBackward) throw new Error('this forward pass was not kept for a backward pass');
    if (this.grads === undefined) {
      const { dim: C, ffnHidden: H, vocabSize: V, heads: NH, kvHeads: KVH, headDim: HS, qkNorm } = this.config;
      const Q = NH * HS, K = KVH * HS;
      const f32 = (length: number): Tensor => this.backend.zeros(length);
      const N = this.N;
      this.grads = {
        logp: f32(N), logits: f32(N * V), residual: f32(N * C), normed: f32(N * C), attention: f32(N * Q), qRotated: f32(N * Q), kRotated: f32(N * K),
        ...(qkNorm ? { qNormed: f32(N * Q), kNormed: f32(N * K) } : {}),
        q: f32(N * Q), k: f32(N * K), v: f32(N * K), hidden: f32(N * H), gate: f32(N * H), up: f32(N * H),
      };
    }
    return this.grads;
  }

  /** Returns every buffer to the backend. */
  release(): void {
    const tensors = new Set<Tensor>([
      this.tokens, this.positions, this.targets, ...this.residuals, this.projection, this.lnf, this.lnfRstd,
      this.logits, this.logp,
      ...this.layers.flatMap((layer) => Object.values(layer)),
      ...(this.grads === undefined ? [] : Object.values(this.grads)),
    ]);
    for (const tensor of tensors) this.backend.release(tensor);
  }
}

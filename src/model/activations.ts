// Device buffers of one forward pass over [B, T] tokens, allocated once per shape and reused.
// When the pass is kept for a backward, every layer gets its own buffers; otherwise all layers
// share one set and the residual stream is updated in place.

import type { Backend, Tensor } from '../backend/backend.ts';
import type { ModelConfig } from './config.ts';

export interface LayerActivations {
  ln1: Tensor; // [N,C] input_layernorm output
  ln1Rstd: Tensor; // [N]
  q: Tensor; // [N,C] after rotary embedding
  k: Tensor; // [N,C] after rotary embedding
  v: Tensor; // [N,C]
  probs: Tensor; // [B,NH,T,T]
  attention: Tensor; // [N,C] attention output, before o_proj
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
  attention: Tensor; // [N,C]
  qRotated: Tensor; // [N,C] into q after rotary embedding
  kRotated: Tensor; // [N,C]
  q: Tensor; // [N,C] into q_proj's output
  k: Tensor; // [N,C]
  v: Tensor; // [N,C]
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
    const { dim: C, ffnHidden: H, heads: NH, vocabSize: V, layers: L } = config;
    const N = (this.N = B * T);
    const f32 = (length: number): Tensor => backend.zeros(length);
    const i32 = (length: number): Tensor => backend.zeros(length, 'i32');
    this.tokens = i32(N);
    this.positions = i32(N);
    this.targets = i32(N);
    const layer = (residualMid: Tensor): LayerActivations => ({
      ln1: f32(N * C), ln1Rstd: f32(N), q: f32(N * C), k: f32(N * C), v: f32(N * C), probs: f32(B * NH * T * T),
      attention: f32(N * C), residualMid, ln2: f32(N * C), ln2Rstd: f32(N), gate: f32(N * H), up: f32(N * H), hidden: f32(N * H),
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
      const { dim: C, ffnHidden: H, vocabSize: V } = this.config;
      const f32 = (length: number): Tensor => this.backend.zeros(length);
      const N = this.N;
      this.grads = {
        logp: f32(N), logits: f32(N * V), residual: f32(N * C), normed: f32(N * C), attention: f32(N * C), qRotated: f32(N * C), kRotated: f32(N * C),
        q: f32(N * C), k: f32(N * C), v: f32(N * C), hidden: f32(N * H), gate: f32(N * H), up: f32(N * H),
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

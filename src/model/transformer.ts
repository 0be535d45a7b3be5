// A Llama-family decoder-only transformer written against the Backend interface, in the manner
// of llm.c: one explicit forward that keeps its activations and one explicit backward.
//
//   x = embed(tokens)
//   per layer:  x = x + o_proj(attention(rope(q_norm(q_proj(n))), rope(k_norm(k_proj(n))), v_proj(n))),  n = rmsnorm(x)
//               x = x + down_proj(silu(gate_proj(n)) * up_proj(n)),                                       n = rmsnorm(x)
//   logits = lm_head(rmsnorm(x))
//
// as Hugging Face's Llama, Qwen2 and Qwen3 compute it: q has `heads` heads, k and v `kvHeads`
// (grouped-query attention), each of `headDim` channels; the q/k/v projections carry biases when
// qkvBias (Qwen2); q_norm and k_norm, an RMSNorm of each head's row with a [headDim] weight, are
// there when qkNorm (Qwen3) and the identity otherwise.

import type { Backend, Tensor } from '../backend/backend.ts';
import { Activations, type LayerActivations } from './activations.ts';
import { headSize, type ModelConfig } from './config.ts';
import { arrangeByRole, checkFlatLength, paramCount, paramSpecs, type ModelTensors, type ParamSpec } from './params.ts';

/** The keys and values of every layer for B sequences of up to Tmax positions. */
export interface KvCache {
  B: number;
  Tmax: number;
  keys: Tensor[]; // per layer [B,Tmax,kvHeads*headDim]
  values: Tensor[]; // per layer [B,Tmax,kvHeads*headDim]
}

/** Activation sets kept for reuse; prompts of ever new lengths would otherwise pile them up. */
const CACHED_SHAPES = 4;

export class Transformer {
  readonly specs: ParamSpec[];
  /** One device tensor per parameter, in the order of `specs`. */
  readonly params: Tensor[];
  readonly weights: ModelTensors<Tensor>;
  private paramGrads: { list: Tensor[]; byRole: ModelTensors<Tensor> } | undefined;
  private readonly activations = new Map<string, Activations>(); // least recently used first

  /** A model on `backend` holding a copy of the flat parameter array `flat`. */
  constructor(readonly backend: Backend, readonly config: ModelConfig, flat: Float32Array) {
    this.specs = paramSpecs(config);
    this.params = this.specs.map((spec) => backend.zeros(spec.length));
    this.weights = arrangeByRole(config, this.params);
    this.importFlat(flat);
  }

  /** Gradient tensors, one per parameter in the order of `specs`, allocated on first use. */
  get grads(): Tensor[] {
    return this.gradients().list;
  }

  zeroGrads(): void {
    for (const grad of this.grads) this.backend.fill(grad, 0);
  }

  /** Replaces every parameter with the contents of the flat array `flat`. */
  importFlat(flat: Float32Array): void {
    checkFlatLength(this.config, flat);
    this.specs.forEach((spec, i) => this.backend.write(this.params[i], flat.subarray(spec.offset, spec.offset + spec.length)));
  }

  /** Every parameter written into the flat array `flat` (a new one by default). */
  async exportFlat(flat: Float32Array = new Float32Array(paramCount(this.config))): Promise<Float32Array> {
    const parts = await Promise.all(this.params.map((param) => this.backend.read(param)));
    this.specs.forEach((spec, i) => flat.set(parts[i], spec.offset));
    return flat;
  }

  /**
   * The forward pass over B rows of T tokens (row-major [B,T]); positions default to 0..T-1 in
   * every row. Returns its activations, whose `logits` [B*T, V] hold the result; they are kept
   * for `backward` when `forBackward` is set, and are valid until the next forward of that shape
   * (or until forwards of CACHED_SHAPES other shapes have run).
   */
  forward(tokens: Int32Array, B: number, T: number, options: { positions?: Int32Array; forBackward?: boolean } = {}): Activations {
    if (T > this.config.context) throw new Error(`sequence length ${T} exceeds the context of ${this.config.context}`);
    checkRows('tokens', tokens, B * T);
    const acts = this.activationsFor(B, T, options.forBackward ?? false);
    this.backend.write(acts.tokens, tokens);
    this.backend.write(acts.positions, options.positions ?? Int32Array.from({ length: B * T }, (_, i) => i % T));
    const { heads: NH, kvHeads: KVH } = this.config;
    this.run(acts, (layer) => this.backend.attentionForward(layer.attention, layer.probs, layer.q, layer.k, layer.v, B, T, NH, KVH, headSize(this.config)));
    return acts;
  }

  /**
   * The forward pass of Tn new tokens per sequence through the KV cache: token (b, t) sits at
   * positions[b*Tn + t] and attends to everything the cache holds for sequence b up to there.
   * Used for a right-padded prompt (Tn = its padded length) and for each decoded token (Tn = 1).
   */
  forwardCached(cache: KvCache, tokens: Int32Array, positions: Int32Array, Tn: number): Activations {
    const { B, Tmax } = cache;
    checkRows('tokens', tokens, B * Tn);
    checkRows('positions', positions, B * Tn);
    const acts = this.activationsFor(B, Tn, false);
    this.backend.write(acts.tokens, tokens);
    this.backend.write(acts.positions, positions);
    const { heads: NH, kvHeads: KVH } = this.config;
    const HS = headSize(this.config), K = KVH * HS;
    this.run(acts, (layer, l) => {
      this.backend.cacheWrite(cache.keys[l], layer.k, acts.positions, B, Tn, Tmax, K);
      this.backend.cacheWrite(cache.values[l], layer.v, acts.positions, B, Tn, Tmax, K);
      this.backend.attentionDecode(layer.attention, layer.q, cache.keys[l], cache.values[l], acts.positions, B, Tn, NH, KVH, HS, Tmax);
    });
    return acts;
  }

  createKvCache(B: number, Tmax: number): KvCache {
    if (Tmax > this.config.context) throw new Error(`cache length ${Tmax} exceeds the context of ${this.config.context}`);
    const size = B * Tmax * this.config.kvHeads * headSize(this.config);
    const perLayer = (): Tensor[] => Array.from({ length: this.config.layers }, () => this.backend.zeros(size));
    return { B, Tmax, keys: perLayer(), values: perLayer() };
  }

  releaseKvCache(cache: KvCache): void {
    for (const tensor of [...cache.keys, ...cache.values]) this.backend.release(tensor);
  }

  /** Log-probabilities of `targets` [B*T] under the logits of `acts`, into acts.logp. */
  logprobs(acts: Activations, targets: Int32Array): Tensor {
    checkRows('targets', targets, acts.N);
    this.backend.write(acts.targets, targets);
    this.backend.logprobForward(acts.logp, acts.logits, acts.targets, acts.N, this.config.vocabSize);
    return acts.logp;
  }

  /**
   * Accumulates into `grads` the gradient of a loss whose derivative with respect to each of
   * acts.logp is `dlogp` [B*T]; `logprobs` must have run on these activations.
   */
  backward(acts: Activations, dlogp: Float32Array): void {
    const be = this.backend;
    const { dim: C, ffnHidden: H, heads: NH, kvHeads: KVH, vocabSize: V, layers: L, ropeTheta } = this.config;
    const HS = headSize(this.config), Q = NH * HS, K = KVH * HS;
    const { B, T, N } = acts;
    const w = this.weights;
    const g = this.gradients().byRole;
    const d = acts.gradients();

    checkRows('dlogp', dlogp, N);
    be.write(d.logp, dlogp);
    be.logprobBackward(d.logits, d.logp, acts.logits, acts.targets, N, V);
    be.fill(d.normed, 0);
    be.matmulBackward(d.normed, g.lmHead, d.logits, acts.lnf, w.lmHead, N, C, V);
    be.fill(d.residual, 0);
    be.rmsnormBackward(d.residual, g.norm, d.normed, acts.residuals[L], w.norm, acts.lnfRstd, N, C);

    for (let l = L - 1; l >= 0; l--) {
      const a = acts.layers[l], lw = w.layers[l], lg = g.layers[l];
      // MLP branch; the stream's gradient passes straight through the residual add.
      for (const t of [d.hidden, d.gate, d.up, d.normed]) be.fill(t, 0);
      be.matmulBackward(d.hidden, lg.down, d.residual, a.hidden, lw.down, N, H, C);
      be.swigluBackward(d.gate, d.up, d.hidden, a.gate, a.up, N, H);
      be.matmulBackward(d.normed, lg.gate, d.gate, a.ln2, lw.gate, N, C, H);
      be.matmulBackward(d.normed, lg.up, d.up, a.ln2, lw.up, N, C, H);
      be.rmsnormBackward(d.residual, lg.postAttentionNorm, d.normed, a.residualMid, lw.postAttentionNorm, a.ln2Rstd, N, C);
      // Attention branch.
      for (const t of [d.attention, d.qRotated, d.kRotated, d.qNormed, d.kNormed, d.v, d.q, d.k, d.normed]) if (t) be.fill(t, 0);
      be.matmulBackward(d.attention, lg.o, d.residual, a.attention, lw.o, N, Q, C);
      be.attentionBackward(d.qRotated, d.kRotated, d.v, d.attention, a.probs, a.q, a.k, a.v, B, T, NH, KVH, HS);
      // Through RoPE, then q_norm and k_norm (per head row) when there are such norms.
      be.ropeBackward(d.qNormed ?? d.q, d.qRotated, acts.positions, N, NH, HS, ropeTheta);
      be.ropeBackward(d.kNormed ?? d.k, d.kRotated, acts.positions, N, KVH, HS, ropeTheta);
      if (d.qNormed && d.kNormed) {
        be.rmsnormBackward(d.q, lg.qNorm!, d.qNormed, a.qProj!, lw.qNorm!, a.qRstd!, N * NH, HS);
        be.rmsnormBackward(d.k, lg.kNorm!, d.kNormed, a.kProj!, lw.kNorm!, a.kRstd!, N * KVH, HS);
      }
      if (lg.qBias && lg.kBias && lg.vBias) {
        be.biasBackward(lg.qBias, d.q, N, Q);
        be.biasBackward(lg.kBias, d.k, N, K);
        be.biasBackward(lg.vBias, d.v, N, K);
      }
      be.matmulBackward(d.normed, lg.q, d.q, a.ln1, lw.q, N, C, Q);
      be.matmulBackward(d.normed, lg.k, d.k, a.ln1, lw.k, N, C, K);
      be.matmulBackward(d.normed, lg.v, d.v, a.ln1, lw.v, N, C, K);
      be.rmsnormBackward(d.residual, lg.inputNorm, d.normed, acts.residuals[l], lw.inputNorm, a.ln1Rstd, N, C);
    }
    be.embeddingBackward(g.embed, d.residual, acts.tokens, N, C);
  }

  /** Returns every activation buffer to the backend. */
  releaseActivations(): void {
    for (const acts of this.activations.values()) acts.release();
    this.activations.clear();
  }

  private gradients(): { list: Tensor[]; byRole: ModelTensors<Tensor> } {
    if (this.paramGrads === undefined) {
      const list = this.specs.map((spec) => this.backend.zeros(spec.length));
      this.paramGrads = { list, byRole: arrangeByRole(this.config, list) };
    }
    return this.paramGrads;
  }

  private activationsFor(B: number, T: number, forBackward: boolean): Activations {
    const key = `${B}x${T}${forBackward ? ' for backward' : ''}`;
    const acts = this.activations.get(key) ?? new Activations(this.backend, this.config, B, T, forBackward);
    this.activations.delete(key);
    this.activations.set(key, acts);
    if (this.activations.size > CACHED_SHAPES) {
      const [oldestKey, oldest] = this.activations.entries().next().value!;
      oldest.release();
      this.activations.delete(oldestKey);
    }
    return acts;
  }

  /** Embedding, every layer with `attend` filling layer.attention from q, k, v, then norm and LM head. */
  private run(acts: Activations, attend: (layer: LayerActivations, l: number) => void): void {
    const be = this.backend;
    const { dim: C, ffnHidden: H, heads: NH, kvHeads: KVH, vocabSize: V, layers: L, normEps, ropeTheta } = this.config;
    const HS = headSize(this.config), Q = NH * HS, K = KVH * HS;
    const N = acts.N;
    const w = this.weights;
    be.embeddingForward(acts.residuals[0], acts.tokens, w.embed, N, C);
    for (let l = 0; l < L; l++) {
      const a = acts.layers[l], lw = w.layers[l];
      const input = acts.residuals[l];
      be.rmsnormForward(a.ln1, a.ln1Rstd, input, lw.inputNorm, N, C, normEps);
      // With q/k norms the projections keep their outputs (qProj, kProj) for the norms' backward.
      const qProj = a.qProj ?? a.q, kProj = a.kProj ?? a.k;
      be.matmulForward(qProj, a.ln1, lw.q, N, C, Q);
      be.matmulForward(kProj, a.ln1, lw.k, N, C, K);
      be.matmulForward(a.v, a.ln1, lw.v, N, C, K);
      if (lw.qBias && lw.kBias && lw.vBias) {
        be.biasForward(qProj, lw.qBias, N, Q);
        be.biasForward(kProj, lw.kBias, N, K);
        be.biasForward(a.v, lw.vBias, N, K);
      }
      if (lw.qNorm && lw.kNorm) {
        be.rmsnormForward(a.q, a.qRstd!, qProj, lw.qNorm, N * NH, HS, normEps);
        be.rmsnormForward(a.k, a.kRstd!, kProj, lw.kNorm, N * KVH, HS, normEps);
      }
      be.ropeForward(a.q, a.q, acts.positions, N, NH, HS, ropeTheta);
      be.ropeForward(a.k, a.k, acts.positions, N, KVH, HS, ropeTheta);
      attend(a, l);
      be.matmulForward(acts.projection, a.attention, lw.o, N, Q, C);
      be.residualForward(a.residualMid, input, acts.projection, N * C);
      be.rmsnormForward(a.ln2, a.ln2Rstd, a.residualMid, lw.postAttentionNorm, N, C, normEps);
      be.matmulForward(a.gate, a.ln2, lw.gate, N, C, H);
      be.matmulForward(a.up, a.ln2, lw.up, N, C, H);
      be.swigluForward(a.hidden, a.gate, a.up, N, H);
      be.matmulForward(acts.projection, a.hidden, lw.down, N, H, C);
      be.residualForward(acts.residuals[l + 1], a.residualMid, acts.projection, N * C);
    }
    be.rmsnormForward(acts.lnf, acts.lnfRstd, acts.residuals[L], w.norm, N, C, normEps);
    be.matmulForward(acts.logits, acts.lnf, w.lmHead, N, C, V);
  }
}

function checkRows(name: string, values: ArrayLike<number>, N: number): void {
  if (values.length !== N) throw new Error(`expected ${N} ${name}, got ${values.length}`);
}

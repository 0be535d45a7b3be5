// The contract between the model and its two compute backends: `cpu` (plain TypeScript, the
// readable reference) and `webgpu` (WGSL kernels through Dawn). The model is written once against
// this interface, layer by layer, in the manner of llm.c.
//
// Conventions, shared by every op:
// - Outputs first, then inputs, then sizes. Shapes are written in the comment of each op.
// - Row-major storage. N = B*T rows; C channels; NH query heads and KVH key/value heads of HS
//   channels each (HS need not be C/NH; NH is a multiple of KVH); H the SwiGLU hidden size; V the
//   vocabulary. A [N, NH*HS] activation is also [B, T, NH, HS].
// - Forward ops overwrite their outputs. Backward ops ACCUMULATE (+=) into every gradient they
//   write, as llm.c does, so a tensor that feeds two consumers (the residual stream) simply
//   receives both contributions; the caller zeroes gradients before a backward pass.
// - Ops only record work. On `webgpu` they are encoded into the current command encoder and run
//   when the backend submits; `read` submits whatever is pending and maps only what it returns.
//   On `cpu` they run at once. Either way results are observed only through `read`.
// - Token ids, targets and positions are i32 tensors; everything else is f32.

export type DType = 'f32' | 'i32';

/** An opaque block of device memory of `length` elements. */
export interface Tensor {
  readonly length: number;
  readonly dtype: DType;
}

export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number; // decoupled: param -= lr * weightDecay * param
  step: number; // 1-based, for bias correction
  maxGradNorm: number; // global-norm clipping threshold; 0 disables clipping
}

export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /** One line naming what runs the compute, e.g. "webgpu: llvmpipe (LLVM 19, 256 bits) via Vulkan". */
  readonly description: string;

  // ---- memory ------------------------------------------------------------------------------
  /** A new zero-filled tensor. */
  zeros(length: number, dtype?: DType): Tensor;
  /** A new tensor holding a copy of `data` (f32 for Float32Array, i32 for Int32Array). */
  upload(data: Float32Array | Int32Array): Tensor;
  /** dst[dstOffset : dstOffset + data.length] = data */
  write(dst: Tensor, data: Float32Array | Int32Array, dstOffset?: number): void;
  /** The contents of an f32 tensor, or of `length` elements from `offset`. */
  read(src: Tensor, offset?: number, length?: number): Promise<Float32Array>;
  /** The contents of an i32 tensor, or of `length` elements from `offset`. */
  readInt(src: Tensor, offset?: number, length?: number): Promise<Int32Array>;
  /** dst[dstOffset + i] = src[srcOffset + i] for i < length; same dtype. */
  copy(dst: Tensor, dstOffset: number, src: Tensor, srcOffset: number, length: number): void;
  /** Every element of an f32 tensor set to `value`. */
  fill(dst: Tensor, value: number): void;
  /** Returns the memory to the backend's pool; the tensor must not be used afterwards. */
  release(tensor: Tensor): void;
  /** Waits until all recorded work has finished. */
  sync(): Promise<void>;
  /** Frees every resource; a process that used the backend can then exit on its own. */
  destroy(): void;

  // ---- layers, each forward beside its backward -------------------------------------------
  /** out[N,C] = wte[tokens[n], :] */
  embeddingForward(out: Tensor, tokens: Tensor, wte: Tensor, N: number, C: number): void;
  /** dwte[tokens[n], :] += dout[n, :] */
  embeddingBackward(dwte: Tensor, dout: Tensor, tokens: Tensor, N: number, C: number): void;

  /**
   * out[N,C] = inp * rstd * weight[C], rstd[N] = 1 / sqrt(mean(inp^2) + eps). Also the per-head
   * q/k norm of Qwen3: N*NH rows of C = HS.
   */
  rmsnormForward(out: Tensor, rstd: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, eps: number): void;
  /** dinp[N,C] +=, dweight[C] += */
  rmsnormBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, rstd: Tensor, N: number, C: number): void;

  /** out[N,OC] = inp[N,C] @ weight[OC,C]^T  (PyTorch Linear layout, no bias) */
  matmulForward(out: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void;
  /** dinp[N,C] += dout @ weight, dweight[OC,C] += dout^T @ inp */
  matmulBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void;

  /** out[N,OC] += bias[OC] broadcast over the rows (the bias of a linear layer, after matmulForward) */
  biasForward(out: Tensor, bias: Tensor, N: number, OC: number): void;
  /** dbias[OC] += sum over n of dout[n, :] */
  biasBackward(dbias: Tensor, dout: Tensor, N: number, OC: number): void;

  /**
   * Rotary position embedding on [N, NH, HS] rows, row n at position positions[n]; the
   * "rotate half" pairing of Llama in Hugging Face (element i pairs with i + HS/2), frequency
   * theta^(-2i/HS). `out` may be `inp`.
   */
  ropeForward(out: Tensor, inp: Tensor, positions: Tensor, N: number, NH: number, HS: number, theta: number): void;
  /** dinp[N,NH,HS] += R(position)^T dout */
  ropeBackward(dinp: Tensor, dout: Tensor, positions: Tensor, N: number, NH: number, HS: number, theta: number): void;

  /**
   * Causal self-attention within each of B sequences of length T, grouped-query: query head h
   * reads key/value head floor(h / (NH/KVH)) (Hugging Face's repeat_kv order; KVH = NH is plain
   * multi-head attention). out[B,T,NH,HS], probs[B,NH,T,T] (softmax rows, kept for backward;
   * entries above the diagonal 0); q [B,T,NH,HS]; k, v [B,T,KVH,HS]; scores scaled by 1/sqrt(HS).
   */
  attentionForward(out: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, KVH: number, HS: number): void;
  /** dq [B,T,NH,HS] +=; dk, dv [B,T,KVH,HS] += the sum over the query heads of each group */
  attentionBackward(
    dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor,
    B: number, T: number, NH: number, KVH: number, HS: number,
  ): void;

  /** out[N,H] = silu(gate) * up */
  swigluForward(out: Tensor, gate: Tensor, up: Tensor, N: number, H: number): void;
  /** dgate[N,H] +=, dup[N,H] += */
  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, N: number, H: number): void;

  /** out[n] = a[n] + b[n]; `out` may be `a`. (Its backward is `accumulate` into both inputs.) */
  residualForward(out: Tensor, a: Tensor, b: Tensor, n: number): void;
  /** dst[n] += src[n] */
  accumulate(dst: Tensor, src: Tensor, n: number): void;

  // ---- the loss head: log-probabilities of given tokens ------------------------------------
  // Both losses (masked cross-entropy for pre-training, the clipped GRPO surrogate) are plain
  // functions of these per-token log-probabilities; they are computed by the caller, which
  // hands back dlogp, the loss's derivative with respect to each logp.
  /** logp[N] = log softmax(logits[n, :])[targets[n]] */
  logprobForward(logp: Tensor, logits: Tensor, targets: Tensor, N: number, V: number): void;
  /** dlogits[N,V] = dlogp[n] * (onehot(targets[n]) - softmax(logits[n, :]))  (overwrites) */
  logprobBackward(dlogits: Tensor, dlogp: Tensor, logits: Tensor, targets: Tensor, N: number, V: number): void;

  // ---- optimizer ---------------------------------------------------------------------------
  /** out[0] += sum(x[i]^2): called once per gradient tensor to build the global norm. */
  sumSquares(out: Tensor, x: Tensor, n: number): void;
  /**
   * One AdamW step with bias correction on n parameters. Gradients are first scaled by
   * min(1, maxGradNorm / sqrt(gradSumSquares[0])) when maxGradNorm > 0, read on the device so
   * that clipping needs no readback.
   */
  adamw(param: Tensor, m: Tensor, v: Tensor, grad: Tensor, gradSumSquares: Tensor, n: number, settings: AdamWSettings): void;

  // ---- inference ---------------------------------------------------------------------------
  /** out[R,C] = inp[rows[r], :] for r < R; gathers e.g. each sequence's last prompt position. */
  gatherRows(out: Tensor, inp: Tensor, rows: Tensor, R: number, C: number): void;
  /** out[N] = argmax_v logits[n, v] (lowest index on ties), i32 */
  argmax(out: Tensor, logits: Tensor, N: number, V: number): void;
  /**
   * out[N] = entropy (nats) of the distribution renormalised over the k largest logits of each
   * row: p_i = softmax over the top k, H = -sum p_i log p_i.
   */
  topkEntropy(out: Tensor, logits: Tensor, N: number, V: number, k: number): void;
  /**
   * KV cache write: cache[b, positions[b*Tn + t], :] = src[b, t, :] for cache [B, Tmax, C] and
   * src [B, Tn, C] (C = KVH*HS for keys and values); used for both the prompt (Tn = prompt
   * length) and each decoded token (Tn = 1).
   */
  cacheWrite(cache: Tensor, src: Tensor, positions: Tensor, B: number, Tn: number, Tmax: number, C: number): void;
  /**
   * Causal attention of new queries against the cache: query (b, t) at position p =
   * positions[b*Tq + t] attends to cached keys 0..p of sequence b; query head h reads key/value
   * head floor(h / (NH/KVH)), as in attentionForward.
   * out[B,Tq,NH,HS]; q [B,Tq,NH,HS]; kCache, vCache [B,Tmax,KVH,HS].
   */
  attentionDecode(
    out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, positions: Tensor,
    B: number, Tq: number, NH: number, KVH: number, HS: number, Tmax: number,
  ): void;
}

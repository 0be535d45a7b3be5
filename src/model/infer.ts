// Inference over the model: scores of given sequences, and a KV-cache decoder for sampling.

import type { Tensor } from '../backend/backend.ts';
import type { KvCache, Transformer } from './transformer.ts';

/** logp[B*T]: log-probability of targets[b, t] after inputs[b, 0..t], for B rows of T tokens. */
export async function sequenceLogprobs(model: Transformer, inputs: Int32Array, targets: Int32Array, B: number, T: number): Promise<Float32Array> {
  const acts = model.forward(inputs, B, T);
  return model.backend.read(model.logprobs(acts, targets));
}

/**
 * entropy[B*T] (nats) of the next-token distribution after tokens[b, 0..t], renormalised over
 * its k most likely tokens: the difficulty measure of the data filter.
 */
export async function topkEntropies(model: Transformer, tokens: Int32Array, B: number, T: number, k: number): Promise<Float32Array> {
  const acts = model.forward(tokens, B, T);
  const out = model.backend.zeros(acts.N);
  model.backend.topkEntropy(out, acts.logits, acts.N, model.config.vocabSize, k);
  const result = await model.backend.read(out);
  model.backend.release(out);
  return result;
}

/** argmax[B*T]: the most likely next token after tokens[b, 0..t] (lowest id on ties). */
export async function argmaxTokens(model: Transformer, tokens: Int32Array, B: number, T: number): Promise<Int32Array> {
  const acts = model.forward(tokens, B, T);
  const out = model.backend.zeros(acts.N, 'i32');
  model.backend.argmax(out, acts.logits, acts.N, model.config.vocabSize);
  const result = await model.backend.readInt(out);
  model.backend.release(out);
  return result;
}

/**
 * Incremental decoding of B sequences through a KV cache of Tmax positions. Prompts of different
 * lengths go in together, right-padded; afterwards each sequence advances at its own position.
 */
export class Decoder {
  private readonly cache: KvCache;
  private readonly lastRows: Tensor; // [B,V] logits of each prompt's last token

  constructor(private readonly model: Transformer, readonly B: number, readonly Tmax: number) {
    this.cache = model.createKvCache(B, Tmax);
    this.lastRows = model.backend.zeros(B * model.config.vocabSize);
  }

  /** Runs the B prompts (each non-empty) through the cache; returns logits [B,V] after each prompt. */
  async prefill(prompts: readonly Int32Array[]): Promise<Float32Array> {
    const { model, B } = this;
    if (prompts.length !== B) throw new Error(`prefill of ${prompts.length} prompts on a decoder of ${B} sequences`);
    const Tp = Math.max(...prompts.map((prompt) => prompt.length));
    if (prompts.some((prompt) => prompt.length === 0)) throw new Error('every prompt needs at least one token');
    if (Tp > this.Tmax) throw new Error(`a prompt of ${Tp} tokens exceeds the cache of ${this.Tmax} positions`);
    const tokens = new Int32Array(B * Tp); // right-padded with token 0: its cache entries are overwritten before any query reaches them
    prompts.forEach((prompt, b) => tokens.set(prompt, b * Tp));
    const positions = Int32Array.from({ length: B * Tp }, (_, i) => i % Tp);
    const acts = model.forwardCached(this.cache, tokens, positions, Tp);
    const lastTokenRows = model.backend.upload(Int32Array.from(prompts, (prompt, b) => b * Tp + prompt.length - 1));
    model.backend.gatherRows(this.lastRows, acts.logits, lastTokenRows, B, model.config.vocabSize);
    model.backend.release(lastTokenRows);
    return model.backend.read(this.lastRows);
  }

  /** Feeds one token per sequence at the given positions; returns the logits [B,V] that follow. */
  async step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
    const acts = this.model.forwardCached(this.cache, tokens, positions, 1);
    return this.model.backend.read(acts.logits);
  }

  release(): void {
    this.model.releaseKvCache(this.cache);
    this.model.backend.release(this.lastRows);
  }
}

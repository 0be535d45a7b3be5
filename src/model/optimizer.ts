// AdamW over the model's parameter tensors, through the backend so the state stays on the device;
// global-norm clipping is read on the device too, so a step needs no readback.

import type { Tensor } from '../backend/backend.ts';
import type { Transformer } from './transformer.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number; // applied to matrices only; norm gains never decay
  maxGradNorm: number; // 0 disables clipping
}

export const DEFAULT_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };

export class AdamW {
  readonly config: AdamWConfig;
  /** Steps taken so far. */
  step = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  private readonly gradSumSquares: Tensor;

  constructor(private readonly model: Transformer, config: Partial<AdamWConfig> = {}) {
    this.config = { ...DEFAULT_ADAMW, ...config };
    const backend = model.backend;
    this.m = model.specs.map((spec) => backend.zeros(spec.length));
    this.v = model.specs.map((spec) => backend.zeros(spec.length));
    this.gradSumSquares = backend.zeros(1);
  }

  /** Records one update of every parameter from the model's gradients at learning rate `lr`. */
  update(lr: number): void {
    const { backend, specs, params, grads } = this.model;
    this.step += 1;
    backend.fill(this.gradSumSquares, 0);
    specs.forEach((spec, i) => backend.sumSquares(this.gradSumSquares, grads[i], spec.length));
    specs.forEach((spec, i) => {
      const weightDecay = spec.weightDecay ? this.config.weightDecay : 0;
      backend.adamw(params[i], this.m[i], this.v[i], grads[i], this.gradSumSquares, spec.length, { ...this.config, lr, weightDecay, step: this.step });
    });
  }

  /** The moments, one array per parameter in the order of the model's specs, and the step count. */
  async exportState(): Promise<{ step: number; m: Float32Array[]; v: Float32Array[] }> {
    const read = (tensors: Tensor[]) => Promise.all(tensors.map((tensor) => this.model.backend.read(tensor)));
    return { step: this.step, m: await read(this.m), v: await read(this.v) };
  }

  /** Restores state from `exportState` (or a checkpoint), so that training resumes exactly. */
  importState(state: { step: number; m: Float32Array[]; v: Float32Array[] }): void {
    const { backend, specs } = this.model;
    if (state.m.length !== specs.length || state.v.length !== specs.length) throw new Error(`optimizer state holds ${state.m.length} and ${state.v.length} moments, the model has ${specs.length} parameters`);
    specs.forEach((spec, i) => {
      if (state.m[i].length !== spec.length || state.v[i].length !== spec.length) throw new Error(`optimizer moments of ${spec.name} have the wrong length`);
      backend.write(this.m[i], state.m[i]);
      backend.write(this.v[i], state.v[i]);
    });
    this.step = state.step;
  }

  /** The global gradient norm, before clipping, of the last update. */
  async gradNorm(): Promise<number> {
    return Math.sqrt((await this.model.backend.read(this.gradSumSquares))[0]);
  }
}

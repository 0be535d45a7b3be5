import type { AdamWSettings } from '../backend/backend.ts';

/** out[0] += sum(x[i]^2), one gradient tensor's share of the global norm */
export function sumSquares(out: Float32Array, x: Float32Array, n: number): void {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i] * x[i];
  out[0] += sum;
}

/**
 * The step's scalars: the gradient scale min(1, maxGradNorm / globalNorm) when clipping
 * (maxGradNorm > 0, else 1) and the bias corrections 1 - beta^step of both moments.
 */
export function stepFactors(
  gradSumSquares: Float32Array, { beta1, beta2, step, maxGradNorm }: AdamWSettings,
): { clip: number; mCorrection: number; vCorrection: number } {
  const globalNorm = Math.sqrt(gradSumSquares[0]);
  return {
    clip: maxGradNorm > 0 && globalNorm > maxGradNorm ? maxGradNorm / globalNorm : 1,
    mCorrection: 1 - Math.pow(beta1, step),
    vCorrection: 1 - Math.pow(beta2, step),
  };
}

/**
 * One AdamW step with bias correction and decoupled weight decay on n parameters; gradients are
 * scaled by min(1, maxGradNorm / globalNorm) first when maxGradNorm > 0.
 */
export function adamw(
  param: Float32Array, m: Float32Array, v: Float32Array, grad: Float32Array, gradSumSquares: Float32Array, n: number,
  settings: AdamWSettings,
): void {
  const { lr, beta1, beta2, eps, weightDecay } = settings;
  const { clip, mCorrection, vCorrection } = stepFactors(gradSumSquares, settings);
  for (let i = 0; i < n; i++) {
    const g = grad[i] * clip;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const mHat = m[i] / mCorrection;
    const vHat = v[i] / vCorrection;
    param[i] -= lr * (mHat / (Math.sqrt(vHat) + eps) + weightDecay * param[i]);
  }
}

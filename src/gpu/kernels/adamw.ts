// The optimizer: the global gradient norm and one AdamW step, both without a readback.
import { elementwise, type Kernel } from '../kernel.ts';

/** Partial sums of squares: the global norm is reduced in two passes instead of with barriers. */
export const SUM_SQUARES_PARTIALS = 1024;

/** partials[P] = sum over j = i, i + P, ... < n of x[j]^2 */
export const sumSquaresPartial: Kernel = {
  name: 'sum_squares_partial',
  bindings: { partials: 'write f32', x: 'read f32' },
  params: { n: 'u32' },
  body: `
  var sum = 0.0;
  for (var j = i; j < p.n; j += p.count) { sum += x[j] * x[j]; }
  partials[i] = sum;`,
};

/** out[0] += sum(partials[P]); a single invocation */
export const sumSquaresFinish: Kernel = {
  name: 'sum_squares_finish',
  bindings: { out: 'write f32', partials: 'read f32' },
  params: { partials: 'u32' },
  body: `
  var sum = 0.0;
  for (var j = 0u; j < p.partials; j++) { sum += partials[j]; }
  out[0] += sum;`,
};

/**
 * One AdamW step with bias correction and decoupled weight decay; the gradient is first scaled by
 * min(1, maxGradNorm / sqrt(gradSumSquares[0])) when maxGradNorm > 0.
 */
export const adamw = elementwise({
  name: 'adamw',
  bindings: { param: 'write f32', m: 'write f32', v: 'write f32', grad: 'read f32', gradSumSquares: 'read f32' },
  params: { lr: 'f32', beta1: 'f32', beta2: 'f32', eps: 'f32', weightDecay: 'f32', mCorrection: 'f32', vCorrection: 'f32', maxGradNorm: 'f32' },
  body: `
  let norm = sqrt(gradSumSquares[0]);
  let clip = select(1.0, p.maxGradNorm / norm, p.maxGradNorm > 0.0 && norm > p.maxGradNorm);
  let g = grad[i] * clip;
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let mHat = mi / p.mCorrection;
  let vHat = vi / p.vCorrection;
  param[i] -= p.lr * (mHat / (sqrt(vHat) + p.eps) + p.weightDecay * param[i]);`,
}, ['gradSumSquares']);

// The bias of a linear layer (Qwen2's q, k and v projections), added after the matrix product.
import type { Kernel } from '../kernel.ts';

/** out[N,OC] += bias[OC] on every row; one invocation per element */
export const biasForward: Kernel = {
  name: 'bias_forward',
  bindings: { out: 'write f32', bias: 'read f32' },
  params: { OC: 'u32' },
  body: `
  out[i] += bias[i % p.OC];`,
};

/** dbias[OC] += sum over n of dout[n, :]; one invocation per channel */
export const biasBackward: Kernel = {
  name: 'bias_backward',
  bindings: { dbias: 'write f32', dout: 'read f32' },
  params: { N: 'u32', OC: 'u32' },
  body: `
  var sum = 0.0;
  for (var n = 0u; n < p.N; n++) { sum += dout[n * p.OC + i]; }
  dbias[i] += sum;`,
};

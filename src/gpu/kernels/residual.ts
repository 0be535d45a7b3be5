// The residual stream: elementwise sums. Its backward is `accumulate` into both inputs.
import { elementwise } from '../kernel.ts';

/** out[n] = a[n] + b[n] */
export const residualForward = elementwise({
  name: 'residual_forward',
  bindings: { out: 'write f32', a: 'read f32', b: 'read f32' },
  params: {},
  body: `
  out[i] = a[i] + b[i];`,
});

/** dst[n] += src[n]; also the in-place residual out = out + b */
export const accumulate = elementwise({
  name: 'accumulate',
  bindings: { dst: 'write f32', src: 'read f32' },
  params: {},
  body: `
  dst[i] += src[i];`,
});

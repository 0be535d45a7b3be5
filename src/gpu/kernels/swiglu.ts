// SwiGLU gating: out = silu(gate) * up, elementwise over [N, H].
import { elementwise } from '../kernel.ts';

/** out[N,H] = silu(gate) * up */
export const swigluForward = elementwise({
  name: 'swiglu_forward',
  bindings: { out: 'write f32', gate: 'read f32', up: 'read f32' },
  params: {},
  body: `
  let g = gate[i];
  out[i] = g / (1.0 + exp(-g)) * up[i];`,
});

/** dgate[N,H] += dout * up * silu'(gate), dup[N,H] += dout * silu(gate) */
export const swigluBackward = elementwise({
  name: 'swiglu_backward',
  bindings: { dgate: 'write f32', dup: 'write f32', dout: 'read f32', gate: 'read f32', up: 'read f32' },
  params: {},
  body: `
  let g = gate[i];
  let sigmoid = 1.0 / (1.0 + exp(-g));
  dgate[i] += dout[i] * up[i] * sigmoid * (1.0 + g * (1.0 - sigmoid));
  dup[i] += dout[i] * g * sigmoid;`,
});

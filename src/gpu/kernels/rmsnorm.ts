// RMSNorm (no mean subtraction, no bias), as in Llama. Rows are reduced by one invocation each:
// lavapipe runs workgroup barriers slowly, and a row of C channels is short.
import type { Kernel } from '../kernel.ts';

/** out[N,C] = inp * rstd * weight[C], rstd[N] = 1 / sqrt(mean(inp^2) + eps); one invocation per row */
export const rmsnormForward: Kernel = {
  name: 'rmsnorm_forward',
  bindings: { out: 'write f32', rstd: 'write f32', inp: 'read f32', weight: 'read f32' },
  params: { C: 'u32', eps: 'f32' },
  body: `
  let row = i * p.C;
  var sum = 0.0;
  for (var c = 0u; c < p.C; c++) { sum += inp[row + c] * inp[row + c]; }
  let r = 1.0 / sqrt(sum / f32(p.C) + p.eps);
  rstd[i] = r;
  for (var c = 0u; c < p.C; c++) { out[row + c] = inp[row + c] * r * weight[c]; }`,
};

/** dinp[N,C] += rstd * (g - x̂ * mean(g * x̂)) with g = dout * weight, x̂ = inp * rstd; one invocation per row */
export const rmsnormBackwardInput: Kernel = {
  name: 'rmsnorm_backward_input',
  bindings: { dinp: 'write f32', dout: 'read f32', inp: 'read f32', weight: 'read f32', rstd: 'read f32' },
  params: { C: 'u32' },
  body: `
  let row = i * p.C;
  let r = rstd[i];
  var dot = 0.0;
  for (var c = 0u; c < p.C; c++) { dot += dout[row + c] * weight[c] * inp[row + c] * r; }
  let meanDot = dot / f32(p.C);
  for (var c = 0u; c < p.C; c++) {
    dinp[row + c] += r * (dout[row + c] * weight[c] - inp[row + c] * r * meanDot);
  }`,
};

/** dweight[C] += sum_n dout[n,c] * inp[n,c] * rstd[n]; one invocation per channel */
export const rmsnormBackwardWeight: Kernel = {
  name: 'rmsnorm_backward_weight',
  bindings: { dweight: 'write f32', dout: 'read f32', inp: 'read f32', rstd: 'read f32' },
  params: { N: 'u32', C: 'u32' },
  body: `
  var sum = 0.0;
  for (var n = 0u; n < p.N; n++) { sum += dout[n * p.C + i] * inp[n * p.C + i] * rstd[n]; }
  dweight[i] += sum;`,
};

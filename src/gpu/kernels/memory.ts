// Filling with a value other than zero needs a kernel; copies and clears are encoder commands.
import type { Kernel } from '../kernel.ts';

/** dst[n] = value */
export const fill: Kernel = {
  name: 'fill',
  bindings: { dst: 'write f32' },
  params: { value: 'f32' },
  body: `
  dst[i] = p.value;`,
};

// Filling with a value other than zero needs a kernel; copies and clears are encoder commands.
import { elementwise } from '../kernel.ts';

/** dst[n] = value */
export const fill = elementwise({
  name: 'fill',
  bindings: { dst: 'write f32' },
  params: { value: 'f32' },
  body: `
  dst[i] = ELEMENT(p.value);`,
});

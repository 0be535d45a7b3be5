// Central finite differences of a scalar loss, for checking backward passes.
import type { Backend, Tensor } from '../../src/backend/backend.ts';

/**
 * The largest |numeric - analytic[i]| / max(floor, |analytic[i]|) over the elements of `input`,
 * where numeric = (loss(x_i + step) - loss(x_i - step)) / (2 step), each element perturbed in place
 * on `backend` and restored afterwards.
 */
export async function worstGradientError(
  backend: Backend, input: Tensor, analytic: Float32Array, loss: () => Promise<number>, step: number, floor: number,
): Promise<number> {
  const values = await backend.read(input);
  let worst = 0;
  for (let i = 0; i < values.length; i++) {
    backend.write(input, Float32Array.of(values[i] + step), i);
    const plus = await loss();
    backend.write(input, Float32Array.of(values[i] - step), i);
    const minus = await loss();
    backend.write(input, Float32Array.of(values[i]), i);
    const numeric = (plus - minus) / (2 * step);
    worst = Math.max(worst, Math.abs(numeric - analytic[i]) / Math.max(floor, Math.abs(analytic[i])));
  }
  return worst;
}

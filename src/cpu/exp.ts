// exp(x) for the cpu kernels' softmaxes and gates, about twice as fast as Math.exp in V8 (which
// calls out to C for every element): x = (m + 64k)·ln2/64 + r with |r| <= ln2/128, so
// exp(x) = 2^(m/64 + k) · e^r, the power from a table and e^r from a cubic. Relative error below
// 1e-10, far inside float32's 6e-8; exact 0 below float32's underflow, Infinity above its overflow.

const STEPS = 64; // table entries per power of two
const LOWEST = -104; // exp(-104) is below the smallest float32
const HIGHEST = 88.8; // exp(88.8) is above the largest float32
const OFFSET = STEPS * 152; // table index of 2^0; covers (LOWEST .. HIGHEST) * log2(e)
const POWERS = Float64Array.from({ length: STEPS * 312 }, (_, i) => Math.pow(2, (i - OFFSET) / STEPS));
const STEPS_PER_NAT = STEPS / Math.LN2;
const NATS_PER_STEP = Math.LN2 / STEPS;

export function exp(x: number): number {
  if (x < LOWEST) return 0;
  if (x > HIGHEST) return Infinity;
  const m = (x * STEPS_PER_NAT + (OFFSET + 0.5)) | 0; // rounded to the nearest step, as a table index
  const r = x - (m - OFFSET) * NATS_PER_STEP;
  return POWERS[m] * (1 + r * (1 + r * (0.5 + r * (1 / 6))));
}

// The paper's fit of next-token accuracy against RL compute: P(C) = A / C^alpha + P*, where P*
// is the accuracy approached as compute grows. For a fixed alpha the model is linear in
// (A, P*), so least squares solves them in closed form; alpha is found by a grid over
// [ALPHA_MIN, ALPHA_MAX] in log space and refined by golden-section search around the best
// grid point. With A < 0 (accuracy rising with compute) P* is an upper asymptote.

export interface ScalingFit {
  a: number;
  alpha: number;
  pStar: number;
  r2: number; // 1 - residual / total sum of squares; NaN when the accuracies do not vary
  // alpha at an end of its search range: the points hold no curvature to fix it (a line, or
  // noise), so A and P* are extrapolations, not an asymptote
  atBound: boolean;
}

const ALPHA_MIN = 1e-3;
const ALPHA_MAX = 4;
const GRID = 400;
const REFINE_ITERATIONS = 60;

/** Least-squares fit of P(C) = A / C^alpha + P* to points with compute C > 0. */
export function fitScaling(compute: readonly number[], accuracy: readonly number[]): ScalingFit {
  if (compute.length !== accuracy.length) throw new Error(`scaling fit: ${compute.length} compute values for ${accuracy.length} accuracies`);
  if (compute.length < 3) throw new Error(`scaling fit: needs at least 3 points, got ${compute.length}`);
  const bad = compute.findIndex((c) => !(c > 0 && Number.isFinite(c)));
  if (bad >= 0) throw new Error(`scaling fit: compute must be positive and finite, point ${bad} has ${compute[bad]}`);
  const residual = (alpha: number) => linearFit(compute, accuracy, alpha).sse;
  const logMin = Math.log(ALPHA_MIN), logMax = Math.log(ALPHA_MAX);
  const alphaAt = (i: number) => Math.exp(logMin + ((logMax - logMin) * i) / GRID);
  let best = 0;
  for (let i = 1; i <= GRID; i++) if (residual(alphaAt(i)) < residual(alphaAt(best))) best = i;
  // Golden-section search between the grid neighbours of the best point.
  let low = alphaAt(Math.max(0, best - 1)), high = alphaAt(Math.min(GRID, best + 1));
  const ratio = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < REFINE_ITERATIONS; i++) {
    const x1 = high - ratio * (high - low), x2 = low + ratio * (high - low);
    if (residual(x1) < residual(x2)) high = x2;
    else low = x1;
  }
  const alpha = (low + high) / 2;
  const { a, pStar, sse } = linearFit(compute, accuracy, alpha);
  const mean = accuracy.reduce((total, p) => total + p, 0) / accuracy.length;
  const sst = accuracy.reduce((total, p) => total + (p - mean) ** 2, 0);
  return { a, alpha, pStar, r2: sst > 0 ? 1 - sse / sst : NaN, atBound: best === 0 || best === GRID };
}

export function scalingCurve(fit: ScalingFit, compute: number): number {
  return fit.a / compute ** fit.alpha + fit.pStar;
}

/** Ordinary least squares of accuracy on x = C^-alpha: slope A, intercept P*. */
function linearFit(compute: readonly number[], accuracy: readonly number[], alpha: number): { a: number; pStar: number; sse: number } {
  const n = compute.length;
  const x = compute.map((c) => c ** -alpha);
  const meanX = x.reduce((t, v) => t + v, 0) / n, meanY = accuracy.reduce((t, v) => t + v, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - meanX) * (accuracy[i] - meanY);
    sxx += (x[i] - meanX) ** 2;
  }
  const a = sxx > 0 ? sxy / sxx : 0;
  const pStar = meanY - a * meanX;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (accuracy[i] - (a * x[i] + pStar)) ** 2;
  return { a, pStar, sse };
}

// Confidence intervals for a proportion.

/**
 * The Wilson score interval for `successes` out of `trials` (95% for z = 1.96): unlike the
 * normal approximation it stays inside [0, 1] and is sensible at 0 or all successes.
 */
export function wilsonInterval(successes: number, trials: number, z = 1.96): { low: number; high: number } {
  if (trials === 0) return { low: 0, high: 1 };
  const p = successes / trials;
  const z2 = z * z;
  const center = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const halfWidth = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return { low: Math.max(0, center - halfWidth), high: Math.min(1, center + halfWidth) };
}

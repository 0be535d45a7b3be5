import { expect, test } from 'vitest';
import { fitScaling, scalingCurve } from '../src/eval/scaling-fit.ts';

const compute = [1e12, 2e12, 4e12, 8e12, 1.6e13, 3.2e13, 6.4e13];

test('it recovers the parameters of exact data with R^2 of 1', () => {
  const truth = { a: -300, alpha: 0.25, pStar: 0.45, r2: 1, atBound: false };
  const fit = fitScaling(compute, compute.map((c) => scalingCurve(truth, c)));
  expect(fit.atBound).toBe(false);
  expect(fit.alpha).toBeCloseTo(0.25, 4);
  expect(fit.a).toBeCloseTo(-300, 0);
  expect(fit.pStar).toBeCloseTo(0.45, 6);
  expect(fit.r2).toBeCloseTo(1, 9);
});

test('with noise it stays near the parameters and R^2 falls below 1', () => {
  const truth = { a: -0.8, alpha: 0.5, pStar: 0.3, r2: 1, atBound: false };
  const steps = [1, 2, 3, 4, 5, 6, 7, 8];
  const noise = [0.004, -0.003, 0.002, -0.004, 0.003, -0.002, 0.001, -0.001];
  const fit = fitScaling(steps, steps.map((c, i) => scalingCurve(truth, c) + noise[i]));
  expect(Math.abs(fit.alpha - 0.5)).toBeLessThan(0.1);
  expect(Math.abs(fit.pStar - 0.3)).toBeLessThan(0.03);
  expect(fit.r2).toBeGreaterThan(0.95);
  expect(fit.r2).toBeLessThan(1);
});

test('points without curvature (a line) leave alpha at an end of its range, and say so', () => {
  const fit = fitScaling([1e9, 2e9, 3e9], [0.3, 0.2, 0.1]);
  expect(fit.alpha).toBeCloseTo(1e-3, 6);
  expect(fit.atBound).toBe(true);
});

test('flat accuracies have no R^2, and bad input is refused with the cause', () => {
  expect(fitScaling([1, 2, 3], [0.5, 0.5, 0.5]).r2).toBeNaN();
  expect(() => fitScaling([1, 2], [0.1, 0.2])).toThrow('at least 3 points');
  expect(() => fitScaling([1, 0, 3], [0.1, 0.2, 0.3])).toThrow('point 1 has 0');
  expect(() => fitScaling([1, 2, 3], [0.1, 0.2])).toThrow('3 compute values for 2 accuracies');
});

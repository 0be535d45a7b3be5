// Learning rate: linear warmup to the peak, then cosine decay to a floor.

export interface LrSchedule {
  maxLr: number;
  minLr: number; // the floor reached at totalSteps and kept afterwards
  warmupSteps: number;
  totalSteps: number;
}

/** The learning rate of optimizer step `step` (1-based). */
export function learningRate(schedule: LrSchedule, step: number): number {
  const { maxLr, minLr, warmupSteps, totalSteps } = schedule;
  if (step <= warmupSteps) return (maxLr * step) / warmupSteps;
  if (step >= totalSteps) return minLr;
  const progress = (step - warmupSteps) / (totalSteps - warmupSteps);
  return minLr + (maxLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

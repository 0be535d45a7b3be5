// How a stage tells its caller how far it has come, and the reporter that shows it: on a
// terminal one line redrawn in place (step/total, loss or reward, tokens/s or rollouts/s, ETA),
// otherwise a plain log line every few seconds, so that a log file stays readable.

export interface Progress {
  stage: string; // e.g. `pretrain base`, `filter train`
  step: number; // units done: optimizer steps, or windows scored
  total: number;
  loss?: number;
  tokensPerSecond?: number;
  reward?: number; // RPT: the step's mean reward
  rolloutsPerSecond?: number; // RPT: rollouts sampled per wall second of the step
}

export type OnProgress = (progress: Progress) => void;

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class ProgressReporter {
  private stage = '';
  private started = 0; // when the current stage's first update came, and at which step
  private startStep = 0;
  private lastPrinted = -Infinity;
  private lineOpen = false;

  constructor(
    private readonly out: ProgressOutput = process.stderr,
    private readonly logEveryMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  readonly update: OnProgress = (progress) => {
    const now = this.now();
    if (progress.stage !== this.stage) {
      this.endLine();
      this.stage = progress.stage;
      this.started = now;
      this.startStep = progress.step;
      this.lastPrinted = -Infinity;
    }
    const finished = progress.step >= progress.total;
    const line = this.format(progress, now);
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
      this.lineOpen = true;
      if (finished) this.endLine();
    } else if (finished || now - this.lastPrinted >= this.logEveryMs) {
      this.out.write(`${line}\n`);
      this.lastPrinted = now;
    }
  };

  /** A message of its own, on its own line. */
  log(message: string): void {
    this.endLine();
    this.out.write(`${message}\n`);
  }

  /** Ends an open progress line, so that other output (stdout included) starts on a line of its own. */
  endLine(): void {
    if (this.lineOpen) this.out.write('\n');
    this.lineOpen = false;
  }

  private format(progress: Progress, now: number): string {
    const { stage, step, total, loss, tokensPerSecond, reward, rolloutsPerSecond } = progress;
    const parts = [`${stage} ${step}/${total}`];
    if (loss !== undefined) parts.push(`loss ${loss.toFixed(4)}`);
    if (reward !== undefined) parts.push(`reward ${reward.toFixed(3)}`);
    if (tokensPerSecond !== undefined) parts.push(`${Math.round(tokensPerSecond)} tok/s`);
    if (rolloutsPerSecond !== undefined) parts.push(`${rolloutsPerSecond.toFixed(1)} rollouts/s`);
    // The rate since this stage's first update: a resumed run's earlier steps took no time here.
    const done = step - this.startStep;
    if (done > 0 && step < total) parts.push(`ETA ${formatDuration(((now - this.started) / done) * (total - step))}`);
    return parts.join('  ');
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

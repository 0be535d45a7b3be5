import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { accuracy, BUCKETS, type Accuracy, type Bucket } from '../eval/next-token.ts';
import { fitScaling, scalingCurve, type ScalingFit } from '../eval/scaling-fit.ts';
import { lineChart, type Series } from './svg.ts';

// The report of a run, rebuilt from its metrics.jsonl alone: `report.md` with the RPT stage's
// figures, the accuracy of every arm per bucket with Wilson 95% intervals and the scaling fit,
// and the plots beside it: reward.svg, accuracy-<bucket>.svg and scaling-<bucket>.svg.
// A resumed stage writes some steps twice; the later line for a step (or evaluation point) wins.

interface RptStep {
  step: number;
  mean_reward: number;
  all_equal_fraction: number;
  response_length: number;
  rollouts?: number; // absent from lines written before the stage recorded it
  seconds: { sampling: number; verification: number; learning: number };
  wall_seconds: number;
  flops: number;
}

interface EvalLine {
  arm: string;
  mode: string;
  step: number;
  rl_flops: number;
  accuracy: Record<Bucket, { correct: number; total: number }>;
}

export interface ReportFiles {
  report: string;
  plots: string[];
}

/** Writes report.md and its plots into `runDir`; returns their paths. */
export async function writeReport(runDir: string): Promise<ReportFiles> {
  const { steps, points, rollouts } = await readRun(runDir);
  const files: Record<string, string> = {};
  const md: string[] = [`# Run ${basename(runDir)}`, '', 'Regenerate with `rpt report ' + runDir + '`.', ''];

  md.push('## RPT training', '');
  if (steps.length === 0) md.push('No RPT step was recorded.', '');
  else {
    files['reward.svg'] = lineChart({ title: 'Mean reward per step', xLabel: 'RPT step', yLabel: 'mean reward', series: [{ name: 'mean reward', points: steps.map((s) => [s.step, s.mean_reward]) }, { name: 'all-equal groups', points: steps.map((s) => [s.step, s.all_equal_fraction]), dashed: true }] });
    const total = { sampling: 0, verification: 0, learning: 0, wall: 0 };
    for (const s of steps) {
      total.sampling += s.seconds.sampling;
      total.verification += s.seconds.verification;
      total.learning += s.seconds.learning;
      total.wall += s.wall_seconds;
    }
    const split = total.sampling + total.verification + total.learning;
    const share = (x: number) => `${((100 * x) / split).toFixed(1)}%`;
    const last = steps[steps.length - 1];
    md.push('![reward](reward.svg)', '');
    md.push('| steps | wall s | rollouts/s | sampling | verification | learning | RL FLOPs | final mean reward |', '|---|---|---|---|---|---|---|---|');
    md.push(`| ${last.step} | ${total.wall.toFixed(1)} | ${rollouts === null ? 'n/a' : (rollouts / total.wall).toFixed(1)} | ${share(total.sampling)} | ${share(total.verification)} | ${share(total.learning)} | ${last.flops.toExponential(3)} | ${last.mean_reward.toFixed(3)} |`, '');
  }

  md.push('## Next-token accuracy on holdout positions', '');
  if (points.length === 0) md.push('No evaluation was recorded.', '');
  else {
    md.push('Accuracy % [Wilson 95% interval], n positions; reasoning mode is scored by prefix match.', '');
    md.push(`| arm | mode | step | ${BUCKETS.join(' | ')} |`, `|---|---|---|${BUCKETS.map(() => '---').join('|')}|`);
    for (const p of points) md.push(`| ${p.arm} | ${p.mode} | ${p.step} | ${BUCKETS.map((b) => formatAccuracy(bucketAccuracy(p, b))).join(' | ')} |`);
    md.push('');
    const maxStep = Math.max(1, ...points.map((p) => p.step));
    for (const bucket of BUCKETS) {
      const series: Series[] = groupBy(points, (p) => `${p.arm} ${p.mode}`).map(([name, group]) => {
        const byStep = group.map((p): [number, number] => [p.step, bucketAccuracy(p, bucket).accuracy]);
        // Base and the control are one set of weights each: a flat line across the steps.
        return group[0].arm === 'rpt' ? { name, points: byStep } : { name, points: [[0, byStep[0][1]], [maxStep, byStep[0][1]]], dashed: true };
      });
      files[`accuracy-${bucket}.svg`] = lineChart({ title: `Accuracy (${bucket}) vs RPT step`, xLabel: 'RPT step', yLabel: 'accuracy', series });
    }
    md.push(...BUCKETS.map((b) => `![accuracy ${b}](accuracy-${b}.svg)`), '');
    md.push(...scalingSection(points, files));
  }
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(runDir, name), text);
    written.push(join(runDir, name));
  }
  const report = join(runDir, 'report.md');
  await writeFile(report, `${md.join('\n')}\n`);
  return { report, plots: written };
}

/** The fit of RPT's accuracy against RL compute per bucket, in the mode RPT trains for (reasoning) and in standard mode. */
function scalingSection(points: EvalLine[], files: Record<string, string>): string[] {
  const md = ['## Scaling with RL compute', '', 'P(C) = A / C^alpha + P*, least squares over the RPT evaluation checkpoints (C in FLOPs).', ''];
  md.push('| mode | bucket | A | alpha | P* | R^2 | points |', '|---|---|---|---|---|---|---|');
  const plots: string[] = []; // after the table, which a line between its rows would end
  for (const mode of ['reasoning', 'standard']) {
    const rpt = points.filter((p) => p.arm === 'rpt' && p.mode === mode && p.rl_flops > 0);
    for (const bucket of BUCKETS) {
      if (rpt.length < 3) {
        md.push(`| ${mode} | ${bucket} | - | - | - | - | ${rpt.length} (a fit needs 3) |`);
        continue;
      }
      const compute = rpt.map((p) => p.rl_flops), acc = rpt.map((p) => bucketAccuracy(p, bucket).accuracy);
      const fit: ScalingFit = fitScaling(compute, acc);
      md.push(`| ${mode} | ${bucket} | ${fit.a.toExponential(3)} | ${fit.alpha.toFixed(3)}${fit.atBound ? ' (at bound: no fit)' : ''} | ${fit.pStar.toFixed(4)} | ${Number.isNaN(fit.r2) ? 'n/a (flat)' : fit.r2.toFixed(3)} | ${rpt.length} |`);
      if (mode === 'reasoning') {
        const curve = Array.from({ length: 50 }, (_, i): [number, number] => {
          const c = compute[0] * (compute[compute.length - 1] / compute[0]) ** (i / 49);
          return [c, scalingCurve(fit, c)];
        });
        files[`scaling-${bucket}.svg`] = lineChart({ title: `RPT reasoning accuracy (${bucket}) vs RL compute`, xLabel: 'RL FLOPs', yLabel: 'accuracy', logX: true, series: [{ name: 'measured', points: compute.map((c, i) => [c, acc[i]]) }, { name: 'fit', points: curve, dashed: true }] });
        plots.push(`![scaling ${bucket}](scaling-${bucket}.svg)`);
      }
    }
  }
  return [...md, '', ...plots, ''];
}

async function readRun(runDir: string): Promise<{ steps: RptStep[]; points: EvalLine[]; rollouts: number | null }> {
  try {
    if (!(await stat(runDir)).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw new Error(`${runDir}: cannot read the run directory (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const path = join(runDir, 'metrics.jsonl');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`${path}: cannot read the run's metrics (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const records = text.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as { stage?: string; rpt_hash?: string; eval_hash?: string } & Record<string, unknown>];
    } catch (error) {
      throw new Error(`${path}:${i + 1}: not a JSON line (${(error as Error).message})`);
    }
  });
  // A folder may hold several RPT runs (the experiment edited between runs): the report is of
  // the newest evaluation and the RPT run it evaluated, or else of the newest RPT run. Lines
  // written before the stages stamped their hashes have none, and count as one run.
  const lastEval = records.findLast((r) => r.stage === 'rpt-eval');
  const rptHash = lastEval ? lastEval.rpt_hash : records.findLast((r) => r.stage === 'rpt')?.rpt_hash;
  const steps = new Map<number, RptStep>();
  const points = new Map<string, EvalLine>();
  for (const record of records) {
    if (record.stage === 'rpt' && record.rpt_hash === rptHash) steps.set(record.step as number, record as unknown as RptStep);
    if (record.stage === 'rpt-eval' && record.eval_hash === lastEval?.eval_hash) {
      const point = record as unknown as EvalLine;
      points.set(`${point.arm}/${point.mode}/${point.step}`, point);
    }
  }
  const ordered = [...steps.values()].sort((a, b) => a.step - b.step);
  return { steps: ordered, points: [...points.values()], rollouts: ordered.every((s) => s.rollouts !== undefined) ? ordered.reduce((total, s) => total + s.rollouts!, 0) : null };
}

function bucketAccuracy(point: EvalLine, bucket: Bucket): Accuracy {
  const { correct, total } = point.accuracy[bucket];
  return accuracy(correct, total);
}

function formatAccuracy(a: Accuracy): string {
  return `${(100 * a.accuracy).toFixed(1)} [${(100 * a.low).toFixed(1)}, ${(100 * a.high).toFixed(1)}] n=${a.total}`;
}

function groupBy<T>(items: T[], key: (item: T) => string): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return [...groups.entries()];
}

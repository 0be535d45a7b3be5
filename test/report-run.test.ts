// The run report from a small hand-written metrics.jsonl: the tables, well-formed SVG plots,
// the scaling fit over the RPT checkpoints, and `rpt report` errors that name the path.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { reportCommand } from '../src/cli/report.ts';
import { writeReport, type ReportFiles } from '../src/report/report.ts';
import { temporaryDirectory } from './stages-fixture.ts';

let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let runDir: string;
let files: ReportFiles;

const bucketCounts = (correct: number) => ({ all: { correct, total: 100 }, easy: { correct: correct - 5, total: 80 }, medium: { correct: correct - 10, total: 60 }, hard: { correct: correct - 15, total: 40 } });

beforeAll(async () => {
  temp = await temporaryDirectory();
  runDir = join(temp.dir, 'fixture');
  await mkdir(runDir);
  const lines: object[] = [{ stage: 'pretrain', step: 1, loss: 3 }];
  for (let step = 1; step <= 6; step++) {
    lines.push({ stage: 'rpt', step, mean_reward: step / 10, all_equal_fraction: 0.5, rollouts: 32, seconds: { sampling: 2, verification: 0.5, learning: 1.5 }, wall_seconds: 4, flops: step * 1e9 });
  }
  lines.push({ stage: 'rpt', step: 6, mean_reward: 0.65, all_equal_fraction: 0.25, rollouts: 32, seconds: { sampling: 2, verification: 0.5, learning: 1.5 }, wall_seconds: 4, flops: 6e9 }); // a resumed step: the later line wins
  lines.push({ stage: 'rpt-eval', arm: 'base', mode: 'standard', step: 0, rl_flops: 0, accuracy: bucketCounts(40) });
  for (const [step, correct] of [[2, 30], [4, 38], [6, 42]]) lines.push({ stage: 'rpt-eval', arm: 'rpt', mode: 'reasoning', step, rl_flops: step * 1e9, accuracy: bucketCounts(correct) });
  lines.push({ stage: 'rpt-eval', arm: 'ntp_matched', mode: 'standard', step: 0, rl_flops: 6e9, accuracy: bucketCounts(41) });
  await writeFile(join(runDir, 'metrics.jsonl'), lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
  files = await writeReport(runDir);
});
afterAll(() => temp.remove());

test('the report holds the training figures, every arm per bucket with intervals and the scaling fit', async () => {
  const report = await readFile(files.report, 'utf8');
  expect(report).toContain('| 6 | 24.0 | 8.0 | 50.0% | 12.5% | 37.5% | 6.000e+9 | 0.650 |');
  expect(report).toContain('| base | standard | 0 | 40.0 [30.9, 49.8] n=100 |');
  expect(report).toContain('| ntp_matched | standard | 0 |');
  expect(report).toMatch(/\| reasoning \| all \| [-0-9.e+]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| 3 \|/);
  expect(report).toContain('| standard | all | - | - | - | - | 0 (a fit needs 3) |');
  // One table: its 8 rows (2 modes x 4 buckets) follow the header with no line between them.
  const table = report.slice(report.indexOf('| mode | bucket |')).split('\n\n')[0].split('\n');
  expect(table).toHaveLength(2 + 8);
});

test('of several RPT runs in one folder, the report is of the newest evaluation and the run it evaluated', async () => {
  const shared = join(temp.dir, 'two-runs');
  await mkdir(shared);
  const lines: object[] = [];
  for (const [rptHash, evalHash, steps, correct] of [['a', 'ea', 6, 20], ['b', 'eb', 3, 45]] as const) {
    for (let step = 1; step <= steps; step++) {
      lines.push({ stage: 'rpt', rpt_hash: rptHash, step, mean_reward: 0.5, all_equal_fraction: 0.5, rollouts: 32, seconds: { sampling: 2, verification: 0.5, learning: 1.5 }, wall_seconds: 4, flops: step * 1e9 });
    }
    lines.push({ stage: 'rpt-eval', rpt_hash: rptHash, eval_hash: evalHash, arm: 'base', mode: 'standard', step: 0, rl_flops: 0, accuracy: bucketCounts(correct) });
  }
  await writeFile(join(shared, 'metrics.jsonl'), lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
  const report = await readFile((await writeReport(shared)).report, 'utf8');
  expect(report).toContain('| 3 | 12.0 | 8.0 |');
  expect(report).not.toContain('| 6 | 24.0 |');
  expect(report).toContain('| base | standard | 0 | 45.0');
  expect(report).not.toContain('| base | standard | 0 | 20.0');
});

test('every plot is a well-formed SVG document with balanced elements', async () => {
  expect(files.plots.map((p) => p.slice(runDir.length + 1)).sort()).toEqual([
    'accuracy-all.svg', 'accuracy-easy.svg', 'accuracy-hard.svg', 'accuracy-medium.svg', 'reward.svg', 'scaling-all.svg', 'scaling-easy.svg', 'scaling-hard.svg', 'scaling-medium.svg',
  ]);
  for (const path of files.plots) {
    const svg = await readFile(path, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const opened = (svg.match(/<(svg|text)[ >]/g) ?? []).length, closed = (svg.match(/<\/(svg|text)>/g) ?? []).length;
    expect(opened).toBe(closed);
    expect(svg).not.toMatch(/NaN|Infinity/);
  }
  expect(await readFile(join(runDir, 'accuracy-hard.svg'), 'utf8')).toContain('rpt reasoning');
});

test('rpt report names the missing run directory, and the unreadable metrics, with the cause', async () => {
  const errors: string[] = [];
  const io = { out: () => {}, err: (text: string) => errors.push(text) };
  expect(await reportCommand.run([join(temp.dir, 'missing')], io)).toBe(1);
  expect(errors[0]).toBe(`rpt report: ${join(temp.dir, 'missing')}: cannot read the run directory (ENOENT)`);
  await mkdir(join(temp.dir, 'empty'));
  expect(await reportCommand.run([join(temp.dir, 'empty')], io)).toBe(1);
  expect(errors[1]).toBe(`rpt report: ${join(temp.dir, 'empty', 'metrics.jsonl')}: cannot read the run's metrics (ENOENT)`);
  expect(await reportCommand.run([], io)).toBe(2);
});

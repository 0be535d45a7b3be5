// What the `rpt run` tests share: the tiny experiment of stages-fixture.ts written to a file
// whose run goes beside it, cheap evaluation settings, and readers of the run's metrics.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TINY_EXPERIMENT } from './stages-fixture.ts';

// Evaluation on few documents and positions, so that a whole run takes seconds.
export const CHEAP_EVAL = ['eval.documents=10', 'eval.positions=20'];

/** Writes the tiny experiment (text edited by `edit`) to `<dir>/tiny.rpt` (creating `dir`), its output `<dir>/run`. */
export async function writeTinyExperiment(dir: string, edit: (text: string) => string = (text) => text): Promise<{ file: string; runDir: string }> {
  const file = join(dir, 'tiny.rpt');
  const runDir = join(dir, 'run');
  await mkdir(dir, { recursive: true });
  await writeFile(file, edit(TINY_EXPERIMENT).replace('seed 3', `seed 3\n  output ${JSON.stringify(runDir)}`));
  return { file, runDir };
}

export type Row = Record<string, unknown> & { stage: string; step: number };

/** metrics.jsonl's lines (none when it does not exist yet). */
export async function metricsRows(runDir: string): Promise<Row[]> {
  const text = await readFile(join(runDir, 'metrics.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
}

/** The RPT step lines by step; a step written twice (after a resume) counts by its later line. */
export async function rptSteps(runDir: string): Promise<Map<number, Row>> {
  return new Map((await metricsRows(runDir)).filter((row) => row.stage === 'rpt').map((row) => [row.step, row]));
}

/** Polls until `check` gives a value: the tests wait on files a run writes, never on a clock. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    await sleep(50);
  }
}

// `rpt status` on a run directory as `rpt run` leaves it: interrupted by its signal, finished,
// killed (a record naming a process that is gone); and `--fresh`, which moves the old run aside.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkFile } from '../dsl/check.ts';
import { RUN_FILE } from '../runtime/run-state.ts';
import { runExperiment, type RunOptions } from '../runtime/run.ts';
import { statusCommand } from '../src/cli/status.ts';
import { createBackend } from '../src/backend/select.ts';
import { CHEAP_EVAL, writeTinyExperiment } from './run-fixture.ts';
import { temporaryDirectory } from './stages-fixture.ts';

const backend = await createBackend('cpu');
const OVERRIDES = ['learner.steps=4', ...CHEAP_EVAL];
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let options: RunOptions;

beforeAll(async () => {
  temp = await temporaryDirectory();
  const { file, runDir } = await writeTinyExperiment(temp.dir);
  options = {
    file, overrides: OVERRIDES, ir: checkFile(file, { overrides: OVERRIDES }).ir!, runDir, baseDir: temp.dir, backend,
    fresh: false, watch: false, signal: new AbortController().signal, log: () => {},
  };
});
afterAll(async () => {
  backend.destroy();
  await temp.remove();
});

async function status(...args: string[]): Promise<{ code: number; text: string }> {
  let text = '';
  const code = await statusCommand.run(args, { out: (line) => (text += `${line}\n`), err: (line) => (text += `${line}\n`) });
  return { code, text };
}

describe('rpt status', () => {
  test('an interrupted run: its unfinished RPT stage with the checkpoint it stopped at, the last step, the config version', async () => {
    const controller = new AbortController();
    const onProgress = (p: { stage: string; step: number }) => {
      if (p.stage === 'rpt' && p.step === 2) controller.abort(new Error('stop'));
    };
    expect(await runExperiment({ ...options, signal: controller.signal, onProgress })).toMatchObject({ kind: 'interrupted', at: { stage: 'rpt', step: 2 } });
    const { code, text } = await status(options.runDir);
    expect(code).toBe(0);
    expect(text).toMatch(/^state: interrupted: interrupted in rpt at step 2; newest checkpoint .*step-000002$/m);
    expect(text).toMatch(/^ {2}pretrain base: 60 steps, holdout loss/m);
    expect(text).toMatch(/^ {2}rpt: unfinished \(rpt-[0-9a-f]{12}\), checkpoints at steps 2$/m);
    expect(text).toMatch(/^last RPT step: step 2, mean reward \d\.\d{3}, .*config version 1, weight version \d+/m);
    expect(text).toMatch(/^ {2}1 from step 1: policy \{"temperature":0\.8/m);
    expect(text).toContain(`resume with: rpt run ${options.file}`);
  }, 120_000);

  test('a finished run, and one whose process was killed', async () => {
    expect((await runExperiment(options)).kind).toBe('finished');
    let { text } = await status(options.runDir);
    expect(text).toMatch(/^state: finished: rpt run/m);
    expect(text).toMatch(/^ {2}rpt from base: 4 steps, .* resumed from step 2$/m);
    expect(text).toMatch(/^ {2}report: .*report\.md$/m);

    // A record left `running` by a process that no longer exists, as kill -9 leaves it.
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    const record = JSON.parse(await readFile(join(options.runDir, RUN_FILE), 'utf8'));
    await writeFile(join(options.runDir, RUN_FILE), JSON.stringify({ ...record, pid: gone, state: 'running' }));
    ({ text } = await status(options.runDir));
    expect(text).toContain(`state: interrupted: its process (pid ${gone}) ended without recording how: killed?`);
  }, 120_000);

  test('usage mistakes and a missing folder', async () => {
    expect((await status()).code).toBe(2);
    expect((await status('a', 'b')).code).toBe(2);
    const missing = await status(join(temp.dir, 'nowhere'));
    expect(missing).toEqual({ code: 1, text: `rpt status: ${join(temp.dir, 'nowhere')}: no such run directory\n` });
  });
});

describe('rpt run --fresh', () => {
  test('moves the earlier run aside, report included, and starts over', async () => {
    const logs: string[] = [];
    const outcome = await runExperiment({ ...options, fresh: true, log: (message) => logs.push(message) });
    expect(outcome.kind).toBe('finished');
    const aside = /^--fresh: the earlier run is now (.*)$/.exec(logs[0])![1];
    expect(aside.startsWith(`${options.runDir}.`)).toBe(true);
    expect(existsSync(join(aside, 'report.md'))).toBe(true);
    expect(outcome.kind === 'finished' && outcome.result.rpt!).toMatchObject({ cached: false, resumedFrom: null });
    expect(outcome.kind === 'finished' && outcome.result.pretrain.base.cached).toBe(false);
  }, 120_000);
});

// `rpt run` as a user runs it, in a child process: Ctrl-C stops at a step boundary with a
// checkpoint and exit status 0, a second Ctrl-C quits at once with 130, and running again resumes
// from the checkpoint, its evaluator thread evaluating checkpoints as they are written; a run killed with SIGKILL mid-RPT resumes to the metrics of a run that was
// never stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { statusCommand } from '../src/cli/status.ts';
import { CHEAP_EVAL, rptSteps, waitFor, writeTinyExperiment, type Row } from './run-fixture.ts';
import { temporaryDirectory } from './stages-fixture.ts';

const ROOT = new URL('..', import.meta.url).pathname;

interface Child {
  process: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function rpt(...args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const result: Child = { process: child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))) };
  child.stdout!.on('data', (chunk) => (result.stdout += chunk));
  child.stderr!.on('data', (chunk) => (result.stderr += chunk));
  return result;
}

const runArgs = (file: string, steps: number) => ['run', file, '--backend', 'cpu', '--set', `learner.steps=${steps}`, '--set', 'checkpoint.every=3', ...CHEAP_EVAL.flatMap((s) => ['--set', s])];
const firstRptStep = (runDir: string) => waitFor(async () => (await rptSteps(runDir)).size > 0);

let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
beforeAll(async () => {
  temp = await temporaryDirectory();
});
afterAll(async () => {
  await temp.remove();
});

async function status(runDir: string): Promise<string> {
  let text = '';
  expect(await statusCommand.run([runDir], { out: (line) => (text += `${line}\n`), err: (line) => (text += `${line}\n`) })).toBe(0);
  return text;
}

// The fields of a step line that do not depend on time.
const stable = (row: Row) => ({ ...row, time: undefined, seconds: undefined, wall_seconds: undefined });

describe('rpt run and signals', () => {
  test('the first Ctrl-C checkpoints the step reached and exits 0; running again resumes from it', async () => {
    const { file, runDir } = await writeTinyExperiment(join(temp.dir, 'sigint'));
    const first = rpt(...runArgs(file, 16));
    await firstRptStep(runDir);
    first.process.kill('SIGINT');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    const steps = await rptSteps(runDir);
    const reached = Math.max(...steps.keys());
    expect(reached).toBeLessThan(16);
    expect(first.stderr).toMatch(new RegExp(`interrupted in rpt at step ${reached}; newest checkpoint .*step-${String(reached).padStart(6, '0')}`));
    expect(first.stderr).toContain(`resume with: rpt run ${file}`);
    expect(await status(runDir)).toMatch(/^state: interrupted: interrupted in rpt at step \d+/m);

    const second = rpt(...runArgs(file, 16));
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.stdout).toContain(`rpt from base: 16 steps`);
    expect(second.stdout).toContain(`resumed from step ${reached}`);
    expect(second.stdout).toMatch(/^report: .*report\.md$/m);
    // The evaluator thread evaluated the last checkpoint while the run went on.
    expect(second.stderr).toMatch(/^rpt: step 16 evaluated: standard \d+\.\d% \(hard \d+\.\d%\), reasoning \d+\.\d% \(hard \d+\.\d%\)$/m);
    expect([...(await rptSteps(runDir)).keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
  }, 180_000);

  test('a second Ctrl-C quits at once with status 130', async () => {
    const { file, runDir } = await writeTinyExperiment(join(temp.dir, 'twice'));
    const child = rpt(...runArgs(file, 16));
    await firstRptStep(runDir);
    child.process.kill('SIGINT');
    await waitFor(async () => child.stderr.includes('Ctrl-C again to quit at once'));
    child.process.kill('SIGINT');
    expect((await child.exited).code).toBe(130);
  }, 120_000);

  test('killed with SIGKILL mid-RPT, a run resumes from its last checkpoint to the metrics of an uninterrupted one', async () => {
    const whole = await writeTinyExperiment(join(temp.dir, 'whole'));
    const killed = await writeTinyExperiment(join(temp.dir, 'killed'));
    const reference = rpt(...runArgs(whole.file, 16));
    expect(await reference.exited).toEqual({ code: 0, signal: null });

    const child = rpt(...runArgs(killed.file, 16));
    // Past the checkpoint at step 3 and before the end: steps after the checkpoint are lost.
    await waitFor(async () => (await rptSteps(killed.runDir)).has(4));
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    expect(await status(killed.runDir)).toMatch(/^state: interrupted: its process \(pid \d+\) ended without recording how: killed\?$/m);

    const resumed = rpt(...runArgs(killed.file, 16));
    expect(await resumed.exited).toEqual({ code: 0, signal: null });
    expect(resumed.stdout).toMatch(/rpt from base: 16 steps, .* FLOPs, resumed from step \d+$/m);
    const [a, b] = [await rptSteps(whole.runDir), await rptSteps(killed.runDir)];
    expect([...b.keys()].sort((x, y) => x - y)).toEqual([...a.keys()].sort((x, y) => x - y));
    for (const [step, row] of a) expect(stable(b.get(step)!), `step ${step}`).toEqual(stable(row));
    expect(resumed.stdout).toMatch(/^ {2}weights: .*rpt-[0-9a-f]{12}\/checkpoints\/step-000016$/m);
  }, 240_000);
});

// `rpt run`'s command line and what it refuses, in-process: a file with errors, usage mistakes,
// a run folder another live process is running in; and the RPT progress line.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkFile } from '../dsl/check.ts';
import { RUN_FILE } from '../runtime/run-state.ts';
import { runExperiment } from '../runtime/run.ts';
import { runCommand } from '../src/cli/run.ts';
import { createBackend } from '../src/backend/select.ts';
import { ProgressReporter } from '../src/stages/progress.ts';
import { writeTinyExperiment } from './run-fixture.ts';
import { temporaryDirectory } from './stages-fixture.ts';

let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
beforeAll(async () => {
  temp = await temporaryDirectory();
});
afterAll(async () => {
  await temp.remove();
});

async function run(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await runCommand.run(args, { out: () => {}, err: (text) => (stderr += `${text}\n`) });
  return { code, stderr };
}

describe('rpt run', () => {
  test('a file with errors is reported as rpt check reports it, and nothing runs', async () => {
    const { file, runDir } = await writeTinyExperiment(join(temp.dir, 'bad'), (text) => text.replace('steps 10', 'steps ten'));
    const { code, stderr } = await run(file, '--backend', 'cpu');
    expect(code).toBe(1);
    expect(stderr).toMatch(/tiny\.rpt:\d+:\d+: error: /);
    expect(existsSync(runDir)).toBe(false);
  });

  test('usage mistakes exit with 2 and the usage line', async () => {
    for (const args of [[], ['a.rpt', 'b.rpt'], ['a.rpt', '--backend', 'tpu'], ['a.rpt', '--fast']]) {
      const { code, stderr } = await run(...args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toContain('usage: rpt run <file.rpt> [--backend cpu|webgpu|auto] [--set path=value]... [--fresh] [--watch]');
    }
  });

  test('a run folder another live process runs in is refused, its record untouched', async () => {
    const { file, runDir } = await writeTinyExperiment(join(temp.dir, 'busy'));
    await mkdir(runDir);
    const record = JSON.stringify({ pid: process.ppid, file, started: 'then', updated: 'then', state: 'running' });
    await writeFile(join(runDir, RUN_FILE), record);
    const backend = await createBackend('cpu');
    const options = { file, overrides: [], ir: checkFile(file).ir!, runDir, baseDir: temp.dir, backend, watch: false, signal: new AbortController().signal, log: () => {} };
    await expect(runExperiment({ ...options, fresh: false })).rejects.toThrow(`${runDir} is in use by another rpt run (pid ${process.ppid}, started then); stop it first`);
    await expect(runExperiment({ ...options, fresh: true })).rejects.toThrow(`${runDir} is in use by another rpt run (pid ${process.ppid})`);
    expect(await readFile(join(runDir, RUN_FILE), 'utf8')).toBe(record);
    backend.destroy();
  });

  test('the RPT progress line shows the mean reward, rollouts/s and the ETA', () => {
    const out = { text: '', isTTY: true, write: (text: string) => (out.text += text) };
    let clock = 0;
    const reporter = new ProgressReporter(out, 10_000, () => clock);
    reporter.update({ stage: 'rpt', step: 1, total: 10, reward: 0.25, rolloutsPerSecond: 12.5 });
    clock += 2000;
    reporter.update({ stage: 'rpt', step: 2, total: 10, reward: 0.375, rolloutsPerSecond: 16 });
    expect(out.text).toBe('\r\x1b[2Krpt 1/10  reward 0.250  12.5 rollouts/s' + '\r\x1b[2Krpt 2/10  reward 0.375  16.0 rollouts/s  ETA 16s');
  });
});

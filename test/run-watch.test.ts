// `rpt run --watch`, driven in-process through runExperiment on the tiny experiment: edits are
// written to the file when the run reaches a step, and the test waits on the run's own events
// (its log, progress and stage results), never on a clock. Each run is ended through its signal.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkFile } from '../dsl/check.ts';
import { runExperiment, type RunOutcome } from '../runtime/run.ts';
import { checkpointDir } from '../src/checkpoint/checkpoint.ts';
import { createBackend } from '../src/backend/select.ts';
import type { StageDone } from '../src/stages/pipeline.ts';
import type { Progress } from '../src/stages/progress.ts';
import { CHEAP_EVAL, metricsRows, rptSteps, writeTinyExperiment } from './run-fixture.ts';
import { temporaryDirectory } from './stages-fixture.ts';

const backend = await createBackend('cpu');
let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
beforeAll(async () => {
  temp = await temporaryDirectory();
});
afterAll(async () => {
  backend.destroy();
  await temp.remove();
});

// More steps than any test lets the run take.
const OVERRIDES = ['learner.steps=400', ...CHEAP_EVAL];

interface Watched {
  runDir: string;
  logs: string[];
  outcome: Promise<RunOutcome>;
  edit(change: (text: string) => string): void; // rewrites the experiment file from the original text
}

interface Hooks {
  log?: (message: string, run: Watched) => void;
  onProgress?: (progress: Progress, run: Watched) => void;
  onStage?: (done: StageDone, run: Watched) => void;
}

async function watchedRun(name: string, controller: AbortController, hooks: Hooks): Promise<Watched> {
  const dir = join(temp.dir, name);
  const { file, runDir } = await writeTinyExperiment(dir);
  const run: Watched = {
    runDir,
    logs: [],
    outcome: Promise.resolve({ kind: 'interrupted', at: null, checkpoint: null }),
    edit: (change) => void writeTinyExperiment(dir, change),
  };
  run.outcome = runExperiment({
    file, overrides: OVERRIDES, ir: checkFile(file, { overrides: OVERRIDES }).ir!, runDir, baseDir: dir, backend,
    fresh: false, watch: true, signal: controller.signal, debounceMs: 50,
    log: (message) => {
      run.logs.push(message);
      hooks.log?.(message, run);
    },
    onProgress: (progress) => hooks.onProgress?.(progress, run),
    onStage: (done) => hooks.onStage?.(done, run),
  });
  return run;
}

describe('rpt run --watch', () => {
  test('a broken edit is rejected and the run goes on; a temperature edit is applied at the next step as config version 2', async () => {
    const controller = new AbortController();
    let phase: 'running' | 'broken' | 'fixed' = 'running';
    let appliedFrom = 0;
    const run = await watchedRun('live', controller, {
      onProgress: (p, run) => {
        if (p.stage !== 'rpt') return;
        if (phase === 'running' && p.step >= 2) {
          phase = 'broken';
          run.edit((t) => t.replace('answer up to 4 tokens', 'answer up to 4 tokens, temperature hot'));
        }
        if (appliedFrom > 0 && p.step > appliedFrom) controller.abort(new Error('enough'));
      },
      log: (message, run) => {
        if (phase === 'broken' && message.includes('edit rejected')) {
          phase = 'fixed';
          run.edit((t) => t.replace('answer up to 4 tokens', 'answer up to 4 tokens, temperature 0.5'));
        }
        const applied = /^rpt: config version 2 in force from step (\d+)$/.exec(message);
        if (applied) appliedFrom = Number(applied[1]);
      },
    });
    expect((await run.outcome).kind).toBe('interrupted');

    expect(run.logs.find((m) => m.includes('edit rejected'))).toMatch(/tiny\.rpt:\d+:\d+: error: /);
    expect(run.logs.join('\n')).toContain('policy.temperature: 0.8 -> 0.5 (live: next step)');
    const config = (await metricsRows(run.runDir)).filter((row) => row.stage === 'rpt-config');
    expect(config.map((row) => [row.config_version, row.step, (row.policy as { temperature: number }).temperature])).toEqual([[1, 1, 0.8], [2, appliedFrom, 0.5]]);
    const steps = [...(await rptSteps(run.runDir)).values()];
    expect(steps.length).toBeGreaterThan(appliedFrom);
    for (const row of steps) expect(row.config_version, `step ${row.step}`).toBe(row.step < appliedFrom ? 1 : 2);
  }, 120_000);

  test('a model-shape edit stops RPT with a checkpoint and restarts the stages, reusing those it does not touch', async () => {
    const controller = new AbortController();
    let edited = false;
    let restarted = false;
    let reached = 0;
    const after: StageDone[] = [];
    const run = await watchedRun('structural', controller, {
      onProgress: (p, run) => {
        if (p.stage !== 'rpt' || restarted) return;
        reached = p.step;
        if (p.step >= 2 && !edited) {
          edited = true;
          run.edit((t) => t.replace('dim 32', 'dim 48'));
        }
      },
      log: (message) => {
        if (message.startsWith('restarting the stages')) restarted = true;
      },
      onStage: (done) => {
        if (!restarted) return;
        after.push(done);
        if (done.stage === 'pretrain') controller.abort(new Error('enough'));
      },
    });
    expect((await run.outcome).kind).toBe('interrupted');
    expect(run.logs.join('\n')).toContain('models.base.transformer.dim: 32 -> 48 (structural: restart from the last checkpoint)');
    // The RPT stage stopped at a step boundary and kept the step it had reached.
    const rptDir = (await readdir(join(run.runDir, 'stages'))).find((name) => name.startsWith('rpt-'))!;
    expect(existsSync(checkpointDir(join(run.runDir, 'stages', rptDir), reached))).toBe(true);
    expect(after.map((done) => [done.stage, 'cached' in done.result && done.result.cached])).toEqual([['tokenizer', true], ['data', true], ['pretrain', false]]);
  }, 120_000);
});

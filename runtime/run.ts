import { mkdir } from 'node:fs/promises';
import { renderDiagnostic } from '../dsl/diagnostics.ts';
import type { ExperimentIR } from '../dsl/ir.ts';
import type { Backend } from '../src/backend/backend.ts';
import { runStages, type StageDone, type StagesResult } from '../src/stages/pipeline.ts';
import type { OnProgress } from '../src/stages/progress.ts';
import type { EvaluatorFactory, LiveSource, RptConfig, RptLoopFactory } from '../src/stages/rpt.ts';
import { ExperimentWatcher, type ReloadEvent } from './reload.ts';
import { claimRun, endRun, moveRunAside, resumePoint } from './run-state.ts';

// `rpt run`'s work, apart from the command line: every stage of an experiment in order
// (tokenizer, data, pre-training, filter, evaluation, RPT, RPT evaluation, report), each reused
// when cached and resumed from its checkpoints when unfinished, with the file optionally watched:
//
// - a rejected edit is reported with its diagnostics, and the run goes on with the last good version;
// - a live-safe edit (runtime/reload.ts) reaches the RPT stage at its next step boundary, which
//   applies it through the loop's reconfigure() as a new config version;
// - a structural edit stops the current stage at a step boundary (the RPT stage writes a
//   checkpoint first) and the stages run again with the new version: those whose inputs did not
//   change are reused from their cache.
//
// The caller's signal (Ctrl-C) stops the same way, and the run ends as interrupted, to be resumed
// by running it again.

export interface RunOptions {
  file: string;
  overrides: string[]; // `--set` texts, applied to every version of the file
  ir: ExperimentIR; // the file as checked with the overrides
  runDir: string;
  baseDir: string;
  backend: Backend;
  fresh: boolean; // move an earlier run in runDir aside first
  watch: boolean;
  signal: AbortSignal; // stops at the next step boundary, with a checkpoint
  log: (message: string) => void;
  onProgress?: OnProgress;
  onStage?: (done: StageDone, ir: ExperimentIR) => void;
  loop?: RptLoopFactory; // the RPT stage's loop; RptLoop by default
  evaluator?: EvaluatorFactory; // the RPT stage's checkpoint evaluator; none by default
  debounceMs?: number; // of the file watch
}

export type RunOutcome =
  | { kind: 'finished'; result: StagesResult; restarts: number }
  | { kind: 'interrupted'; at: { stage: string; step: number } | null; checkpoint: string | null };

export async function runExperiment(options: RunOptions): Promise<RunOutcome> {
  const { file, runDir, baseDir, backend, log } = options;
  if (options.fresh) {
    const aside = await moveRunAside(runDir);
    if (aside) log(`--fresh: the earlier run is now ${aside}`);
  }
  await mkdir(runDir, { recursive: true });
  const record = await claimRun(runDir, file);

  let ir = options.ir;
  let restart = new AbortController();
  let next: ExperimentIR | null = null; // a structural edit waiting for the stages to stop
  let at = null as { stage: string; step: number } | null; // the last step reported
  const onReload = (event: ReloadEvent): void => {
    if (event.kind === 'rejected') {
      log(`${file}: edit rejected, the run goes on with the last good version:\n${event.diagnostics.map(renderDiagnostic).join('\n')}`);
      return;
    }
    log(`${file}: edit ${event.configVersion} accepted${event.restart ? ', restarting the stages at the next step boundary' : ''}:\n${event.changes.map((c) => `  ${c.description}`).join('\n')}`);
    if (event.ir.output !== ir.output) log(`  output changes on the next rpt run; this one keeps writing to ${runDir}`);
    if (event.restart) {
      next = event.ir;
      restart.abort(new Error('restart'));
    }
  };
  let live: LiveSource | undefined;
  const onConfig = (config: RptConfig): void => {
    if (config.configVersion > 1) log(`rpt: config version ${config.configVersion} in force from step ${config.step}`);
  };
  const onProgress: OnProgress = (progress) => {
    at = { stage: progress.stage, step: progress.step };
    options.onProgress?.(progress);
  };

  let restarts = 0;
  let watcher: ExperimentWatcher | null = null;
  try {
    // The file may have changed since the caller checked it: the watcher checks it again.
    if (options.watch) {
      const watched = new ExperimentWatcher(file, onReload, { overrides: options.overrides, debounceMs: options.debounceMs });
      watcher = watched;
      ir = watched.current;
      live = { current: () => ({ ir: watched.current, revision: watched.configVersion }) };
    }
    for (;;) {
      const signal = AbortSignal.any([options.signal, restart.signal]);
      const current = ir;
      try {
        const result = await runStages(current, 'all', {
          runDir, baseDir, backend, signal, onProgress, live, onConfig, loop: options.loop, evaluator: options.evaluator, log,
          onStage: (done) => options.onStage?.(done, current),
        });
        await endRun(runDir, record, 'finished');
        return { kind: 'finished', result, restarts };
      } catch (error) {
        if (options.signal.aborted) {
          const point = await resumePoint(runDir);
          const where = at ? `${at.stage} at step ${at.step}` : 'before any step';
          await endRun(runDir, record, 'interrupted', `interrupted in ${where}${point ? `; newest checkpoint ${point.dir}` : ''}`);
          return { kind: 'interrupted', at, checkpoint: point?.dir ?? null };
        }
        if (!restart.signal.aborted || next === null) throw error;
        ir = next;
        next = null;
        restart = new AbortController();
        restarts++;
        log('restarting the stages with the new version; unchanged ones are reused');
      }
    }
  } catch (error) {
    await endRun(runDir, record, 'failed', (error as Error).message);
    throw error;
  } finally {
    watcher?.close();
  }
}

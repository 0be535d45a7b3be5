import { dirname, resolve } from 'node:path';
import { checkFile } from '../../dsl/check.ts';
import { renderDiagnostic } from '../../dsl/diagnostics.ts';
import type { ExperimentIR } from '../../dsl/ir.ts';
import { BUCKETS } from '../eval/next-token.ts';
import { formatHistogram } from '../stages/filter.ts';
import type { StageDone } from '../stages/pipeline.ts';
import { ProgressReporter } from '../stages/progress.ts';
import { liveDifferences, rptLiveValues } from '../stages/rpt.ts';
import { processIo, type Io } from './io.ts';

// What the commands that run an experiment (`rpt stage`, `rpt run`) share: the --backend option,
// checking the file, where its run goes, the progress display and the printed stage results.

export const BACKEND_OPTION = { backend: { type: 'string' } } as const;
export const BACKEND_HELP = '  --backend KIND      cpu, webgpu, or auto (webgpu when an adapter exists; the default)';

// The shell's status for a process stopped by SIGINT.
export const EXIT_INTERRUPTED = 130;

export function backendProblem(backend: unknown): string | null {
  if (backend === undefined || backend === 'cpu' || backend === 'webgpu' || backend === 'auto') return null;
  return `--backend must be cpu, webgpu or auto, not "${backend}"`;
}

/** The checked experiment, or null after printing every diagnostic (the caller exits 1). */
export function checkExperiment(file: string, overrides: string[], io: Io): ExperimentIR | null {
  const checked = checkFile(file, { overrides });
  if (!checked.ir) for (const d of checked.diagnostics) io.err(`${renderDiagnostic(d)}\n`);
  return checked.ir;
}

/**
 * Where a run of `file` goes: its `output` setting (default runs/<name>), relative to the current
 * directory; and the folder that relative paths inside the file start from.
 */
export function runLocation(ir: ExperimentIR, file: string): { runDir: string; baseDir: string } {
  return { runDir: resolve(ir.output), baseDir: dirname(resolve(file)) };
}

/** Progress on stderr; on a terminal the line is redrawn in place, which needs the stream itself. */
export function progressReporter(io: Io): ProgressReporter {
  return new ProgressReporter(io === processIo ? process.stderr : { write: (text) => io.err(text.replace(/\n$/, '')) });
}

/**
 * A finished (or reused) stage's key results, as lines; `ir`, the experiment as it stands now, adds
 * a note when a reused RPT result ran under other live settings than the file's.
 */
export function formatStage(done: StageDone, ir?: ExperimentIR): string[] {
  const lines: string[] = [];
  const reused = (cached: boolean) => (cached ? ' (reused)' : '');
  switch (done.stage) {
    case 'tokenizer': {
      const t = done.result;
      lines.push(`tokenizer: ${t.path}, vocab ${t.vocabSize}${t.cached ? ' (reused)' : `, trained in ${t.trainSeconds.toFixed(2)} s`}`);
      break;
    }
    case 'data': {
      const d = done.result;
      lines.push(`data: train ${d.documents.train} documents, ${d.tokens.train} tokens; holdout ${d.documents.holdout} documents, ${d.tokens.holdout} tokens${reused(d.cached)}`);
      break;
    }
    case 'pretrain': {
      const p = done.result;
      const resumed = p.resumedFrom !== null && !p.cached ? `, resumed from step ${p.resumedFrom}` : '';
      const speed = p.cached ? '' : `, ${Math.round(p.tokensPerSecond)} tokens/s`;
      lines.push(`pretrain ${p.model}: ${p.steps} steps, holdout loss ${p.holdoutLoss.toFixed(4)}, perplexity ${p.perplexity.toFixed(3)}${speed}${resumed}${reused(p.cached)}`);
      lines.push(`  weights: ${p.checkpoint}`);
      break;
    }
    case 'filter': {
      const f = done.result;
      const share = f.trainPositions > 0 ? ((100 * f.kept) / f.trainPositions).toFixed(1) : '0';
      lines.push(`filter (proxy ${f.proxy}): kept ${f.kept} of ${f.trainPositions} train positions (${share}%)${reused(f.cached)}`);
      lines.push(`  holdout positions: ${BUCKETS.map((b) => `${b} ${f.holdoutBuckets[b]}`).join(', ')}`);
      lines.push('  train entropy histogram (nats):', indent(formatHistogram(f.histograms.train)));
      break;
    }
    case 'eval': {
      const e = done.result;
      lines.push(`eval ${e.model}: ${e.documents} holdout documents, loss ${e.holdoutLoss.toFixed(4)}, perplexity ${e.perplexity.toFixed(3)}${reused(e.cached)}`);
      for (const b of BUCKETS) {
        const a = e.accuracy[b];
        lines.push(`  ${b.padEnd(6)} accuracy ${(100 * a.accuracy).toFixed(2)}% [${(100 * a.low).toFixed(2)}, ${(100 * a.high).toFixed(2)}] of ${a.total}`);
      }
      break;
    }
    case 'rpt': {
      const r = done.result;
      const stepSeconds = r.seconds.sampling + r.seconds.verification + r.seconds.learning;
      const share = (s: number) => (stepSeconds > 0 ? `${((100 * s) / stepSeconds).toFixed(0)}%` : '-');
      lines.push(`rpt from ${r.policy}: ${r.steps} steps, ${(r.flops.sampling + r.flops.learning).toExponential(3)} FLOPs${r.resumedFrom !== null && !r.cached ? `, resumed from step ${r.resumedFrom}` : ''}${reused(r.cached)}`);
      if (!r.cached) lines.push(`  ${r.rollouts} rollouts, ${(r.rollouts / Math.max(stepSeconds, 1e-9)).toFixed(1)} rollouts/s; time in sampling ${share(r.seconds.sampling)}, verification ${share(r.seconds.verification)}, learning ${share(r.seconds.learning)}`);
      if (r.config.configVersion > 1) lines.push(`  config version ${r.config.configVersion} (live edits) from step ${r.config.step}`);
      // Live values are not stage inputs: a finished stage is reused whatever the file says now.
      const differ = ir ? liveDifferences(r.config.values, rptLiveValues(ir)) : [];
      if (r.cached && differ.length > 0) lines.push(`  note: finished with other ${differ.join(', ')} than the file now sets; move ${r.dir} aside to train with them`);
      lines.push(`  weights: ${r.checkpoint}`);
      break;
    }
    case 'rpt-eval': {
      const e = done.result;
      lines.push(`rpt-eval: ${e.positions} holdout positions${e.ntpMatched ? `; ntp_matched pre-trained ${e.ntpMatched.steps} steps (${e.ntpMatched.extraSteps} for RPT's FLOPs)` : ''}${reused(e.cached)}`);
      for (const p of e.points) {
        const cells = BUCKETS.map((b) => `${b} ${(100 * p.accuracy[b].accuracy).toFixed(1)}% [${(100 * p.accuracy[b].low).toFixed(1)}, ${(100 * p.accuracy[b].high).toFixed(1)}] n=${p.accuracy[b].total}`);
        lines.push(`  ${`${p.arm} ${p.mode}${p.arm === 'rpt' ? ` @${p.step}` : ''}`.padEnd(22)} ${cells.join('  ')}`);
      }
      break;
    }
    case 'report':
      lines.push(`report: ${done.result.report}`);
      break;
  }
  return lines;
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line}`).join('\n');
}

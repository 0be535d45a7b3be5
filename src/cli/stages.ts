import { dirname, resolve } from 'node:path';
import { checkFile } from '../../dsl/check.ts';
import { renderDiagnostic } from '../../dsl/diagnostics.ts';
import type { ExperimentIR } from '../../dsl/ir.ts';
import type { Backend } from '../backend/backend.ts';
import { createBackend, type BackendKind } from '../backend/select.ts';
import { BUCKETS } from '../eval/next-token.ts';
import { formatHistogram } from '../stages/filter.ts';
import { runStages, STAGE_TARGETS, type StagesResult, type StageTarget } from '../stages/pipeline.ts';
import { formatDuration, ProgressReporter } from '../stages/progress.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, processIo, type Command, type Io } from './io.ts';
import { parseOptions, SET_OPTION } from './options.ts';

// `rpt stage <tokenizer|pretrain|filter|eval|all> <file.rpt>`: checks the experiment file, runs
// the stages up to the one named, shows progress on stderr and prints the results on stdout.
// Ctrl-C stops at the next step; checkpoints already written stay, and the next run resumes
// from them.

const usage = `usage: rpt stage <${STAGE_TARGETS.join('|')}> <file.rpt> [--backend cpu|webgpu|auto] [--set path=value]...

Runs the stages of an experiment up to the one named; each is reused when an earlier run
computed it from the same inputs. Results go to the experiment's output folder (default
runs/<name>); docs/stages.md describes them.
  --backend KIND      cpu, webgpu, or auto (webgpu when an adapter exists; the default)
  --set path=value    override an entry of the file, e.g. --set model.base.pretrain.steps=50`;

export const stageCommand: Command = {
  name: 'stage',
  summary: 'run tokenizer, pre-training, entropy filter, next-token evaluation or RPT',
  usage,
  async run(args, io) {
    const parsed = parseOptions(args, { backend: { type: 'string' }, ...SET_OPTION });
    if ('error' in parsed) return usageError(io, parsed.error);
    const problem = usageProblem(parsed.positionals, parsed.values.backend);
    if (problem !== null) return usageError(io, problem);
    const [target, file] = parsed.positionals as [StageTarget, string];
    const checked = checkFile(file, { overrides: (parsed.values.set as string[] | undefined) ?? [] });
    if (!checked.ir) {
      for (const d of checked.diagnostics) io.err(`${renderDiagnostic(d)}\n`);
      return EXIT_INVALID;
    }
    return runTarget(checked.ir, target, file, (parsed.values.backend as BackendKind | undefined) ?? 'auto', io);
  },
};

function usageError(io: Io, problem: string): number {
  io.err(`rpt stage: ${problem}\n${usage}`);
  return EXIT_USAGE;
}

function usageProblem(positionals: string[], backend: unknown): string | null {
  const [target, file, ...extra] = positionals;
  if (!target || !file) return 'a stage and an experiment file are needed';
  if (!(STAGE_TARGETS as readonly string[]).includes(target)) return `unknown stage "${target}"`;
  if (extra.length > 0) return `unexpected argument "${extra[0]}"`;
  if (backend !== undefined && backend !== 'cpu' && backend !== 'webgpu' && backend !== 'auto') return `--backend must be cpu, webgpu or auto, not "${backend}"`;
  return null;
}

async function runTarget(ir: ExperimentIR, target: StageTarget, file: string, backendKind: BackendKind, io: Io): Promise<number> {
  const started = performance.now();
  const controller = new AbortController();
  const interrupt = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt);
  // On a terminal the progress line is redrawn in place, which needs the stream itself.
  const reporter = new ProgressReporter(io === processIo ? process.stderr : { write: (text) => io.err(text.replace(/\n$/, '')) });
  let backend: Backend | undefined;
  try {
    backend = await createBackend(backendKind);
    reporter.log(`${ir.name}: ${target} on ${backend.description}`);
    const result = await runStages(ir, target, {
      runDir: resolve(ir.output),
      baseDir: dirname(resolve(file)),
      backend,
      onProgress: reporter.update,
      signal: controller.signal,
    });
    io.out(`${formatResults(result)}\nwall time ${formatDuration(performance.now() - started)}`);
    return EXIT_OK;
  } catch (error) {
    const message = controller.signal.aborted ? 'interrupted; checkpoints written so far are kept and the next run resumes from them' : (error as Error).message;
    reporter.log(`rpt stage: ${message}`);
    return controller.signal.aborted ? EXIT_INTERRUPTED : EXIT_INVALID;
  } finally {
    process.removeListener('SIGINT', interrupt);
    backend?.destroy();
  }
}

// The shell's status for a process stopped by SIGINT.
const EXIT_INTERRUPTED = 130;

function formatResults(result: StagesResult): string {
  const lines: string[] = [];
  const reused = (cached: boolean) => (cached ? ' (reused)' : '');
  const { tokenizer, data, filter } = result;
  lines.push(`tokenizer: ${tokenizer.path}, vocab ${tokenizer.vocabSize}${tokenizer.cached ? ' (reused)' : `, trained in ${tokenizer.trainSeconds.toFixed(2)} s`}`);
  if (data) lines.push(`data: train ${data.documents.train} documents, ${data.tokens.train} tokens; holdout ${data.documents.holdout} documents, ${data.tokens.holdout} tokens${reused(data.cached)}`);
  for (const p of Object.values(result.pretrain)) {
    const resumed = p.resumedFrom !== null && !p.cached ? `, resumed from step ${p.resumedFrom}` : '';
    const speed = p.cached ? '' : `, ${Math.round(p.tokensPerSecond)} tokens/s`;
    lines.push(`pretrain ${p.model}: ${p.steps} steps, holdout loss ${p.holdoutLoss.toFixed(4)}, perplexity ${p.perplexity.toFixed(3)}${speed}${resumed}${reused(p.cached)}`);
    lines.push(`  weights: ${p.checkpoint}`);
  }
  if (filter) {
    const share = filter.trainPositions > 0 ? ((100 * filter.kept) / filter.trainPositions).toFixed(1) : '0';
    lines.push(`filter (proxy ${filter.proxy}): kept ${filter.kept} of ${filter.trainPositions} train positions (${share}%)${reused(filter.cached)}`);
    lines.push(`  holdout positions: ${BUCKETS.map((b) => `${b} ${filter.holdoutBuckets[b]}`).join(', ')}`);
    lines.push('  train entropy histogram (nats):', indent(formatHistogram(filter.histograms.train)));
  }
  for (const e of Object.values(result.eval)) {
    lines.push(`eval ${e.model}: ${e.documents} holdout documents, loss ${e.holdoutLoss.toFixed(4)}, perplexity ${e.perplexity.toFixed(3)}${reused(e.cached)}`);
    for (const b of BUCKETS) {
      const a = e.accuracy[b];
      lines.push(`  ${b.padEnd(6)} accuracy ${(100 * a.accuracy).toFixed(2)}% [${(100 * a.low).toFixed(2)}, ${(100 * a.high).toFixed(2)}] of ${a.total}`);
    }
  }
  if (result.rpt) {
    const r = result.rpt;
    const stepSeconds = r.seconds.sampling + r.seconds.verification + r.seconds.learning;
    const share = (s: number) => (stepSeconds > 0 ? `${((100 * s) / stepSeconds).toFixed(0)}%` : '-');
    lines.push(`rpt from ${r.policy}: ${r.steps} steps, ${(r.flops.sampling + r.flops.learning).toExponential(3)} FLOPs${r.resumedFrom !== null && !r.cached ? `, resumed from step ${r.resumedFrom}` : ''}${reused(r.cached)}`);
    if (!r.cached) lines.push(`  ${r.rollouts} rollouts, ${(r.rollouts / Math.max(stepSeconds, 1e-9)).toFixed(1)} rollouts/s; time in sampling ${share(r.seconds.sampling)}, verification ${share(r.seconds.verification)}, learning ${share(r.seconds.learning)}`);
    lines.push(`  weights: ${r.checkpoint}`);
  }
  if (result.rptEval) {
    const e = result.rptEval;
    lines.push(`rpt-eval: ${e.positions} holdout positions${e.ntpMatched ? `; ntp_matched pre-trained ${e.ntpMatched.steps} steps (${e.ntpMatched.extraSteps} for RPT's FLOPs)` : ''}${reused(e.cached)}`);
    for (const p of e.points) {
      const cells = BUCKETS.map((b) => `${b} ${(100 * p.accuracy[b].accuracy).toFixed(1)}% [${(100 * p.accuracy[b].low).toFixed(1)}, ${(100 * p.accuracy[b].high).toFixed(1)}] n=${p.accuracy[b].total}`);
      lines.push(`  ${`${p.arm} ${p.mode}${p.arm === 'rpt' ? ` @${p.step}` : ''}`.padEnd(22)} ${cells.join('  ')}`);
    }
  }
  if (result.report) lines.push(`report: ${result.report.report}`);
  return lines.join('\n');
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line}`).join('\n');
}

import { dirname, resolve } from 'node:path';
import { checkFile } from '../../dsl/check.ts';
import { renderDiagnostic } from '../../dsl/diagnostics.ts';
import { createBackend, type BackendKind } from '../backend/select.ts';
import { BUCKETS } from '../eval/next-token.ts';
import { formatHistogram } from '../stages/filter.ts';
import { runStages, STAGE_TARGETS, type StagesResult, type StageTarget } from '../stages/pipeline.ts';
import { formatDuration, ProgressReporter, type ProgressOutput } from '../stages/progress.ts';

// `rpt stage <tokenizer|pretrain|filter|eval|all> <file.rpt> [--backend cpu|webgpu|auto]
// [--set path=value]...`: checks the experiment file, runs the stages up to the one named (each
// reused when an earlier run computed it with the same inputs), shows progress on stderr and
// prints the results on stdout. Ctrl-C stops at the next step; checkpoints already written stay,
// and the next run resumes from them.

export const STAGE_USAGE = `usage: rpt stage <${STAGE_TARGETS.join('|')}> <file.rpt> [--backend cpu|webgpu|auto] [--set path=value]...`;

export interface CommandIO {
  stdout: ProgressOutput;
  stderr: ProgressOutput;
}

/** Runs the command; resolves to the process exit code. */
export async function stageCommand(args: string[], io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    io.stderr.write(`rpt stage: ${parsed}\n${STAGE_USAGE}\n`);
    return 2;
  }
  const checked = checkFile(parsed.file, { overrides: parsed.overrides });
  if (!checked.ir) {
    io.stderr.write(`${checked.diagnostics.map(renderDiagnostic).join('\n\n')}\n`);
    return 1;
  }
  const ir = checked.ir;
  const started = performance.now();
  const controller = new AbortController();
  const interrupt = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt);
  const reporter = new ProgressReporter(io.stderr);
  let backend;
  try {
    backend = await createBackend(parsed.backend);
    reporter.log(`${ir.name}: ${parsed.target} on ${backend.description}`);
    const result = await runStages(ir, parsed.target, {
      runDir: resolve(ir.output),
      baseDir: dirname(resolve(parsed.file)),
      backend,
      onProgress: reporter.update,
      signal: controller.signal,
    });
    io.stdout.write(`${formatResults(result)}\nwall time ${formatDuration(performance.now() - started)}\n`);
    return 0;
  } catch (error) {
    const message = controller.signal.aborted ? 'interrupted; checkpoints written so far are kept and the next run resumes from them' : (error as Error).message;
    reporter.log(`rpt stage: ${message}`);
    return controller.signal.aborted ? 130 : 1;
  } finally {
    process.removeListener('SIGINT', interrupt);
    backend?.destroy();
  }
}

interface StageArgs {
  target: StageTarget;
  file: string;
  backend: BackendKind;
  overrides: string[];
}

function parseArgs(args: string[]): StageArgs | string {
  const positional: string[] = [];
  const overrides: string[] = [];
  let backend: BackendKind = 'auto';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const option = /^--(backend|set)(?:=(.*))?$/s.exec(arg);
    if (option) {
      const value = option[2] ?? args[++i];
      if (value === undefined) return `--${option[1]} needs a value`;
      if (option[1] === 'set') overrides.push(value);
      else if (value === 'cpu' || value === 'webgpu' || value === 'auto') backend = value;
      else return `--backend must be cpu, webgpu or auto, not "${value}"`;
    } else if (arg.startsWith('-')) return `unknown option ${arg}`;
    else positional.push(arg);
  }
  const [target, file, ...extra] = positional;
  if (!target || !file) return 'a stage and an experiment file are needed';
  if (!(STAGE_TARGETS as readonly string[]).includes(target)) return `unknown stage "${target}"`;
  if (extra.length > 0) return `unexpected argument "${extra[0]}"`;
  return { target: target as StageTarget, file, backend, overrides };
}

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
  return lines.join('\n');
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line}`).join('\n');
}

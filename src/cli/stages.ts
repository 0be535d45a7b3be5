import type { ExperimentIR } from '../../dsl/ir.ts';
import type { Backend } from '../backend/backend.ts';
import { selectBackend, type BackendKind } from '../backend/select.ts';
import { runStages, STAGE_TARGETS, type StageDone, type StageTarget } from '../stages/pipeline.ts';
import { formatDuration } from '../stages/progress.ts';
import { BACKEND_HELP, BACKEND_OPTION, backendProblem, checkExperiment, EXIT_INTERRUPTED, formatStage, progressReporter, runLocation } from './experiment.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command, type Io } from './io.ts';
import { parseOptions, SET_OPTION } from './options.ts';

// `rpt stage <tokenizer|pretrain|filter|eval|rpt|rpt-eval|all> <file.rpt>`: checks the
// experiment file, runs the stages up to the one named with the single-process RPT loop (the
// reference `rpt run` is compared against), shows progress on stderr and prints the results on
// stdout. Ctrl-C stops at the next step; checkpoints already written stay, and the next run
// resumes from them.

const usage = `usage: rpt stage <${STAGE_TARGETS.join('|')}> <file.rpt> [--backend cpu|webgpu|auto] [--set path=value]...

Runs the stages of an experiment up to the one named; each is reused when an earlier run
computed it from the same inputs. Results go to the experiment's output folder (default
runs/<name>); docs/stages.md describes them.
${BACKEND_HELP}
  --set path=value    override an entry of the file, e.g. --set model.base.pretrain.steps=50`;

export const stageCommand: Command = {
  name: 'stage',
  summary: 'run tokenizer, pre-training, entropy filter, next-token evaluation or RPT',
  usage,
  async run(args, io) {
    const parsed = parseOptions(args, { ...BACKEND_OPTION, ...SET_OPTION });
    if ('error' in parsed) return usageError(io, parsed.error);
    const problem = usageProblem(parsed.positionals) ?? backendProblem(parsed.values.backend);
    if (problem !== null) return usageError(io, problem);
    const [target, file] = parsed.positionals as [StageTarget, string];
    const ir = checkExperiment(file, (parsed.values.set as string[] | undefined) ?? [], io);
    if (!ir) return EXIT_INVALID;
    return runTarget(ir, target, file, (parsed.values.backend as BackendKind | undefined) ?? 'auto', io);
  },
};

function usageError(io: Io, problem: string): number {
  io.err(`rpt stage: ${problem}\n${usage}`);
  return EXIT_USAGE;
}

function usageProblem(positionals: string[]): string | null {
  const [target, file, ...extra] = positionals;
  if (!target || !file) return 'a stage and an experiment file are needed';
  if (!(STAGE_TARGETS as readonly string[]).includes(target)) return `unknown stage "${target}"`;
  if (extra.length > 0) return `unexpected argument "${extra[0]}"`;
  return null;
}

async function runTarget(ir: ExperimentIR, target: StageTarget, file: string, backendKind: BackendKind, io: Io): Promise<number> {
  const started = performance.now();
  const controller = new AbortController();
  const interrupt = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt);
  const reporter = progressReporter(io);
  const done: StageDone[] = [];
  let backend: Backend | undefined;
  try {
    const choice = await selectBackend(backendKind);
    backend = choice.backend;
    reporter.log(`${ir.name}: ${target} on ${backend.description} (${choice.reason})`);
    await runStages(ir, target, { ...runLocation(ir, file), backend, onProgress: reporter.update, signal: controller.signal, onStage: (stage) => done.push(stage) });
    io.out(`${done.flatMap((stage) => formatStage(stage, ir)).join('\n')}\nwall time ${formatDuration(performance.now() - started)}`);
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

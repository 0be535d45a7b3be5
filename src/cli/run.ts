import { relative } from 'node:path';
import type { ExperimentIR } from '../../dsl/ir.ts';
import type { Backend } from '../backend/backend.ts';
import { selectBackend, type BackendKind } from '../backend/select.ts';
import { formatDuration } from '../stages/progress.ts';
import { CheckpointEvaluator } from '../../runtime/evaluator.ts';
import { ActorRptLoop } from '../../runtime/rpt-graph.ts';
import { runExperiment } from '../../runtime/run.ts';
import { CpuBackend } from '../cpu/backend.ts';
import { BACKEND_HELP, BACKEND_OPTION, backendProblem, checkExperiment, EXIT_INTERRUPTED, formatStage, progressReporter, runLocation } from './experiment.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command, type Io } from './io.ts';
import { parseOptions, SET_OPTION } from './options.ts';

// `rpt run <file.rpt>`: the whole experiment, from the tokenizer to the report, resumable and
// optionally watched for edits (runtime/run.ts). Its RPT stage runs the actor graph
// (ActorRptLoop, runtime/rpt-graph.ts: a data feeder, `actors { samplers }` sampler threads and
// a learner, each on its own backend of the same kind as this process's, and a verifier pool),
// with an evaluator thread that evaluates each evaluation checkpoint as it is written
// (runtime/evaluator.ts); `rpt stage` keeps the single-process loop, the reference the graph is
// tested against.
// Progress goes to stderr, each stage's results
// to stdout as it finishes. The first Ctrl-C stops at the next step boundary with a checkpoint
// and exits 0; a second one exits at once with status 130.

const usage = `usage: rpt run <file.rpt> [--backend cpu|webgpu|auto] [--set path=value]... [--fresh] [--watch]

Runs every stage of an experiment in order (tokenizer, pre-training, filter, evaluation, RPT,
RPT evaluation, report) into its output folder (default runs/<name>). Stages computed earlier
from the same inputs are reused; an interrupted run continues from its newest checkpoints.
${BACKEND_HELP}
  --set path=value    override an entry of the file, e.g. --set learner.steps=50
  --fresh             start over: the earlier run folder is renamed to <folder>.<time> first
  --watch             apply edits of the file while it runs: live-safe ones (temperature, top_p,
                      top_k, reward, learner.lr, actors, eval every) at the next RPT step,
                      structural ones by restarting the stages; docs/runtime.md lists them`;

export const runCommand: Command = {
  name: 'run',
  summary: 'run a whole experiment, resumable, optionally watching the file for edits',
  usage,
  async run(args, io) {
    const parsed = parseOptions(args, { ...BACKEND_OPTION, ...SET_OPTION, fresh: { type: 'boolean' }, watch: { type: 'boolean' } });
    if ('error' in parsed) return usageError(io, parsed.error);
    const [file, ...extra] = parsed.positionals;
    const problem = !file ? 'an experiment file is needed' : extra.length > 0 ? `unexpected argument "${extra[0]}"` : backendProblem(parsed.values.backend);
    if (problem !== null) return usageError(io, problem);
    const overrides = (parsed.values.set as string[] | undefined) ?? [];
    const ir = checkExperiment(file, overrides, io);
    if (!ir) return EXIT_INVALID;
    return runFile(file, overrides, ir, {
      backend: (parsed.values.backend as BackendKind | undefined) ?? 'auto',
      fresh: parsed.values.fresh === true,
      watch: parsed.values.watch === true,
    }, io);
  },
};

/** A path relative to the current directory when it lies below it. */
function shortPath(path: string): string {
  const short = relative(process.cwd(), path);
  return short.startsWith('..') ? path : short;
}

function usageError(io: Io, problem: string): number {
  io.err(`rpt run: ${problem}\n${usage}`);
  return EXIT_USAGE;
}

async function runFile(file: string, overrides: string[], ir: ExperimentIR, flags: { backend: BackendKind; fresh: boolean; watch: boolean }, io: Io): Promise<number> {
  const started = performance.now();
  const reporter = progressReporter(io);
  const controller = new AbortController();
  const interrupt = (): void => {
    reporter.log('rpt run: stopping at the next step boundary, with a checkpoint (Ctrl-C again to quit at once)');
    controller.abort(new Error('interrupted'));
    process.once('SIGINT', quit);
  };
  const quit = (): never => process.exit(EXIT_INTERRUPTED);
  process.once('SIGINT', interrupt);
  const { runDir, baseDir } = runLocation(ir, file);
  let backend: Backend | undefined;
  try {
    const choice = await selectBackend(flags.backend);
    backend = choice.backend;
    reporter.log(`${ir.name}: run into ${runDir} on ${backend.description} (${choice.reason})${flags.watch ? `, watching ${file}` : ''}`);
    const samplerBackend = backend instanceof CpuBackend ? 'cpu' : 'webgpu';
    const outcome = await runExperiment({
      file, overrides, ir, runDir, baseDir, backend, fresh: flags.fresh, watch: flags.watch, signal: controller.signal,
      loop: (spec, current) => ActorRptLoop.start({ ...spec, actors: current.actors, backendKind: samplerBackend }),
      evaluator: (source, onResult) => new CheckpointEvaluator({ backendKind: samplerBackend, source, onResult }),
      log: (message) => reporter.log(message),
      onProgress: reporter.update,
      onStage: (done, current) => {
        reporter.endLine();
        io.out(formatStage(done, current).join('\n'));
      },
    });
    if (outcome.kind === 'interrupted') {
      const where = outcome.at ? `${outcome.at.stage} at step ${outcome.at.step}` : 'before the first step';
      const checkpoint = outcome.checkpoint ? `; newest checkpoint ${shortPath(outcome.checkpoint)}` : '';
      reporter.log(`rpt run: interrupted in ${where}${checkpoint}\nresume with: rpt run ${file}${overrides.map((o) => ` --set ${JSON.stringify(o)}`).join('')}`);
      return EXIT_OK;
    }
    io.out(`wall time ${formatDuration(performance.now() - started)}${outcome.restarts > 0 ? `, ${outcome.restarts} restart${outcome.restarts === 1 ? '' : 's'} after edits` : ''}`);
    return EXIT_OK;
  } catch (error) {
    reporter.log(`rpt run: ${(error as Error).message}`);
    return EXIT_INVALID;
  } finally {
    // After a first Ctrl-C, `quit` stays: a second one exits with 130 also while the process winds down.
    process.removeListener('SIGINT', interrupt);
    backend?.destroy();
  }
}

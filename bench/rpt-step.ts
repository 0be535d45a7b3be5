// One RPT step of an experiment (the quickstart's by default), by the single-process RptLoop and
// by the actor graph's ActorRptLoop with 1 and 2 samplers:
// `npm run bench -- rpt-step [--backend cpu|webgpu|auto] [--steps N] [--file x.rpt]`.
// The stages up to the filter run first into a temporary folder. Each loop starts from the same
// policy and takes one step that is not timed (it starts the actors' threads), then `steps`
// timed ones; all three take the same steps (same seed), so they do the same work. Per step:
//   wall           the step's wall time (median over the timed steps)
//   sampling, verifying, learning
//                  shares of the summed wall time that the loop spent in each phase, as its
//                  step metrics record them (sampling includes the policy's scoring)
//   waiting        share of the wall time the main thread's event loop was idle
//                  (performance.eventLoopUtilization): waiting for the feeder, samplers,
//                  verifiers or learner
//   cpu            process.cpuUsage (user + system) over wall time, in cores; getrusage counts
//                  every thread of the process, so it sums the main thread, the actors and
//                  the verifier pool
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkFile } from '../dsl/check.ts';
import { renderDiagnostic } from '../dsl/diagnostics.ts';
import { ActorRptLoop } from '../runtime/rpt-graph.ts';
import type { Backend } from '../src/backend/backend.ts';
import { createBackend, type BackendKind } from '../src/backend/select.ts';
import type { RptLoop } from '../src/rl/loop.ts';
import { resolveModel } from '../src/stages/models.ts';
import { runStages } from '../src/stages/pipeline.ts';
import { localLoop, rptLoopSpec } from '../src/stages/rpt.ts';
import { type Figure, option, printFigures } from './report.ts';


async function timedSteps(label: string, loop: RptLoop, steps: number): Promise<Figure[]> {
  await loop.takeStep(); // starts the threads
  const walls: number[] = [];
  const phases = { sampling: 0, verification: 0, learning: 0 };
  let wall = 0, idle = 0, cpu = 0;
  for (let i = 0; i < steps; i++) {
    const loopBefore = performance.eventLoopUtilization(), cpuBefore = process.cpuUsage(), start = performance.now();
    const { metrics } = await loop.takeStep();
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpuBefore);
    idle += performance.eventLoopUtilization(loopBefore).idle / 1000;
    cpu += (used.user + used.system) / 1e6;
    walls.push(seconds);
    wall += seconds;
    for (const phase of ['sampling', 'verification', 'learning'] as const) phases[phase] += metrics.seconds[phase];
  }
  await loop.close();
  walls.sort((a, b) => a - b);
  return [
    { name: `rpt step wall, ${label}`, value: walls[Math.floor(walls.length / 2)] * 1000, unit: 'ms' },
    { name: `rpt step sampling, ${label}`, value: (100 * phases.sampling) / wall, unit: '%' },
    { name: `rpt step verifying, ${label}`, value: (100 * phases.verification) / wall, unit: '%' },
    { name: `rpt step learning, ${label}`, value: (100 * phases.learning) / wall, unit: '%' },
    { name: `rpt step waiting (main thread idle), ${label}`, value: (100 * idle) / wall, unit: '%' },
    { name: `rpt step cpu (process.cpuUsage / wall), ${label}`, value: cpu / wall, unit: 'cores' },
  ];
}

export async function main(args: string[]): Promise<void> {
  const file = option(args, 'file', 'experiments/quickstart.rpt');
  const steps = Number(option(args, 'steps', '5'));
  const backendKind = option(args, 'backend', 'cpu') as BackendKind;
  const checked = checkFile(file, {});
  if (!checked.ir) throw new Error(checked.diagnostics.map(renderDiagnostic).join('\n'));
  const ir = checked.ir;
  const baseDir = dirname(resolve(file));
  const runDir = await mkdtemp(join(tmpdir(), 'rpt-bench-rpt-step-'));
  const backend: Backend = await createBackend(backendKind);
  try {
    const stages = await runStages(ir, 'filter', { runDir, baseDir, backend });
    const policy = await resolveModel(ir, ir.policy.init, stages.pretrain, stages.tokenizer, baseDir);
    const spec = await rptLoopSpec(ir, { backend, tokenizer: stages.tokenizer, data: stages.data!, filter: stages.filter!, policy, baseDir });
    const { config } = policy;
    console.log(`${ir.name}: ${ir.learner.batch} contexts x ${ir.learner.rollouts} rollouts per step, a model of ${config.layers} layers x ${config.dim}, ${steps} timed steps on ${backend.description}, ${ir.actors.verifiers} verifier thread(s)`);
    const actors = (samplers: number) => ({ samplers, verifiers: ir.actors.verifiers });
    printFigures([
      ...(await timedSteps('RptLoop', await localLoop(spec), steps)),
      ...(await timedSteps('ActorRptLoop 1 sampler', await ActorRptLoop.start({ ...spec, actors: actors(1), backendKind }), steps)),
      ...(await timedSteps('ActorRptLoop 2 samplers', await ActorRptLoop.start({ ...spec, actors: actors(2), backendKind }), steps)),
    ], args);
  } finally {
    backend.destroy();
    await rm(runDir, { recursive: true, force: true });
  }
}

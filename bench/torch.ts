// rpt's engine against PyTorch on the same machine in the same run: `npm run bench -- torch
// [--backend cpu|webgpu|auto] [--json] [--quick] [--steps N] [--new-tokens N]`. For the benchmark
// model of bench/engine.ts, rpt's matmul GFLOP/s at 512^3, training tokens/s and sampling tokens/s
// on the backend, then the same three figures of bench/peer/torch_engine.py (the same model written
// by hand in torch, float32 on the CPU) and the ratios rpt/torch.
//
// torch runs as a child process, one run per setting so each is labelled: with its default thread
// count (_t<N>) and, when that differs, with as many threads as the machine has cores, since rpt's
// BLAS uses them all; and when OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set, each of those again
// with both removed (_blasenv_unset), since they change which OpenBLAS kernel torch runs. The
// Python is RPT_PYTHON, else the first of python3 and /usr/bin/python3 that imports torch.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createBackend, type BackendKind } from '../src/backend/select.ts';
import { config, matmulGflops512, samplingSpeed, trainingSpeed } from './engine.ts';
import { type Figure, option, printFiguresWithFacts } from './report.ts';

const SCRIPT = fileURLToPath(new URL('./peer/torch_engine.py', import.meta.url));
const BLAS_ENV = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];
const PROMPT = 8; // bench/engine.ts's prompt length, which torch_engine.py shares

/** The figures both sides measure, named as torch_engine.py names them, with their units. */
const UNITS = { matmul_512cubed_gflops: 'GFLOP/s', train_tokens_per_s: 'tokens/s', sample_tokens_per_s: 'tokens/s' };
type Measure = keyof typeof UNITS;
const MEASURES = Object.keys(UNITS) as Measure[];

export interface TorchRun {
  label: string; // e.g. _t1, _t2_blasenv_unset
  figures: Record<string, { value: number; unit: string }>;
  facts: Record<string, string>;
  reference?: TorchRun; // the run whose facts this one's are reported against
}


function importsTorch(python: string): boolean {
  return spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** RPT_PYTHON when set (it must import torch), else the first candidate that imports torch. */
export function findPython(): string | undefined {
  const chosen = process.env.RPT_PYTHON;
  if (chosen) return importsTorch(chosen) ? chosen : undefined;
  return ['python3', '/usr/bin/python3'].find(importsTorch);
}

/** Why no torch run can happen, for stderr: what was tried and how to install torch. */
export function pythonMissing(): string {
  const tried = process.env.RPT_PYTHON ? `RPT_PYTHON=${process.env.RPT_PYTHON}` : 'python3 and /usr/bin/python3';
  return `PyTorch not found (${tried} cannot import torch): install it (Debian: apt-get install python3-torch, else pip install torch) or point RPT_PYTHON at a Python that has it`;
}

/** One run of a peer script; its stderr passes through, its stdout is the JSON of its figures. */
function runTorch(python: string, script: string, flags: string[], env: NodeJS.ProcessEnv, label: string): TorchRun {
  console.error(`torch${label}: ${python} ${script} ${flags.join(' ')}`);
  const child = spawnSync(python, [script, '--json', ...flags], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.error) throw child.error;
  if (child.status !== 0) throw new Error(`${script} exited with status ${child.status}`);
  const { facts, ...figures } = JSON.parse(child.stdout) as TorchRun['figures'] & { facts: Record<string, string> };
  return { label, figures, facts };
}

/**
 * Every torch setting of the peer `script` (bench/peer/*.py, which takes --json and --threads):
 * per environment, the default thread count and, when it differs, all cores.
 */
export function torchRuns(python: string, script: string, common: string[]): TorchRun[] {
  const environments: { suffix: string; env: NodeJS.ProcessEnv }[] = [{ suffix: '', env: process.env }];
  if (BLAS_ENV.some((name) => process.env[name] !== undefined)) {
    const env = { ...process.env };
    BLAS_ENV.forEach((name) => delete env[name]);
    environments.push({ suffix: '_blasenv_unset', env });
  }
  const cores = availableParallelism();
  const runs: TorchRun[] = [];
  for (const { suffix, env } of environments) {
    // the default run is labelled only once it has said how many threads torch chose
    const first: TorchRun = { ...runTorch(python, script, common, env, suffix || ' (default threads)'), reference: runs[0] };
    const threads = Number(first.facts.threads);
    first.label = `_t${threads}${suffix}`;
    runs.push(first);
    if (threads !== cores) runs.push({ ...runTorch(python, script, [...common, '--threads', String(cores)], env, `_t${cores}${suffix}`), reference: first });
  }
  return runs;
}

/**
 * torch's facts, each named torch_*: the first run's, and a later run's only where they differ
 * from its reference's (the threads, or the OpenBLAS kernel once the environment variables are gone).
 */
export function torchFacts(runs: TorchRun[]): Record<string, string> {
  const facts: Record<string, string> = {};
  for (const run of runs) {
    for (const [key, value] of Object.entries(run.facts)) {
      const name = key.startsWith('torch_') ? key : `torch_${key}`;
      if (run.reference === undefined) facts[name] = value;
      else if (run.reference.facts[key] !== value) facts[`${name}${run.label}`] = value;
    }
  }
  return facts;
}

export async function main(args: string[]): Promise<void> {
  const python = findPython();
  if (python === undefined) {
    console.error(pythonMissing());
    process.exitCode = 1;
    return;
  }
  const quick = args.includes('--quick');
  const steps = Number(option(args, 'steps', quick ? '2' : '5'));
  const newTokens = Number(option(args, 'new-tokens', quick ? '16' : String(config.context - PROMPT)));

  // rpt first, in this process; torch's children run after it, so the two never share the cores
  const backend = await createBackend(option(args, 'backend', 'cpu') as BackendKind);
  const rpt = {} as Record<Measure, number>;
  const facts: Record<string, string> = { rpt_backend: backend.description };
  try {
    console.error(`rpt on ${backend.description}`);
    rpt.matmul_512cubed_gflops = await matmulGflops512(backend, quick ? 200 : 1000);
    rpt.train_tokens_per_s = await trainingSpeed(backend, steps);
    rpt.sample_tokens_per_s = await samplingSpeed(backend, newTokens);
  } finally {
    backend.destroy();
  }

  const runs = torchRuns(python, SCRIPT, ['--steps', String(steps), '--new-tokens', String(newTokens)]);
  facts.torch_python = python;
  Object.assign(facts, torchFacts(runs));

  const figures: Figure[] = [];
  for (const name of MEASURES) figures.push({ name: `rpt_${name}_${backend.name}`, value: rpt[name], unit: UNITS[name] });
  for (const run of runs) {
    for (const name of MEASURES) figures.push({ name: `torch_${name}${run.label}`, value: run.figures[name].value, unit: UNITS[name] });
  }
  for (const run of runs) {
    for (const name of MEASURES) figures.push({ name: `ratio_rpt_over_torch_${name}${run.label}`, value: rpt[name] / run.figures[name].value, unit: 'x' });
  }

  printFiguresWithFacts(figures, facts, args);
}

// A tiny experiment for the stage tests: 400 generated arithmetic problems, a 300-token BPE and a
// 2-layer model of width 32, small enough to pre-train in a second or two on the cpu backend.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSource } from '../dsl/check.ts';
import { renderDiagnostic } from '../dsl/diagnostics.ts';
import type { ExperimentIR } from '../dsl/ir.ts';
import { makeSource } from '../dsl/source.ts';

export const TINY_EXPERIMENT = `experiment tiny {
  seed 3
  corpus { generate arithmetic { digits 1..2, problems 400, traces 50% }  tokenizer bpe { vocab 300 }  holdout 10% }
  model base {
    transformer { layers 2, dim 32, heads 2, context 32 }
    pretrain { steps 60, batch 8, lr 1e-2, warmup 5, eval every 20 steps, checkpoint every 20 steps }
  }
  filter { proxy base, entropy top 16, keep above 1.0, window 4 tokens }
  policy { init base, think up to 8 tokens, answer up to 4 tokens }
  learner grpo { rollouts 4, batch 8, lr 1e-4, steps 10 }
}
`;

/** The tiny experiment's IR (or that of a variant of its text) with `--set` overrides applied. */
export function tinyExperiment(overrides: string[] = [], text = TINY_EXPERIMENT): ExperimentIR {
  const checked = checkSource(makeSource('tiny.rpt', text), { overrides, baseDir: tmpdir() });
  if (!checked.ir) throw new Error(checked.diagnostics.map(renderDiagnostic).join('\n'));
  return checked.ir;
}

/** A fresh temporary folder, removed by the returned function. */
export async function temporaryDirectory(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rpt-stages-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

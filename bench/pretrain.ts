// Pre-training throughput of an experiment's first pre-trained model (the quickstart's by
// default): `npm run bench -- pretrain [--backend cpu|webgpu|auto] [--steps N] [--file x.rpt]`.
// Tokenizer and data stages run first into a temporary folder; only optimizer steps are timed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkFile } from '../dsl/check.ts';
import { renderDiagnostic } from '../dsl/diagnostics.ts';
import type { ExperimentIR } from '../dsl/ir.ts';
import { createBackend, type BackendKind } from '../src/backend/select.ts';
import { runPretrainStage } from '../src/stages/pretrain.ts';
import { runDataStage } from '../src/stages/token-data.ts';
import { runTokenizerStage } from '../src/stages/tokenizer.ts';
import { option, printFigures } from './report.ts';


function experiment(file: string, overrides: string[] = []): ExperimentIR {
  const checked = checkFile(file, { overrides });
  if (!checked.ir) throw new Error(checked.diagnostics.map(renderDiagnostic).join('\n'));
  return checked.ir;
}

export async function main(args: string[]): Promise<void> {
  const file = option(args, 'file', 'experiments/quickstart.rpt');
  const steps = Number(option(args, 'steps', '20'));
  const backendKind = option(args, 'backend', 'auto') as BackendKind;
  const declared = experiment(file);
  const model = Object.keys(declared.models).find((name) => declared.models[name].pretrain !== null);
  if (!model) throw new Error(`${file} declares no model with a pretrain block`);
  // Only the length of the run changes (warmup too, so that it still fits).
  const ir = experiment(file, [`model.${model}.pretrain.steps=${steps}`, `model.${model}.pretrain.warmup=0`]);
  const runDir = await mkdtemp(join(tmpdir(), 'rpt-bench-pretrain-'));
  const backend = await createBackend(backendKind);
  try {
    const baseDir = dirname(resolve(file));
    const tokenizer = await runTokenizerStage(ir, runDir, baseDir);
    const data = await runDataStage(ir, runDir, baseDir, tokenizer);
    const result = await runPretrainStage({ ir: ir, model, runDir, backend, tokenizer, data });
    const { batch } = ir.models[model].pretrain!;
    const { context } = ir.models[model].transformer!;
    console.log(`${ir.name} model ${model}, ${steps} steps of ${batch} x ${context} tokens on ${backend.description}`);
    printFigures([
      { name: `pretrain_tokens_per_s_${backend.name}`, value: result.tokensPerSecond, unit: 'tokens/s' },
      { name: `pretrain_step_${backend.name}`, value: (1000 * batch * context) / result.tokensPerSecond, unit: 'ms' },
    ], args);
  } finally {
    backend.destroy();
    await rm(runDir, { recursive: true, force: true });
  }
}

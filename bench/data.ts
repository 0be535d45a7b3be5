// The data stage (every document of an experiment's corpus encoded with its tokenizer) on the
// Brown experiment's corpus by default: `npm run bench -- data [--file x.rpt] [--runs N]`. The
// tokenizer stage runs first into a temporary folder, untimed; each timed run writes a fresh folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkFile } from '../dsl/check.ts';
import { renderDiagnostic } from '../dsl/diagnostics.ts';
import { runDataStage } from '../src/stages/token-data.ts';
import { runTokenizerStage } from '../src/stages/tokenizer.ts';
import { option, printFigures } from './report.ts';


export async function main(args: string[]): Promise<void> {
  const file = option(args, 'file', 'experiments/brown.rpt');
  const runs = Number(option(args, 'runs', '3'));
  const checked = checkFile(file, {});
  if (!checked.ir) throw new Error(checked.diagnostics.map(renderDiagnostic).join('\n'));
  const ir = checked.ir;
  const baseDir = dirname(resolve(file));
  const dir = await mkdtemp(join(tmpdir(), 'rpt-bench-data-'));
  try {
    const tokenizer = await runTokenizerStage(ir, join(dir, 'tokenizer'), baseDir);
    const seconds: number[] = [];
    let tokens = 0;
    for (let run = 0; run < runs; run++) {
      const start = performance.now();
      const data = await runDataStage(ir, join(dir, `run-${run}`), baseDir, tokenizer);
      seconds.push((performance.now() - start) / 1000);
      tokens = data.tokens.train + data.tokens.holdout;
    }
    const best = Math.min(...seconds);
    console.log(`${ir.name}: ${tokens} tokens, vocabulary ${tokenizer.vocabSize}, best of ${runs} runs`);
    printFigures([
      { name: `data_stage_${ir.name}`, value: best, unit: 's' },
      { name: `data_stage_${ir.name}_tokens_per_s`, value: tokens / best, unit: 'tokens/s' },
    ], args);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

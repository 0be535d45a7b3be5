import type { ExperimentIR } from '../../dsl/ir.ts';
import type { Backend } from '../backend/backend.ts';
import { writeReport, type ReportFiles } from '../report/report.ts';
import { runFilterStage, type FilterResult } from './filter.ts';
import { resolveModel } from './models.ts';
import { runNextTokenEvalStage, type NextTokenEvalResult } from './next-token-eval.ts';
import { runPretrainStage, type PretrainResult } from './pretrain.ts';
import type { OnProgress } from './progress.ts';
import { runDataStage, type DataResult } from './token-data.ts';
import { runRptEvalStage, type RptEvalResult } from './rpt-eval.ts';
import { runRptStage, type EvaluatorFactory, type LiveSource, type RptConfig, type RptLoopFactory, type RptResult } from './rpt.ts';
import { runTokenizerStage, type TokenizerResult } from './tokenizer.ts';

// The stages up to a target, each run only when needed and reused when cached:
//   tokenizer -> data (token arrays) -> pretrain (every declared model with a pretrain block,
//   or for `filter` only the proxy) -> filter (proxy entropies) -> eval (every declared model)
//   -> rpt (the RL loop from the policy's init) -> rpt-eval (base, RPT and the baselines asked
//   for, on the same holdout positions) -> report (`all` only: report.md and plots)

export const STAGE_TARGETS = ['tokenizer', 'pretrain', 'filter', 'eval', 'rpt', 'rpt-eval', 'all'] as const;
export type StageTarget = (typeof STAGE_TARGETS)[number];

export interface StageOptions {
  runDir: string;
  baseDir: string; // the experiment file's folder: relative paths in it start there
  backend: Backend;
  onProgress?: OnProgress;
  signal?: AbortSignal;
  onStage?: (done: StageDone) => void; // each stage's result as it finishes (or is found cached)
  loop?: RptLoopFactory; // the RPT stage's loop; RptLoop by default
  evaluator?: EvaluatorFactory; // evaluates RPT's evaluation checkpoints while its loop goes on; none by default
  log?: (message: string) => void; // notices from the stages (the evaluator's results)
  live?: LiveSource; // a watched experiment file, whose live-safe edits the RPT stage takes
  onConfig?: (config: RptConfig) => void; // a new config version in force in the RPT stage
}

export type StageDone =
  | { stage: 'tokenizer'; result: TokenizerResult }
  | { stage: 'data'; result: DataResult }
  | { stage: 'pretrain'; result: PretrainResult }
  | { stage: 'filter'; result: FilterResult }
  | { stage: 'eval'; result: NextTokenEvalResult }
  | { stage: 'rpt'; result: RptResult }
  | { stage: 'rpt-eval'; result: RptEvalResult }
  | { stage: 'report'; result: ReportFiles };

export interface StagesResult {
  tokenizer: TokenizerResult;
  data?: DataResult;
  pretrain: Record<string, PretrainResult>;
  filter?: FilterResult;
  eval: Record<string, NextTokenEvalResult>;
  rpt?: RptResult;
  rptEval?: RptEvalResult;
  report?: ReportFiles;
}

export async function runStages(ir: ExperimentIR, target: StageTarget, options: StageOptions): Promise<StagesResult> {
  const { runDir, baseDir, backend, onProgress, signal, live, onConfig } = options;
  const done = <T extends StageDone>(stage: T): T['result'] => {
    options.onStage?.(stage);
    return stage.result;
  };
  const tokenizer = done({ stage: 'tokenizer', result: await runTokenizerStage(ir, runDir, baseDir) });
  const result: StagesResult = { tokenizer, pretrain: {}, eval: {} };
  if (target === 'tokenizer') return result;

  const data = done({ stage: 'data', result: await runDataStage(ir, runDir, baseDir, tokenizer) });
  result.data = data;
  const proxyRef = ir.filter.proxy;
  const toPretrain = Object.keys(ir.models).filter((name) => ir.models[name].pretrain !== null && (target !== 'filter' || (proxyRef.kind === 'model' && proxyRef.name === name)));
  for (const model of toPretrain) {
    result.pretrain[model] = done({ stage: 'pretrain', result: await runPretrainStage({ ir, model, runDir, backend, tokenizer, data, onProgress, signal }) });
  }
  if (target === 'pretrain') return result;

  const proxy = await resolveModel(ir, proxyRef, result.pretrain, tokenizer, baseDir);
  const filter = done({ stage: 'filter', result: await runFilterStage({ ir, runDir, backend, tokenizer, data, proxy, onProgress, signal }) });
  result.filter = filter;
  if (target === 'filter') return result;

  for (const name of Object.keys(ir.models)) {
    const model = await resolveModel(ir, { kind: 'model', name }, result.pretrain, tokenizer, baseDir);
    result.eval[name] = done({ stage: 'eval', result: await runNextTokenEvalStage({ ir, runDir, backend, tokenizer, data, filter, model, onProgress, signal }) });
  }
  if (target === 'eval') return result;

  const policy = await resolveModel(ir, ir.policy.init, result.pretrain, tokenizer, baseDir);
  const rpt = await runRptStage({ ir, runDir, backend, tokenizer, data, filter, policy, baseDir, onProgress, signal, loop: options.loop, evaluator: options.evaluator, log: options.log, live, onConfig });
  result.rpt = done({ stage: 'rpt', result: rpt });
  if (target === 'rpt') return result;

  result.rptEval = done({ stage: 'rpt-eval', result: await runRptEvalStage({ ir, runDir, backend, tokenizer, data, filter, base: policy, rpt, baseDir, onProgress, signal }) });
  if (target === 'rpt-eval') return result;

  result.report = done({ stage: 'report', result: await writeReport(runDir) });
  return result;
}

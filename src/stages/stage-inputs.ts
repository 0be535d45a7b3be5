import type { ExperimentIR } from '../../dsl/ir.ts';
import type { Backend } from '../backend/backend.ts';
import type { OnProgress } from './progress.ts';
import type { DataResult } from './token-data.ts';
import type { TokenizerResult } from './tokenizer.ts';

/** What every stage after the tokenized data receives. */
export interface StageInputs {
  ir: ExperimentIR;
  runDir: string;
  backend: Backend;
  tokenizer: TokenizerResult;
  data: DataResult;
  onProgress?: OnProgress;
  signal?: AbortSignal; // checked between steps; what is already written stays
}

import type { z } from 'zod';
import type { experimentSchema } from './schema.ts';

// The validated experiment, as every later stage receives it: plain JSON, defaults filled in,
// percentages as fractions (5% -> 0.05), durations in milliseconds, token and step counts as
// integers. Its source map (check.ts) gives the line:column each field came from.
export type ExperimentIR = z.output<typeof experimentSchema>;
export type CorpusIR = ExperimentIR['corpus'];
export type TokenizerIR = CorpusIR['tokenizer'];
export type ModelIR = ExperimentIR['models'][string];
export type TransformerIR = NonNullable<ModelIR['transformer']>;
export type HuggingfaceIR = NonNullable<ModelIR['huggingface']>;
export type PretrainIR = NonNullable<ModelIR['pretrain']>;
export type ModelRefIR = ExperimentIR['policy']['init'];
export type FilterIR = ExperimentIR['filter'];
export type PolicyIR = ExperimentIR['policy'];
export type ResponseFormatIR = PolicyIR['format'];
export type RewardIR = ExperimentIR['reward'];
export type LearnerIR = ExperimentIR['learner'];
export type ActorsIR = ExperimentIR['actors'];
export type EvalIR = ExperimentIR['eval'];
export type CheckpointIR = ExperimentIR['checkpoint'];

import { z } from 'zod';
import { MAX_VOCAB } from '../src/tokenizer/bpe-tokenizer.ts';
import { SPECIAL_TOKENS } from '../src/tokenizer/special-tokens.ts';

// The validated experiment (IR). Field order here is the key order of every IR object, so two
// IRs of the same file serialise identically. Defaults follow the paper (RPT.md, Table 5) where
// it gives one; sizes that depend on the machine (batch, steps, lr) have no default.

export const DEFAULT_SEED = 0;

const count = z.number().int().min(1);
const nonNegativeCount = z.number().int().min(0);
const fraction = z.number().min(0).max(1);
const rate = z.number().gt(0);

export const BROWN_CATEGORIES = [
  'adventure', 'belles_lettres', 'editorial', 'fiction', 'government', 'hobbies', 'humor', 'learned',
  'lore', 'mystery', 'news', 'religion', 'reviews', 'romance', 'science_fiction',
] as const;

// A model named in this file, or a checkpoint file (path relative to the experiment file).
const modelRef = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('model'), name: z.string() }),
  z.object({ kind: z.literal('checkpoint'), path: z.string().min(1) }),
]);

const arithmeticSource = z.object({
  kind: z.literal('arithmetic'),
  digits: z.object({ min: count.max(18), max: count.max(18) }),
  problems: count,
  traces: fraction.default(0.5),
  // Numbers per expression: 2 is one operation; each more adds a step to the worked trace.
  operands: z.object({ min: z.number().int().min(2).max(9), max: z.number().int().min(2).max(9) }).default({ min: 2, max: 4 }),
  ops: z.array(z.enum(['add', 'sub', 'mul'])).min(1).default(['add', 'sub', 'mul']),
});
const brownSource = z.object({
  kind: z.literal('brown'),
  // Empty means every category.
  categories: z.array(z.enum(BROWN_CATEGORIES)).default([]),
});
const filesSource = z.object({
  kind: z.literal('files'),
  paths: z.array(z.string().min(1)).min(1),
  format: z.enum(['txt', 'jsonl']).default('txt'),
  field: z.string().min(1).default('text'),
});

const tokenizer = z.discriminatedUnion('kind', [
  // Byte-level BPE: the 256 bytes and the special tokens come before any merge.
  z.object({ kind: z.literal('bpe'), vocab: z.number().int().min(256 + SPECIAL_TOKENS.length).max(MAX_VOCAB) }),
  z.object({ kind: z.literal('file'), path: z.string().min(1) }),
  // The tokenizer.json of a Hugging Face model the experiment declares, as that model was trained with it.
  z.object({ kind: z.literal('model'), name: z.string() }),
]);

const corpus = z.object({
  source: z.discriminatedUnion('kind', [arithmeticSource, brownSource, filesSource]),
  tokenizer,
  holdout: z.number().gt(0).lt(1).default(0.05),
});

const transformer = z.object({
  // null: taken from the tokenizer file when the run starts.
  vocab: z.number().int().min(2).nullable(),
  layers: count,
  dim: count,
  heads: count,
  ffn: count,
  context: z.number().int().min(8),
  tied_embeddings: z.boolean().default(true),
  init_seed: nonNegativeCount,
});

const pretrain = z.object({
  steps: count,
  batch: count,
  lr: rate,
  min_lr: z.number().min(0),
  warmup: nonNegativeCount.default(0),
  schedule: z.enum(['cosine', 'constant']).default('cosine'),
  betas: z.tuple([fraction, fraction]).default([0.9, 0.95]),
  weight_decay: z.number().min(0).default(0.1),
  grad_clip: z.number().min(0).default(1.0),
  // Share of each batch's windows that are worked examples of the next-token reasoning format
  // (src/stages/format-windows.ts), so that RPT can start from this model; 0 = plain text only.
  format_share: fraction.default(0),
  eval_every: count.default(100),
  checkpoint_every: count.default(1000),
});

// A local Hugging Face folder (config.json, safetensors weights, tokenizer.json); the weights are
// pre-trained, so such a model has no `pretrain`.
const huggingface = z.object({
  path: z.string().min(1),
  // The longest sequence the run uses: prompts, responses and training windows fit in it.
  // null: the folder's max_position_embeddings.
  context: z.number().int().min(8).nullable().default(null),
});

// Exactly one of `transformer` and `huggingface`; the semantic checks say which is missing.
const model = z.object({
  transformer: transformer.nullable().default(null),
  huggingface: huggingface.nullable().default(null),
  // null: the model starts from its seeded initialisation, untrained.
  pretrain: pretrain.nullable().default(null),
});

const filter = z.object({
  proxy: modelRef,
  entropy_top_k: z.number().int().min(2).default(16),
  keep_above: z.number().min(0).default(0.5),
  window_tokens: count.default(8),
  difficulty: z
    .object({ easy: z.number().min(0).default(0.5), medium: z.number().min(0).default(1.0), hard: z.number().min(0).default(1.5) })
    .prefault({}),
});

// How a response is laid out. `special`: the project's marker tokens (<think> thought </think>
// prediction <end>), for models trained here. `boxed`: the paper's, through the model's chat
// template: the instruction and the context as the user's turn, then the model reasons and puts
// its prediction in \boxed{} after the end of its thought.
export const PAPER_INSTRUCTION =
  'Continue the text between <|text_start|> and <|text_end|>. Reason step by step about what comes next, then write the next token, or the next few tokens, exactly as they continue the text, inside \\boxed{}.';
const responseFormat = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('special') }),
  z.object({
    kind: z.literal('boxed'),
    instruction: z.string().min(1).default(PAPER_INSTRUCTION),
    // Passed to the chat template as enable_thinking (Qwen3's switch between reasoning and not).
    thinking: z.boolean().default(true),
  }),
]);

const policy = z.object({
  init: modelRef,
  format: responseFormat,
  think_tokens: nonNegativeCount,
  answer_tokens: count,
  min_prompt_tokens: count.default(8),
  temperature: rate.max(10).default(0.8),
  top_p: z.number().gt(0).max(1).default(1.0),
  // 0 turns top-k sampling off.
  top_k: nonNegativeCount.default(0),
});

const reward = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('prefix_match') }),
  z.object({ kind: z.literal('first_token') }),
  z.object({ kind: z.literal('dense') }),
  z.object({
    kind: z.literal('module'),
    path: z.string().min(1),
    timeout_ms: z.number().gt(0).default(2000),
    options: z.record(z.string(), z.json()).default({}),
  }),
]);

const learner = z.object({
  algorithm: z.literal('grpo').default('grpo'),
  rollouts: z.number().int().min(2, { error: 'GRPO compares the rollouts of a context with each other' }).default(8),
  batch: count,
  lr: rate,
  betas: z.tuple([fraction, fraction]).default([0.9, 0.999]),
  weight_decay: z.number().min(0).default(0.01),
  clip_low: z.number().gt(0).lt(1).default(0.2),
  clip_high: z.number().gt(0).default(0.2),
  kl: z.number().min(0).default(0),
  loss: z.enum(['token_mean', 'seq_mean']).default('token_mean'),
  advantage_std: z.boolean().default(true),
  // null: dynamic sampling off; otherwise the step from which all-equal groups are dropped.
  dynamic_sampling_after: nonNegativeCount.nullable().default(null),
  updates_per_batch: count.default(1),
  steps: count,
  grad_clip: z.number().min(0).default(1.0),
  warmup: nonNegativeCount.default(0),
});

const actors = z.object({
  samplers: count.max(64).default(1),
  verifiers: count.max(64).default(1),
  learner: z.literal(1, { error: 'the learner is a single actor' }).default(1),
  evaluator: z.literal(1, { error: 'the evaluator is a single actor' }).default(1),
});

const evaluation = z.object({
  every: count.default(100),
  documents: count.default(200),
  positions: count.default(2000),
  modes: z.array(z.enum(['standard', 'reasoning'])).min(1).default(['standard', 'reasoning']),
  baselines: z.array(z.enum(['ntp_matched'])).default([]),
});

const checkpoint = z.object({
  every: count.default(100),
  keep_last: count.default(3),
});

export const experimentSchema = z.object({
  name: z.string(),
  seed: nonNegativeCount.default(DEFAULT_SEED),
  output: z.string().min(1),
  corpus,
  models: z.record(z.string(), model).default({}),
  filter,
  policy,
  reward: reward.prefault({ kind: 'prefix_match' }),
  learner,
  actors: actors.prefault({}),
  eval: evaluation.prefault({}),
  checkpoint: checkpoint.prefault({}),
});

import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { diagnostic, type Diagnostic } from './diagnostics.ts';
import { expandGlob } from './glob.ts';
import type { ExperimentIR, ModelRefIR } from './ir.ts';
import { locate, type Context } from './read.ts';
import { didYouMean } from './suggest.ts';
import { SPECIAL_TOKENS } from '../src/tokenizer/special-tokens.ts';
import { formatWindowRows } from '../src/stages/format-windows.ts';

// Checks across the whole validated experiment: names resolve, files exist, budgets fit the
// model, sizes divide the way the learner splits work.

// A response is framed by the special tokens (<think> ... </think> <answer> ... <end>); they take
// context like any other token.
export const RESPONSE_MARKER_TOKENS = SPECIAL_TOKENS.length;

const RELATIVE_PATHS = "paths are relative to the experiment file's folder";

export function semanticDiagnostics(ctx: Context, ir: ExperimentIR, baseDir: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const error = (path: string, message: string, extra: { expected?: string; hint?: string } = {}) =>
    diagnostics.push(diagnostic(ctx.source, locate(ctx, path.split('.')).span, message, extra));
  const modelNames = Object.keys(ir.models);

  checkRef(ir.policy.init, 'policy.init');
  checkRef(ir.filter.proxy, 'filter.proxy');

  for (const [name, model] of Object.entries(ir.models)) {
    const t = model.transformer;
    const at = `models.${name}.transformer`;
    if (t.dim % t.heads !== 0) error(`${at}.heads`, `${t.heads} heads do not divide dim ${t.dim}`, { hint: 'each head gets dim / heads channels' });
    else if ((t.dim / t.heads) % 2 !== 0) error(`${at}.heads`, `head size ${t.dim / t.heads} is odd`, { hint: 'rotary position embedding rotates channel pairs: dim / heads must be even' });
    const tok = ir.corpus.tokenizer;
    if (tok.kind === 'bpe' && t.vocab !== null && t.vocab !== tok.vocab) {
      error(`${at}.vocab`, `vocab ${t.vocab} differs from the tokenizer's ${tok.vocab}`, { hint: 'leave `vocab` out to take it from the tokenizer' });
    }
    const p = model.pretrain;
    if (p && p.warmup >= p.steps) error(`models.${name}.pretrain.warmup`, `warmup of ${p.warmup} steps leaves none of the ${p.steps} steps`);
    if (p && p.min_lr > p.lr) error(`models.${name}.pretrain.min_lr`, `min_lr ${p.min_lr} is above lr ${p.lr}`);
    if (p && p.format_share > 0 && formatWindowRows(p.format_share, p.batch) === 0) {
      error(`models.${name}.pretrain.format_share`, `format ${p.format_share * 100}% of a batch of ${p.batch} windows rounds to no window`, { hint: `at least ${Math.ceil(50 / p.batch)}% gives one` });
    }
  }

  const { easy, medium, hard } = ir.filter.difficulty;
  if (!(easy < medium)) error('filter.difficulty.medium', `difficulty thresholds must ascend: medium ${medium} is not above easy ${easy}`);
  if (!(medium < hard)) error('filter.difficulty.hard', `difficulty thresholds must ascend: hard ${hard} is not above medium ${medium}`);

  const init = ir.policy.init;
  const policyModel = init.kind === 'model' ? ir.models[init.name] : undefined;
  if (init.kind === 'model' && policyModel) {
    const { min_prompt_tokens: prompt, think_tokens: think, answer_tokens: answer } = ir.policy;
    const needed = prompt + think + answer + RESPONSE_MARKER_TOKENS;
    const context = policyModel.transformer.context;
    if (needed > context) {
      error('policy.think_tokens', `prompt ${prompt} + think ${think} + answer ${answer} + ${RESPONSE_MARKER_TOKENS} marker tokens = ${needed} tokens, more than the context of model \`${init.name}\` (${context})`, {
        hint: 'shorten the budgets or give the model a longer context',
      });
    }
  }
  if (ir.reward.kind !== 'module' && ir.policy.answer_tokens > ir.filter.window_tokens) {
    error('policy.answer_tokens', `answers of up to ${ir.policy.answer_tokens} tokens are longer than the ground-truth window (${ir.filter.window_tokens} tokens)`, {
      hint: 'the reward compares the answer with the window, so the extra tokens could never be rewarded; raise `window` in filter',
    });
  }

  const { batch, updates_per_batch: updates, steps } = ir.learner;
  if (batch % ir.actors.samplers !== 0) {
    error('learner.batch', `batch ${batch} does not divide among ${ir.actors.samplers} samplers`, {
      hint: 'every sampler draws the same number of contexts per step, so batch must be a multiple of `samplers`',
    });
  }
  if (batch % updates !== 0) {
    error('learner.updates_per_batch', `batch ${batch} does not split into ${updates} updates`, {
      hint: 'each update takes whole groups: batch must be a multiple of `updates_per_batch`',
    });
  }
  if (ir.learner.warmup >= steps) error('learner.warmup', `warmup of ${ir.learner.warmup} steps leaves none of the ${steps} steps`);
  if (ir.learner.dynamic_sampling_after !== null && ir.learner.dynamic_sampling_after >= steps) {
    error('learner.dynamic_sampling_after', `dynamic sampling from step ${ir.learner.dynamic_sampling_after} never starts in a run of ${steps} steps`);
  }

  const source = ir.corpus.source;
  if (source.kind === 'files') {
    for (const pattern of source.paths) {
      if (expandGlob(pattern, baseDir).length === 0) error('corpus.source.paths', `no file matches ${JSON.stringify(pattern)}`, { hint: RELATIVE_PATHS });
    }
  }
  if (ir.corpus.tokenizer.kind === 'file') requireFile('corpus.tokenizer.path', ir.corpus.tokenizer.path, 'tokenizer file');
  if (ir.reward.kind === 'module') {
    if (!/\.(ts|js|mjs)$/.test(ir.reward.path)) error('reward.path', `reward module ${JSON.stringify(ir.reward.path)} is not a .ts, .js or .mjs file`);
    else requireFile('reward.path', ir.reward.path, 'reward module');
  }
  return diagnostics;

  function checkRef(ref: ModelRefIR, path: string): void {
    if (ref.kind === 'checkpoint') return requireCheckpoint(path, ref.path);
    if (modelNames.includes(ref.name)) return;
    error(path, `no model named \`${ref.name}\``, {
      expected: modelNames.length ? `one of ${modelNames.join(', ')}, or a checkpoint path in quotes` : 'a checkpoint path in quotes (this file declares no model)',
      hint: didYouMean(ref.name, modelNames),
    });
  }

  // A checkpoint is named by its folder or by the model.safetensors in it, as the loader takes it.
  function requireCheckpoint(path: string, file: string): void {
    const full = resolve(baseDir, file);
    if (existsSync(full) && statSync(full).isDirectory()) {
      if (!existsSync(join(full, 'model.safetensors'))) error(path, `checkpoint folder ${JSON.stringify(file)} holds no model.safetensors`);
      return;
    }
    requireFile(path, file, 'checkpoint');
  }

  function requireFile(path: string, file: string, what: string): void {
    const full = resolve(baseDir, file);
    if (!existsSync(full)) error(path, `${what} ${JSON.stringify(file)} does not exist`, { hint: RELATIVE_PATHS });
    else if (!statSync(full).isFile()) error(path, `${what} ${JSON.stringify(file)} is not a file`);
  }
}

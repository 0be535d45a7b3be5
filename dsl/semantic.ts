import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { diagnostic, type Diagnostic } from './diagnostics.ts';
import { expandGlob } from './glob.ts';
import type { ExperimentIR, ModelRefIR } from './ir.ts';
import { locate, type Context } from './read.ts';
import { didYouMean } from './suggest.ts';
import { SPECIAL_TOKENS } from '../src/tokenizer/special-tokens.ts';
import { formatWindowRows } from '../src/stages/format-windows.ts';
import { fileSha256, readHuggingfaceFolder, type HuggingfaceFolder } from './huggingface.ts';

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

  const folders = new Map<string, HuggingfaceFolder | undefined>(); // model name -> its folder, when it reads
  for (const [name, model] of Object.entries(ir.models)) {
    const t = model.transformer;
    const hf = model.huggingface;
    if ((t === null) === (hf === null)) {
      error(`models.${name}`, t === null ? `model \`${name}\` needs \`transformer { ... }\` or \`huggingface "folder"\`` : `model \`${name}\` has both \`transformer\` and \`huggingface\``, {
        expected: 'transformer { layers 4, dim 128, heads 4, context 96 }  |  huggingface "models/SmolLM2-135M-Instruct"',
      });
      continue;
    }
    if (hf !== null) {
      const at = `models.${name}.huggingface`;
      const full = resolve(baseDir, hf.path);
      let folder: HuggingfaceFolder | undefined;
      try {
        folder = readHuggingfaceFolder(full, hf.path);
      } catch (problem) {
        error(`${at}.path`, (problem as Error).message, { hint: RELATIVE_PATHS });
      }
      folders.set(name, folder);
      if (folder && hf.context !== null && hf.context > folder.maxContext) {
        error(`${at}.context`, `context ${hf.context} is longer than the ${folder.maxContext} positions the model was trained on (max_position_embeddings in config.json)`);
      }
      if (model.pretrain) {
        error(`models.${name}.pretrain`, `model \`${name}\` is a pre-trained Hugging Face model; continued pre-training of one is not supported`, {
          hint: 'eval { baselines [ntp_matched] } trains it further on next tokens as the compute-matched control',
        });
      }
      continue;
    }
    const tr = t!;
    const at = `models.${name}.transformer`;
    if (tr.dim % tr.heads !== 0) error(`${at}.heads`, `${tr.heads} heads do not divide dim ${tr.dim}`, { hint: 'each head gets dim / heads channels' });
    else if ((tr.dim / tr.heads) % 2 !== 0) error(`${at}.heads`, `head size ${tr.dim / tr.heads} is odd`, { hint: 'rotary position embedding rotates channel pairs: dim / heads must be even' });
    const tok = ir.corpus.tokenizer;
    if (tok.kind === 'bpe' && tr.vocab !== null && tr.vocab !== tok.vocab) {
      error(`${at}.vocab`, `vocab ${tr.vocab} differs from the tokenizer's ${tok.vocab}`, { hint: 'leave `vocab` out to take it from the tokenizer' });
    }
    const p = model.pretrain;
    if (p && p.warmup >= p.steps) error(`models.${name}.pretrain.warmup`, `warmup of ${p.warmup} steps leaves none of the ${p.steps} steps`);
    if (p && p.min_lr > p.lr) error(`models.${name}.pretrain.min_lr`, `min_lr ${p.min_lr} is above lr ${p.lr}`);
    if (p && p.format_share > 0 && formatWindowRows(p.format_share, p.batch) === 0) {
      error(`models.${name}.pretrain.format_share`, `format ${p.format_share * 100}% of a batch of ${p.batch} windows rounds to no window`, { hint: `at least ${Math.ceil(50 / p.batch)}% gives one` });
    }
  }
  checkTokenizers();

  const { easy, medium, hard } = ir.filter.difficulty;
  if (!(easy < medium)) error('filter.difficulty.medium', `difficulty thresholds must ascend: medium ${medium} is not above easy ${easy}`);
  if (!(medium < hard)) error('filter.difficulty.hard', `difficulty thresholds must ascend: hard ${hard} is not above medium ${medium}`);

  const init = ir.policy.init;
  const policyModel = init.kind === 'model' ? ir.models[init.name] : undefined;
  const initName = init.kind === 'model' ? init.name : init.path;
  const format = ir.policy.format;
  const { min_prompt_tokens: prompt, think_tokens: think, answer_tokens: answer } = ir.policy;
  if (format.kind === 'boxed' && !policyModel?.huggingface) {
    const start = init.kind === 'model' ? `model \`${init.name}\`, which is trained here` : `checkpoint ${JSON.stringify(init.path)}`;
    error('policy.format', `format boxed renders prompts with a Hugging Face model's chat template, but the policy starts from ${start}`, { hint: 'use `format special`' });
  }
  if (policyModel?.transformer && format.kind === 'special') {
    const needed = prompt + think + answer + RESPONSE_MARKER_TOKENS;
    const context = policyModel.transformer.context;
    if (needed > context) {
      error('policy.think_tokens', `prompt ${prompt} + think ${think} + answer ${answer} + ${RESPONSE_MARKER_TOKENS} marker tokens = ${needed} tokens, more than the context of model \`${initName}\` (${context})`, {
        hint: 'shorten the budgets or give the model a longer context',
      });
    }
  }
  const policyFolder = init.kind === 'model' ? folders.get(init.name) : undefined;
  if (policyModel?.huggingface && policyFolder) {
    const context = policyModel.huggingface.context ?? policyFolder.maxContext;
    if (prompt + think + answer > context) {
      error('policy.think_tokens', `prompt ${prompt} + think ${think} + answer ${answer} tokens = ${prompt + think + answer}, more than the context of model \`${initName}\` (${context})`, {
        hint: 'shorten the budgets or give the model a longer `context`',
      });
    }
    if (format.kind === 'boxed' && !policyFolder.chatTemplate) error('policy.format', `format boxed needs a chat template, but ${policyFolder.tokenizerConfigPath} has no chat_template`, { hint: 'use `format special` with a model whose tokenizer has the marker tokens' });
    const missing = SPECIAL_TOKENS.filter((token) => !policyFolder.tokens.has(token));
    if (format.kind === 'special' && missing.length > 0) {
      error('policy.format', `format special needs the marker tokens ${SPECIAL_TOKENS.join(' ')} in the model's tokenizer, and ${policyFolder.tokenizerPath} lacks ${missing.join(' ')}`, { hint: 'use `format boxed`, the paper\'s format through the chat template' });
    }
  }
  if (format.kind === 'special' && ir.reward.kind !== 'module' && answer > ir.filter.window_tokens) {
    error('policy.answer_tokens', `answers of up to ${answer} tokens are longer than the ground-truth window (${ir.filter.window_tokens} tokens)`, {
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

  // Every Hugging Face model in use reads text with the corpus's tokenizer: the token ids, and
  // the token boundaries the reward checks, are the model's own.
  function checkTokenizers(): void {
    const tok = ir.corpus.tokenizer;
    if (tok.kind === 'model') {
      const model = ir.models[tok.name];
      if (!model) {
        error('corpus.tokenizer.name', `no model named \`${tok.name}\``, { hint: didYouMean(tok.name, modelNames) });
        return;
      }
      if (!model.huggingface) {
        error('corpus.tokenizer.name', `model \`${tok.name}\` is trained here; \`tokenizer model NAME\` names a Hugging Face model's tokenizer`);
        return;
      }
    }
    const corpusSha = tok.kind === 'model' ? folders.get(tok.name)?.tokenizerSha256 : tok.kind === 'file' ? fileSha256(resolve(baseDir, tok.path)) : undefined;
    const uses: [ModelRefIR, string][] = [[ir.policy.init, 'policy.init']];
    // A proxy left out is the policy's model: one error for both.
    if (JSON.stringify(ir.filter.proxy) !== JSON.stringify(ir.policy.init)) uses.push([ir.filter.proxy, 'filter.proxy']);
    for (const [ref, path] of uses) {
      if (ref.kind !== 'model' || !ir.models[ref.name]?.huggingface) continue;
      const folder = folders.get(ref.name);
      if (!folder) continue;
      if (tok.kind === 'bpe') {
        error(path, `model \`${ref.name}\` is a Hugging Face model, but the corpus trains a tokenizer of its own`, { hint: `write \`tokenizer model ${ref.name}\` in corpus, or leave \`tokenizer\` out` });
      } else if (corpusSha !== undefined && corpusSha !== folder.tokenizerSha256) {
        error(path, `model \`${ref.name}\` was trained with ${folder.tokenizerPath}, which differs from the corpus's tokenizer`, { hint: 'the policy, the proxy and the corpus must share one tokenizer' });
      }
    }
  }

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

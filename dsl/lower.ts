import type { Entry, Value } from './ast.ts';
import { BROWN_CATEGORIES } from './schema.ts';
import {
  argsAfter, child, describe, flagOf, isWord, listKey, numberKey, numberOf, oneArgument, pairKey, put, rangeOf, readEntries,
  rejectBlock, report, stringOf, valueKey, wordOf, type Context, type Keys, type KeySpec, type Read, type Target,
} from './read.ts';

// Lowering: the syntax tree becomes the raw IR (plain JSON, not yet validated) and a source map
// from IR paths to spans. Each table below is one block of the language: its keys, what each
// reads, and the usage shown when an entry is wrong. Ranges and defaults are the schema's job.

const word = wordOf;
const string = stringOf;

function modelRef(to: Target, value: Value, usage: string): Read | undefined {
  if (value.kind === 'word') return { value: { kind: 'model', name: value.name }, span: value.span };
  if (value.kind === 'string') return { value: { kind: 'checkpoint', path: value.value }, span: value.span };
  report(to.ctx, value.span, `expected a model name or a checkpoint path in quotes, found ${describe(value)}`, { expected: usage });
  return undefined;
}

// A block entry: `key { ... }`, with `header` reading any arguments before the block.
function blockKey(field: string, usage: string, keys: Keys, header?: (entry: Entry, to: Target) => void): KeySpec {
  return {
    usage,
    field,
    read(entry, to) {
      const inner = child(to, field, entry);
      if (header) header(entry, inner);
      else if (entry.args.length > 0) report(to.ctx, entry.args[0].span, `\`${entry.key}\` takes a block, not ${describe(entry.args[0])}`, { expected: usage });
      readEntries(entry.block?.entries ?? [], keys, inner, `\`${entry.key}\``);
    },
  };
}

// `learner grpo { ... }`, `tokenizer bpe { ... }`: one word naming the kind, before the block.
function kindHeader(field: string, usage: string) {
  return (entry: Entry, to: Target) => {
    if (entry.args.length === 1) put(to, field, word(to, entry.args[0], usage), entry.key);
    else if (entry.args.length > 1) report(to.ctx, entry.args[1].span, `unexpected ${describe(entry.args[1])}`, { expected: usage });
  };
}

const difficultyKeys: Keys = {
  easy: numberKey('easy', 'easy 0.5'),
  medium: numberKey('medium', 'medium 1.0'),
  hard: numberKey('hard', 'hard 1.5'),
};

const filterKeys: Keys = {
  proxy: valueKey('proxy', 'proxy base  |  proxy "checkpoints/proxy.safetensors"', modelRef),
  entropy: numberKey('entropy_top_k', 'entropy top 16', { words: ['top'] }),
  keep: numberKey('keep_above', 'keep above 0.5', { words: ['above'] }),
  window: numberKey('window_tokens', 'window 8 tokens', { units: ['tokens'] }),
  difficulty: blockKey('difficulty', 'difficulty { easy 0.5, medium 1.0, hard 1.5 }', difficultyKeys),
};

const FORMAT_USAGE = 'format special  |  format boxed  |  format boxed { instruction "...", thinking on }';
const boxedKeys: Keys = {
  instruction: valueKey('instruction', 'instruction "Continue the text ..."', string),
  thinking: valueKey('thinking', 'thinking on', flagOf),
};

const policyKeys: Keys = {
  init: valueKey('init', 'init base  |  init "checkpoints/base.safetensors"', modelRef),
  format: blockKey('format', FORMAT_USAGE, boxedKeys, kindHeader('kind', FORMAT_USAGE)),
  think: numberKey('think_tokens', 'think up to 32 tokens', { words: ['up', 'to'], units: ['tokens'] }),
  answer: numberKey('answer_tokens', 'answer up to 4 tokens', { words: ['up', 'to'], units: ['tokens'] }),
  prompt: numberKey('min_prompt_tokens', 'prompt at least 8 tokens', { words: ['at', 'least'], units: ['tokens'] }),
  temperature: numberKey('temperature', 'temperature 0.8'),
  top_p: numberKey('top_p', 'top_p 0.95', { units: ['%'] }),
  top_k: numberKey('top_k', 'top_k 40'),
};

const learnerKeys: Keys = {
  rollouts: numberKey('rollouts', 'rollouts 8'),
  batch: numberKey('batch', 'batch 64'),
  lr: numberKey('lr', 'lr 1e-4'),
  betas: pairKey('betas', 'betas 0.9 0.999'),
  weight_decay: numberKey('weight_decay', 'weight_decay 0.01'),
  clip: {
    usage: 'clip 0.2  |  clip 0.2..0.28 (low..high)',
    field: 'clip_low',
    read(entry, to) {
      const value = oneArgument(to, entry, this.usage);
      const range = value && rangeOf(to, value, this.usage);
      const bounds = range?.value as { min: number; max: number } | undefined;
      put(to, 'clip_low', bounds && { value: bounds.min, span: range!.span }, entry.key);
      put(to, 'clip_high', bounds && { value: bounds.max, span: range!.span }, entry.key);
    },
  },
  kl: numberKey('kl', 'kl 0'),
  loss: valueKey('loss', 'loss token_mean  |  loss seq_mean', word),
  advantage_std: valueKey('advantage_std', 'advantage_std on', flagOf),
  dynamic_sampling: {
    usage: 'dynamic_sampling after 100 steps  |  dynamic_sampling on  |  dynamic_sampling off',
    field: 'dynamic_sampling_after',
    read(entry, to) {
      const value = oneArgument(to, entry, this.usage, ['after']);
      if (value?.kind === 'word') {
        const flag = flagOf(to, value, this.usage);
        return put(to, 'dynamic_sampling_after', flag && { value: flag.value ? 0 : null, span: flag.span }, entry.key);
      }
      put(to, 'dynamic_sampling_after', value && numberOf(to, value, this.usage, ['steps']), entry.key);
    },
  },
  updates_per_batch: numberKey('updates_per_batch', 'updates_per_batch 1'),
  steps: numberKey('steps', 'steps 300', { units: ['steps'] }),
  grad_clip: numberKey('grad_clip', 'grad_clip 1.0'),
  warmup: numberKey('warmup', 'warmup 10 steps', { units: ['steps'] }),
};

const actorsKeys: Keys = {
  samplers: numberKey('samplers', 'samplers 2'),
  verifiers: numberKey('verifiers', 'verifiers 2'),
  learner: numberKey('learner', 'learner 1'),
  evaluator: numberKey('evaluator', 'evaluator 1'),
};

const evalKeys: Keys = {
  every: numberKey('every', 'every 50 steps', { units: ['steps'] }),
  documents: numberKey('documents', 'documents 200', { units: ['documents'] }),
  positions: numberKey('positions', 'positions 2000', { units: ['positions'] }),
  modes: listKey('modes', 'modes [standard, reasoning]', word),
  baselines: listKey('baselines', 'baselines [ntp_matched]', word),
};

const checkpointKeys: Keys = {
  every: numberKey('every', 'every 100 steps', { units: ['steps'] }),
  keep: numberKey('keep_last', 'keep last 3', { words: ['last'] }),
};

const transformerKeys: Keys = {
  vocab: numberKey('vocab', 'vocab 320'),
  layers: numberKey('layers', 'layers 4'),
  dim: numberKey('dim', 'dim 128'),
  heads: numberKey('heads', 'heads 4'),
  ffn: numberKey('ffn', 'ffn 352'),
  context: numberKey('context', 'context 96 tokens', { units: ['tokens'] }),
  tied: valueKey('tied_embeddings', 'tied on', flagOf),
  seed: numberKey('init_seed', 'seed 7'),
};

const pretrainKeys: Keys = {
  steps: numberKey('steps', 'steps 2000', { units: ['steps'] }),
  batch: numberKey('batch', 'batch 32'),
  lr: numberKey('lr', 'lr 3e-3'),
  min_lr: numberKey('min_lr', 'min_lr 3e-4'),
  warmup: numberKey('warmup', 'warmup 100 steps', { units: ['steps'] }),
  schedule: valueKey('schedule', 'schedule cosine  |  schedule constant', word),
  betas: pairKey('betas', 'betas 0.9 0.95'),
  weight_decay: numberKey('weight_decay', 'weight_decay 0.1'),
  grad_clip: numberKey('grad_clip', 'grad_clip 1.0'),
  format: numberKey('format_share', 'format 25%', { units: ['%'] }),
  eval: numberKey('eval_every', 'eval every 100 steps', { words: ['every'], units: ['steps'] }),
  checkpoint: numberKey('checkpoint_every', 'checkpoint every 500 steps', { words: ['every'], units: ['steps'] }),
};

const HUGGINGFACE_USAGE = 'huggingface "models/SmolLM2-135M-Instruct"  |  huggingface "models/Qwen3-0.6B" { context 512 tokens }';
const huggingfaceKeys: Keys = {
  context: numberKey('context', 'context 512 tokens', { units: ['tokens'] }),
};

const modelKeys: Keys = {
  transformer: blockKey('transformer', 'transformer { layers 4, dim 128, heads 4, context 96 }', transformerKeys),
  huggingface: blockKey('huggingface', HUGGINGFACE_USAGE, huggingfaceKeys, (entry, to) => {
    if (entry.args.length === 1) put(to, 'path', string(to, entry.args[0], HUGGINGFACE_USAGE), entry.key);
    else report(to.ctx, entry.args[1]?.span ?? entry.keySpan, '`huggingface` takes the path of one model folder, in quotes', { expected: HUGGINGFACE_USAGE });
  }),
  pretrain: blockKey('pretrain', 'pretrain { steps 2000, batch 32, lr 3e-3 }', pretrainKeys),
};

const arithmeticKeys: Keys = {
  digits: valueKey('digits', 'digits 2..4', rangeOf),
  problems: numberKey('problems', 'problems 20k'),
  traces: numberKey('traces', 'traces 50%', { units: ['%'] }),
  operands: valueKey('operands', 'operands 2..3', rangeOf),
  ops: listKey('ops', 'ops [add, sub, mul]', word),
};
const brownKeys: Keys = {
  categories: listKey('categories', `categories [news, fiction]  (any of: ${BROWN_CATEGORIES.join(', ')})`, word),
};
const filesKeys: Keys = {
  format: valueKey('format', 'format txt  |  format jsonl', word),
  field: valueKey('field', 'field "text"', string),
};

// Every corpus source writes `corpus.source`; a second one is an error at its key.
function sourceKey(kind: string, usage: string, keys: Keys, header: (entry: Entry, to: Target) => boolean): KeySpec {
  return {
    usage,
    field: 'source',
    label: 'a source (generate, brown or files)',
    read(entry, to) {
      if ('source' in to.object) {
        report(to.ctx, entry.keySpan, `the corpus already has a source`, { expected: 'one of generate, brown, files per corpus' });
        return;
      }
      const inner = child(to, 'source', entry, { kind });
      if (!header(entry, inner)) {
        to.ctx.failed.add(inner.path);
        return;
      }
      readEntries(entry.block?.entries ?? [], keys, inner, `\`${entry.key}\``);
    },
  };
}

const GENERATE_USAGE = 'generate arithmetic { digits 2..4, problems 20k, traces 50% }';
const FILES_USAGE = 'files "data/*.txt"  |  files ["a.jsonl", "b.jsonl"] { format jsonl, field "text" }';

const corpusKeys: Keys = {
  generate: sourceKey('arithmetic', GENERATE_USAGE, arithmeticKeys, (entry, to) => {
    if (entry.args.length === 1 && isWord(entry.args[0], 'arithmetic')) return true;
    const at = entry.args[0] ?? entry;
    report(to.ctx, at.span, entry.args.length ? `unknown generator ${describe(entry.args[0])}` : '`generate` needs a generator', {
      expected: GENERATE_USAGE,
    });
    return false;
  }),
  brown: sourceKey('brown', 'brown  |  brown { categories [news, fiction] }', brownKeys, (entry, to) => {
    if (entry.args.length === 0) return true;
    report(to.ctx, entry.args[0].span, `\`brown\` takes no arguments`, { expected: 'brown { categories [news, fiction] }' });
    return false;
  }),
  files: sourceKey('files', FILES_USAGE, filesKeys, (entry, to) => {
    const value = entry.args.length === 1 ? entry.args[0] : undefined;
    if (!value) {
      report(to.ctx, entry.args[1]?.span ?? entry.keySpan, '`files` takes one path or glob, or a list of them', { expected: FILES_USAGE });
      return false;
    }
    const paths = value.kind === 'list' ? value.items : [value];
    const reads = paths.map((p) => string(to, p, FILES_USAGE));
    if (reads.some((r) => !r)) return false;
    put(to, 'paths', { value: reads.map((r) => r!.value), span: value.span }, entry.key);
    return true;
  }),
  tokenizer: {
    usage: 'tokenizer bpe { vocab 320 }  |  tokenizer file "tokenizer.json"  |  tokenizer model base',
    field: 'tokenizer',
    read(entry, to) {
      const inner = child(to, 'tokenizer', entry);
      const [kind, path, extra] = entry.args;
      if (isWord(kind, 'file') && path && !extra) {
        inner.object.kind = 'file';
        put(inner, 'path', string(to, path, this.usage), entry.key);
        rejectBlock(to, entry, this.usage);
        return;
      }
      if (isWord(kind, 'model') && path && !extra) {
        inner.object.kind = 'model';
        put(inner, 'name', word(to, path, this.usage), entry.key);
        rejectBlock(to, entry, this.usage);
        return;
      }
      if (isWord(kind, 'bpe') && !path) {
        inner.object.kind = 'bpe';
        readEntries(entry.block?.entries ?? [], { vocab: numberKey('vocab', 'vocab 320') }, inner, '`tokenizer bpe`');
        return;
      }
      report(to.ctx, kind?.span ?? entry.keySpan, 'expected `bpe { vocab N }`, `file "path"` or `model NAME` after `tokenizer`', { expected: this.usage });
      to.ctx.failed.add(inner.path);
    },
  },
  holdout: numberKey('holdout', 'holdout 5%', { units: ['%'] }),
};

// A module's options are free-form: any key, any value, handed to the module as JSON.
function optionValue(values: Value[], block: Entry['block']): unknown {
  if (block) return Object.fromEntries(block.entries.map((e) => [e.key, optionValue(e.args, e.block)]));
  if (values.length === 0) return true;
  if (values.length > 1) return values.map((v) => optionValue([v], null));
  const value = values[0];
  switch (value.kind) {
    case 'number':
      return value.unit === '%' ? value.value / 100 : value.unit === 's' ? value.value * 1000 : value.value;
    case 'range':
      return { min: value.from.value, max: value.to.value };
    case 'word':
      return value.name === 'true' || value.name === 'on' ? true : value.name === 'false' || value.name === 'off' ? false : value.name;
    case 'string':
      return value.value;
    case 'list':
      return value.items.map((v) => optionValue([v], null));
  }
}

const REWARD_USAGE = 'reward prefix_match  |  reward first_token  |  reward dense  |  reward module "rewards/mine.ts" { timeout 2s, options { ... } }';
const moduleRewardKeys: Keys = {
  timeout: numberKey('timeout_ms', 'timeout 2s  |  timeout 500ms', { units: ['ms'] }),
  options: {
    usage: 'options { weight 0.5, mode strict }',
    field: 'options',
    read(entry, to) {
      if (entry.args.length > 0 || !entry.block) {
        report(to.ctx, entry.args[0]?.span ?? entry.keySpan, '`options` takes a block', { expected: this.usage });
        return put(to, 'options', undefined, entry.key);
      }
      put(to, 'options', { value: optionValue([], entry.block), span: entry.keySpan }, entry.key);
    },
  },
};

const rewardKey: KeySpec = {
  usage: REWARD_USAGE,
  field: 'reward',
  read(entry, to) {
    const inner = child(to, 'reward', entry);
    const [kind, path, extra] = entry.args;
    if (!kind) {
      report(to.ctx, entry.keySpan, '`reward` needs a kind', { expected: REWARD_USAGE });
      to.ctx.failed.add(inner.path);
      return;
    }
    put(inner, 'kind', word(to, kind, REWARD_USAGE), entry.key);
    if (isWord(kind, 'module')) {
      if (!path || extra) {
        report(to.ctx, extra?.span ?? kind.span, '`reward module` takes one path in quotes', { expected: REWARD_USAGE });
        to.ctx.failed.add(inner.path);
        return;
      }
      put(inner, 'path', string(to, path, REWARD_USAGE), entry.key);
      readEntries(entry.block?.entries ?? [], moduleRewardKeys, inner, '`reward module`');
      return;
    }
    if (path) report(to.ctx, path.span, `unexpected ${describe(path)}`, { expected: REWARD_USAGE });
    else rejectBlock(to, entry, REWARD_USAGE);
  },
};

// `model NAME { ... }` may appear once per name.
const modelKey: KeySpec = {
  usage: 'model base { transformer { ... } pretrain { ... } }',
  field: 'models',
  read(entry, to) {
    const [name, extra] = entry.args;
    if (name?.kind !== 'word' || extra) {
      report(to.ctx, (extra ?? name ?? entry).span, '`model` needs one name before its block', { expected: this.usage });
      return;
    }
    const models = (to.object.models ??= {}) as Record<string, unknown>;
    if (name.name in models) {
      report(to.ctx, name.span, `model \`${name.name}\` is declared twice`);
      return;
    }
    const inner = child({ ...to, object: models, path: 'models' }, name.name, { ...entry, keySpan: name.span });
    readEntries(entry.block?.entries ?? [], modelKeys, inner, `model \`${name.name}\``);
  },
};

const experimentKeys: Keys = {
  seed: numberKey('seed', 'seed 7'),
  output: valueKey('output', 'output "runs/arith"', string),
  corpus: blockKey('corpus', 'corpus { generate ... , tokenizer ... , holdout 5% }', corpusKeys),
  model: modelKey,
  filter: blockKey('filter', 'filter { proxy base, entropy top 16, keep above 0.5 }', filterKeys),
  policy: blockKey('policy', 'policy { init base, think up to 32 tokens, answer up to 4 tokens }', policyKeys),
  reward: rewardKey,
  learner: blockKey('learner', 'learner grpo { rollouts 8, batch 64, lr 1e-4, steps 300 }', learnerKeys, kindHeader('algorithm', 'learner grpo { ... }')),
  actors: blockKey('actors', 'actors { samplers 2, verifiers 2 }', actorsKeys),
  eval: blockKey('eval', 'eval every 50 steps { modes [standard, reasoning] }', evalKeys),
  checkpoint: blockKey('checkpoint', 'checkpoint every 100 steps { keep last 3 }', checkpointKeys),
};

// `eval every 50 steps { ... }` is `eval { every 50 steps, ... }` written in a header. Lifting the
// header into the block first gives `--set eval.every=...` one place to change.
function liftEveryHeader(entry: Entry): Entry {
  if ((entry.key !== 'eval' && entry.key !== 'checkpoint') || !isWord(entry.args[0], 'every')) return entry;
  const every: Entry = { key: 'every', keySpan: entry.args[0].span, args: argsAfter(entry, ['every']), block: null, span: entry.span };
  const block = entry.block ?? { entries: [], span: entry.span };
  return { ...entry, args: [], block: { ...block, entries: [every, ...block.entries] } };
}

export const EXPERIMENT_USAGE = 'experiment NAME { ... }';

// Returns the raw IR, or null when the file has no experiment to lower.
export function lowerExperiment(ctx: Context, entries: Entry[], applyOverrides: (entries: Entry[]) => void): Record<string, unknown> | null {
  const experiments = entries.filter((e) => e.key === 'experiment');
  for (const stray of entries.filter((e) => e.key !== 'experiment')) {
    report(ctx, stray.keySpan, `unexpected \`${stray.key}\` outside the experiment`, { expected: EXPERIMENT_USAGE });
  }
  for (const extra of experiments.slice(1)) report(ctx, extra.keySpan, 'a file holds one experiment', { expected: 'a single experiment block' });
  const experiment = experiments[0];
  if (!experiment) {
    if (entries.length === 0) report(ctx, { start: 0, end: 0 }, 'no experiment in this file', { expected: EXPERIMENT_USAGE });
    return null;
  }
  const [name, extra] = experiment.args;
  if (name?.kind !== 'word' || extra || !experiment.block) {
    report(ctx, (extra ?? name ?? experiment).span, '`experiment` needs a name and a block', { expected: EXPERIMENT_USAGE });
    return null;
  }
  const body = experiment.block.entries.map(liftEveryHeader);
  applyOverrides(body);
  const raw: Record<string, unknown> = { name: name.name };
  ctx.sourceMap.set('name', { span: name.span, key: 'experiment' });
  readEntries(body, experimentKeys, { ctx, object: raw, path: '' }, `experiment \`${name.name}\``, ['model']);
  return raw;
}

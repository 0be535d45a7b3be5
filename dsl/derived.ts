import type { SourceMap } from './read.ts';
import { DEFAULT_SEED } from './schema.ts';

// Defaults that depend on other values. They are filled into the raw IR after `--set` overrides
// (so an override of `dim` also moves the default `ffn`) and before validation.

type Raw = Record<string, unknown>;

function objectAt(raw: Raw, ...path: string[]): Raw | undefined {
  let node: unknown = raw;
  for (const key of path) node = node && typeof node === 'object' && !Array.isArray(node) ? (node as Raw)[key] : undefined;
  return node && typeof node === 'object' && !Array.isArray(node) ? (node as Raw) : undefined;
}

// Llama's SwiGLU width: 8/3 of the model width, rounded up to a multiple of 32.
export function defaultFfn(dim: number): number {
  return Math.ceil((dim * 8) / 3 / 32) * 32;
}

export function fillDerivedDefaults(raw: Raw, sourceMap: SourceMap, failed: Set<string>): void {
  raw.output ??= `runs/${raw.name}`;
  const seed = typeof raw.seed === 'number' ? raw.seed : DEFAULT_SEED;
  const tokenizer = objectAt(raw, 'corpus', 'tokenizer');
  const bpeVocab = tokenizer?.kind === 'bpe' && typeof tokenizer.vocab === 'number' ? tokenizer.vocab : null;
  for (const name of Object.keys(objectAt(raw, 'models') ?? {})) {
    const transformer = objectAt(raw, 'models', name, 'transformer');
    if (transformer) {
      transformer.vocab ??= bpeVocab;
      if (transformer.ffn === undefined && typeof transformer.dim === 'number') transformer.ffn = defaultFfn(transformer.dim);
      transformer.init_seed ??= seed;
    }
    const pretrain = objectAt(raw, 'models', name, 'pretrain');
    if (pretrain && pretrain.min_lr === undefined && typeof pretrain.lr === 'number') pretrain.min_lr = Number((pretrain.lr / 10).toPrecision(12));
  }
  // A policy that starts from a Hugging Face model reads the corpus with that model's tokenizer
  // and answers in the paper's format through its chat template; one trained here uses the
  // project's marker tokens.
  const init = objectAt(raw, 'policy', 'init');
  const initModel = init?.kind === 'model' && typeof init.name === 'string' ? objectAt(raw, 'models', init.name) : undefined;
  const pretrained = initModel?.huggingface !== undefined;
  const corpus = objectAt(raw, 'corpus');
  if (corpus && corpus.tokenizer === undefined && pretrained) {
    corpus.tokenizer = { kind: 'model', name: init!.name };
    const from = sourceMap.get('policy.init');
    if (from) sourceMap.set('corpus.tokenizer', from);
  }
  const policyBlock = objectAt(raw, 'policy');
  if (policyBlock && policyBlock.format === undefined) policyBlock.format = { kind: pretrained ? 'boxed' : 'special' };
  // Without a proxy of its own, the filter scores entropy with the model the policy starts from.
  // When the policy's `init` was itself wrong, that error is the only one to report.
  const policy = objectAt(raw, 'policy');
  const initFailed = failed.has('policy.init');
  if (policy?.init !== undefined || initFailed) {
    const filter = (raw.filter ??= {}) as Raw;
    if (filter.proxy === undefined && initFailed) failed.add('filter.proxy');
    else if (filter.proxy === undefined) {
      filter.proxy = policy!.init;
      const from = sourceMap.get('policy.init');
      if (from) sourceMap.set('filter.proxy', from);
    }
  }
}

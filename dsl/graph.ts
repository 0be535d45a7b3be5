import type { ExperimentIR } from './ir.ts';

// The compiled plan of a run: which actors exist (role, how many, in which stage), which
// channels connect them and what flows along each, and the order the stages run in. `rpt graph`
// prints it. The RPT stage's part is what `rpt run` starts (runtime/rpt-graph.ts, and the
// evaluator of runtime/evaluator.ts beside it); the earlier stages run in the main thread with
// piscina pools where the plan says `pool`.

export const STAGES = ['tokenizer', 'pretrain', 'filter', 'rpt', 'eval'] as const;
export type Stage = (typeof STAGES)[number];

export interface ActorPlan {
  id: string;
  role: 'corpus' | 'tokenizer' | 'pretrainer' | 'filter' | 'feeder' | 'sampler' | 'verifier' | 'learner' | 'weights' | 'ntp_baseline' | 'evaluator';
  count: number;
  // `worker`: a dedicated thread with a mailbox and state; `pool`: stateless tasks on a pool;
  // `shared`: memory every worker maps (the weight store's SharedArrayBuffer).
  kind: 'worker' | 'pool' | 'shared';
  stage: Stage;
  detail: string;
}

export interface ChannelPlan {
  from: string;
  to: string;
  carries: string;
}

export interface GraphPlan {
  experiment: string;
  stages: { name: Stage; actors: string[] }[];
  actors: ActorPlan[];
  channels: ChannelPlan[];
}

export function compileGraph(ir: ExperimentIR): GraphPlan {
  const actors: ActorPlan[] = [];
  const channels: ChannelPlan[] = [];
  const actor = (a: ActorPlan) => actors.push(a);
  const channel = (from: string, to: string, carries: string) => channels.push({ from, to, carries });

  actor({ id: 'corpus', role: 'corpus', count: 1, kind: 'worker', stage: 'tokenizer', detail: describeCorpus(ir) });
  const tok = ir.corpus.tokenizer;
  actor({ id: 'tokenizer', role: 'tokenizer', count: 1, kind: 'pool', stage: 'tokenizer', detail: describeTokenizer(ir) });
  channel('corpus', 'tokenizer', 'documents');

  // The actor holding a reference's weights once pretraining is over, if it is trained here.
  const weightsOf = (ref: ExperimentIR['policy']['init']): string | null =>
    ref.kind === 'model' && ir.models[ref.name]?.pretrain ? `pretrain.${ref.name}` : null;

  for (const [name, model] of Object.entries(ir.models)) {
    const t = model.transformer;
    const p = model.pretrain;
    if (!p || !t) continue;
    actor({
      id: `pretrain.${name}`, role: 'pretrainer', count: 1, kind: 'worker', stage: 'pretrain',
      detail: `${t.layers} layers x ${t.dim} dim, ${t.heads} heads, context ${t.context}; ${p.steps} steps, batch ${p.batch}, lr ${p.lr}`,
    });
    channel('tokenizer', `pretrain.${name}`, 'token sequences');
  }

  const f = ir.filter;
  actor({
    id: 'filter', role: 'filter', count: 1, kind: 'worker', stage: 'filter',
    detail: `proxy ${refName(f.proxy)}, entropy top ${f.entropy_top_k}, keep above ${f.keep_above}, window ${f.window_tokens} tokens`,
  });
  channel('tokenizer', 'filter', 'token sequences');
  const proxyWeights = weightsOf(f.proxy);
  if (proxyWeights) channel(proxyWeights, 'filter', 'proxy weights');

  const p = ir.policy;
  const l = ir.learner;
  actor({ id: 'feeder', role: 'feeder', count: 1, kind: 'worker', stage: 'rpt', detail: 'kept train positions, contexts by index' });
  actor({
    id: 'sampler', role: 'sampler', count: ir.actors.samplers, kind: 'worker', stage: 'rpt',
    detail: `${l.rollouts} rollouts per context, think ${p.think_tokens} + answer ${p.answer_tokens} tokens, temperature ${p.temperature}, format ${p.format.kind}`,
  });
  actor({ id: 'verifier', role: 'verifier', count: ir.actors.verifiers, kind: 'pool', stage: 'rpt', detail: `reward ${describeReward(ir)}` });
  actor({
    id: 'learner', role: 'learner', count: 1, kind: 'worker', stage: 'rpt',
    detail: `${l.algorithm}, batch ${l.batch} contexts, lr ${l.lr}, ${l.steps} steps`,
  });
  actor({ id: 'weights', role: 'weights', count: 1, kind: 'shared', stage: 'rpt', detail: `versioned policy weights from ${refName(p.init)}` });
  channel('filter', 'feeder', 'kept positions');
  channel('feeder', 'sampler', 'contexts');
  channel('sampler', 'verifier', 'rollouts');
  channel('verifier', 'learner', 'rewarded rollouts');
  channel('learner', 'weights', 'weights');
  channel('weights', 'sampler', 'weights');
  const initWeights = weightsOf(p.init);
  if (initWeights) channel(initWeights, 'weights', 'initial weights');

  const e = ir.eval;
  if (e.baselines.includes('ntp_matched')) {
    actor({ id: 'ntp_baseline', role: 'ntp_baseline', count: 1, kind: 'worker', stage: 'rpt', detail: 'next-token training on the same data, compute-matched' });
    channel('tokenizer', 'ntp_baseline', 'token sequences');
    if (initWeights) channel(initWeights, 'ntp_baseline', 'initial weights');
    channel('ntp_baseline', 'evaluator', 'checkpoints');
  }
  actor({
    id: 'evaluator', role: 'evaluator', count: 1, kind: 'worker', stage: 'eval',
    detail: `every ${e.every} steps, ${e.documents} held-out documents, modes ${e.modes.join(', ')}`,
  });
  channel('learner', 'evaluator', 'checkpoints');
  channel('filter', 'evaluator', 'held-out positions by difficulty');

  const stages = STAGES.map((name) => ({ name, actors: actors.filter((a) => a.stage === name).map((a) => a.id) })).filter((s) => s.actors.length > 0);
  return { experiment: ir.name, stages, actors, channels };
}

function refName(ref: ExperimentIR['policy']['init']): string {
  return ref.kind === 'model' ? ref.name : JSON.stringify(ref.path);
}

function describeCorpus(ir: ExperimentIR): string {
  const s = ir.corpus.source;
  const holdout = `holdout ${Math.round(ir.corpus.holdout * 1000) / 10}%`;
  if (s.kind === 'arithmetic') return `generated arithmetic, ${s.problems} problems, ${s.digits.min}..${s.digits.max} digits; ${holdout}`;
  if (s.kind === 'brown') return `Brown corpus${s.categories.length ? ` (${s.categories.join(', ')})` : ''}; ${holdout}`;
  return `files ${s.paths.join(', ')} (${s.format}); ${holdout}`;
}

function describeTokenizer(ir: ExperimentIR): string {
  const tok = ir.corpus.tokenizer;
  if (tok.kind === 'bpe') return `bpe, vocab ${tok.vocab}`;
  if (tok.kind === 'file') return `file ${tok.path}`;
  return `of model ${tok.name}`;
}

function describeReward(ir: ExperimentIR): string {
  const r = ir.reward;
  return r.kind === 'module' ? `module ${r.path}, timeout ${r.timeout_ms} ms` : r.kind;
}

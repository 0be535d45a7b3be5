// The compute engine's speed on one backend: `npm run bench -- engine [--backend cpu|webgpu|auto]
// [--json] [--quick] [--steps N] [--new-tokens N]`. For the benchmark model (4 layers, dim 128,
// 4 heads, context 128, vocabulary 512, SwiGLU hidden 512): matmul GFLOP/s at 512^3 and at the
// model's shapes for a batch of 64 x 128 tokens, the time of every other op at that batch (each
// op repeated, then one sync: the average over the repeats), training tokens/s (whole steps of
// 16 x 128 tokens) and sampling tokens/s (64 sequences through the KV cache); on the cpu backend
// also each op's share of a training step's and of sampling's wall time.
import type { Backend, Tensor } from '../src/backend/backend.ts';
import { createBackend, type BackendKind } from '../src/backend/select.ts';
import { modelConfig } from '../src/model/config.ts';
import { generate } from '../src/model/generate.ts';
import { maskedCrossEntropy } from '../src/model/loss.ts';
import { AdamW } from '../src/model/optimizer.ts';
import { initParams } from '../src/model/params.ts';
import { trainStep } from '../src/model/train-step.ts';
import { Transformer } from '../src/model/transformer.ts';
import { Random } from '../src/util/random.ts';
import { type Figure, option, printFigures } from './report.ts';

export const config = modelConfig({ vocabSize: 512, layers: 4, dim: 128, heads: 4, context: 128, ffnHidden: 512 });
const OP_B = 64;
const TRAIN_B = 16;
const SAMPLE_B = 64;
const PROMPT = 8;


/** Milliseconds per call of `op`: repeated until `budgetMs` has passed, with one sync per batch of repeats. */
async function msPerCall(backend: Backend, op: () => void, budgetMs: number): Promise<number> {
  op();
  await backend.sync(); // compiles pipelines and allocates outside the timing
  let repeats = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < repeats; i++) op();
    await backend.sync();
    const ms = performance.now() - start;
    if (ms >= budgetMs || repeats >= 1024) return ms / repeats;
    repeats *= Math.ceil(Math.min(8, (2 * budgetMs) / Math.max(ms, 1)));
  }
}

async function opTimings(backend: Backend, budgetMs: number): Promise<Figure[]> {
  const random = new Random(1);
  const { dim: C, heads: NH, ffnHidden: H, vocabSize: V, context: T } = config;
  const B = OP_B, N = B * T, HS = C / NH;
  const tensors: Tensor[] = [];
  const f32 = (n: number, scale = 1) => {
    const tensor = backend.upload(Float32Array.from({ length: n }, () => (random.float() * 2 - 1) * scale));
    tensors.push(tensor);
    return tensor;
  };
  const i32 = (n: number, below: number) => {
    const tensor = backend.upload(Int32Array.from({ length: n }, () => random.int(0, below - 1)));
    tensors.push(tensor);
    return tensor;
  };
  const figures: Figure[] = [];
  const time = async (name: string, op: () => void, flops = 0) => {
    const ms = await msPerCall(backend, op, budgetMs);
    figures.push({ name: `${name}_${backend.name}`, value: ms, unit: 'ms' });
    if (flops > 0) figures.push({ name: `${name}_gflops_${backend.name}`, value: flops / ms / 1e6, unit: 'GFLOP/s' });
  };

  const shapes = { '512cubed': [512, 512, 512], attention: [N, C, C], ffn_up: [N, C, H], ffn_down: [N, H, C], lm_head: [N, C, V] };
  for (const [role, [rows, inC, outC]] of Object.entries(shapes)) {
    const inp = f32(rows * inC), weight = f32(outC * inC), out = f32(rows * outC), dinp = f32(rows * inC), dweight = f32(outC * inC);
    const shape = `${role}_${rows}x${inC}x${outC}`;
    await time(`matmul_forward_${shape}`, () => backend.matmulForward(out, inp, weight, rows, inC, outC), 2 * rows * inC * outC);
    await time(`matmul_backward_${shape}`, () => backend.matmulBackward(dinp, dweight, out, inp, weight, rows, inC, outC), 4 * rows * inC * outC);
  }

  const x = f32(N * C), y = f32(N * C), dx = f32(N * C), dy = f32(N * C), rstd = f32(N), gain = f32(C), dgain = f32(C);
  const tokens = i32(N, V), positions = i32(N, T), wte = f32(V * C), dwte = f32(V * C);
  await time('embedding_forward', () => backend.embeddingForward(x, tokens, wte, N, C));
  await time('embedding_backward', () => backend.embeddingBackward(dwte, dx, tokens, N, C));
  await time('rmsnorm_forward', () => backend.rmsnormForward(y, rstd, x, gain, N, C, 1e-5));
  await time('rmsnorm_backward', () => backend.rmsnormBackward(dx, dgain, dy, x, gain, rstd, N, C));
  await time('rope_forward', () => backend.ropeForward(y, x, positions, N, NH, HS, 10000));
  await time('rope_backward', () => backend.ropeBackward(dx, dy, positions, N, NH, HS, 10000));
  const q = f32(N * C), k = f32(N * C), v = f32(N * C), dq = f32(N * C), dk = f32(N * C), dv = f32(N * C), probs = f32(B * NH * T * T);
  await time('attention_forward', () => backend.attentionForward(y, probs, q, k, v, B, T, NH, NH, HS));
  await time('attention_backward', () => backend.attentionBackward(dq, dk, dv, dy, probs, q, k, v, B, T, NH, NH, HS));
  const gate = f32(N * H), up = f32(N * H), hidden = f32(N * H), dgate = f32(N * H), dup = f32(N * H);
  await time('swiglu_forward', () => backend.swigluForward(hidden, gate, up, N, H));
  await time('swiglu_backward', () => backend.swigluBackward(dgate, dup, hidden, gate, up, N, H));
  await time('residual_forward', () => backend.residualForward(y, x, dx, N * C));
  const logits = f32(N * V, 4), dlogits = f32(N * V), logp = f32(N), targets = i32(N, V);
  await time('logprob_forward', () => backend.logprobForward(logp, logits, targets, N, V));
  await time('logprob_backward', () => backend.logprobBackward(dlogits, logp, logits, targets, N, V));
  const n = H * C, param = f32(n), m = f32(n), second = f32(n, 0), grad = f32(n), sumSquares = f32(1);
  const settings = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1, maxGradNorm: 1 };
  await time(`sum_squares_${n}`, () => backend.sumSquares(sumSquares, grad, n));
  await time(`adamw_${n}`, () => backend.adamw(param, m, second, grad, sumSquares, n, settings));
  tensors.forEach((tensor) => backend.release(tensor));
  return figures;
}

/** GFLOP/s of one 512 x 512 x 512 matmulForward, the figure opTimings calls matmul_forward_512cubed_..._gflops. */
export async function matmulGflops512(backend: Backend, budgetMs: number): Promise<number> {
  const random = new Random(1), n = 512;
  const f32 = () => backend.upload(Float32Array.from({ length: n * n }, () => random.float() * 2 - 1));
  const inp = f32(), weight = f32(), out = f32();
  try {
    return (2 * n ** 3) / (await msPerCall(backend, () => backend.matmulForward(out, inp, weight, n, n, n), budgetMs)) / 1e6;
  } finally {
    [inp, weight, out].forEach((tensor) => backend.release(tensor));
  }
}

/**
 * Training tokens/s: whole steps (forward, loss readback, backward, AdamW) of TRAIN_B x context
 * tokens; `timed` starts once the first step (compiling pipelines) is done.
 */
export async function trainingSpeed(backend: Backend, steps: number, timed: () => void = () => {}): Promise<number> {
  const model = new Transformer(backend, config, initParams(config, 1));
  const optimizer = new AdamW(model);
  const random = new Random(2);
  const T = config.context, tokens = TRAIN_B * T;
  const batch = () => {
    const ids = Int32Array.from({ length: tokens + 1 }, () => random.int(0, config.vocabSize - 1));
    return { inputs: ids.subarray(0, tokens), targets: ids.subarray(1), B: TRAIN_B, T };
  };
  const lossHead = (logp: Float32Array) => maskedCrossEntropy(logp, new Float32Array(tokens).fill(1));
  await trainStep(model, optimizer, batch(), lossHead, 1e-3); // compiles pipelines outside the timing
  timed();
  const start = performance.now();
  for (let step = 0; step < steps; step++) await trainStep(model, optimizer, batch(), lossHead, 1e-3);
  return (steps * tokens) / ((performance.now() - start) / 1000);
}

/**
 * Sampling tokens/s: SAMPLE_B sequences from PROMPT-token prompts to the full context through the
 * KV cache; `timed` starts after a short warm-up generation.
 */
export async function samplingSpeed(backend: Backend, newTokens: number, timed: () => void = () => {}): Promise<number> {
  const model = new Transformer(backend, config, initParams(config, 1));
  const random = new Random(3);
  const request = (maxNewTokens: number) => ({
    prompts: Array.from({ length: SAMPLE_B }, () => Int32Array.from({ length: PROMPT }, () => random.int(0, config.vocabSize - 1))),
    seeds: Array.from({ length: SAMPLE_B }, (_, b) => b),
    phases: [{ maxNewTokens, stopTokens: [] }],
    sampling: { temperature: 0.8, topK: 0, topP: 1 },
  });
  await generate(model, request(2)); // compiles pipelines outside the timing
  timed();
  const start = performance.now();
  const generations = await generate(model, request(newTokens));
  const seconds = (performance.now() - start) / 1000;
  return generations.reduce((sum, generation) => sum + generation.tokens.length, 0) / seconds;
}

/**
 * The backend with the time of every op call added up by op name. Only meaningful on the cpu
 * backends, whose ops compute inside the call (webgpu's only record work).
 */
function timedOps(backend: Backend): { backend: Backend; times: Map<string, number> } {
  const times = new Map<string, number>();
  const proxy = new Proxy(backend, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return (...args: unknown[]) => {
        const start = performance.now();
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          times.set(key, (times.get(key) ?? 0) + performance.now() - start);
        }
      };
    },
  });
  return { backend: proxy, times };
}

/**
 * Where a training step's and a sampling run's time goes on a cpu backend: each op's share of the
 * wall time in percent, the rest (the loss head, sampling from the logits, bookkeeping) as `host`.
 */
async function opShares(backend: Backend, steps: number, newTokens: number): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const [what, run] of [
    ['train', (b: Backend, timed: () => void) => trainingSpeed(b, steps, timed)],
    ['sample', (b: Backend, timed: () => void) => samplingSpeed(b, newTokens, timed)],
  ] as const) {
    const { backend: timedBackend, times } = timedOps(backend);
    let start = 0;
    await run(timedBackend, () => {
      times.clear();
      start = performance.now();
    });
    const total = performance.now() - start;
    const ops = [...times].sort((a, b) => b[1] - a[1]);
    const host = total - ops.reduce((sum, [, ms]) => sum + ms, 0);
    for (const [op, ms] of [...ops, ['host', host] as const]) {
      figures.push({ name: `share_${what}_${op}_${backend.name}`, value: (100 * ms) / total, unit: '%' });
    }
  }
  return figures;
}

export async function main(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const backend = await createBackend(option(args, 'backend', 'auto') as BackendKind);
  try {
    console.log(`engine on ${backend.description}`);
    const figures = await opTimings(backend, quick ? 50 : 300);
    const steps = Number(option(args, 'steps', quick ? '2' : '5'));
    figures.push({ name: `train_tokens_per_s_${backend.name}`, value: await trainingSpeed(backend, steps), unit: 'tokens/s' });
    const newTokens = Number(option(args, 'new-tokens', quick ? '16' : String(config.context - PROMPT)));
    figures.push({ name: `sample_tokens_per_s_${backend.name}`, value: await samplingSpeed(backend, newTokens), unit: 'tokens/s' });
    if (backend.name === 'cpu') figures.push(...(await opShares(backend, steps, newTokens)));
    printFigures(figures, args);
  } finally {
    backend.destroy();
  }
}

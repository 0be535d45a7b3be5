// The WebAssembly SIMD kernels of kernels.as.ts (built into kernels.wasm by `npm run build:wasm`)
// run on the cpu backend's Float32Arrays. A kernel reads and writes only its module's memory, so
// the operands are copied in and the results out, a block of rows at a time: blocks of ~256 KB
// stay in the core's cache, and a copy costs a fraction of what the kernel saves over V8's scalar
// code. Each thread instantiates the module once, on first use.
import { readFileSync } from 'node:fs';
import type { AdamWSettings } from '../../backend/backend.ts';
import { stepFactors } from '../adamw.ts';
import { checkTarget } from '../logprob.ts';
import { ropeAngles } from '../rope.ts';

// The little of the WebAssembly JavaScript API used here (the project's TypeScript libraries,
// ES2023 without the DOM, do not declare it).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

interface Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  swigluForward(out: number, gate: number, up: number, n: number): void;
  swigluBackward(dgate: number, dup: number, dout: number, gate: number, up: number, n: number): void;
  softmaxRows(x: number, rows: number, width: number, counts: number): void;
  softmaxBackwardRows(d: number, p: number, rows: number, width: number, counts: number, factor: number): void;
  logprobForward(logp: number, logits: number, targets: number, N: number, V: number, scratch: number): void;
  logprobBackward(dlogits: number, dlogp: number, logits: number, targets: number, N: number, V: number): void;
  rmsnormForward(out: number, rstd: number, inp: number, weight: number, N: number, C: number, eps: number): void;
  rmsnormBackward(dinp: number, dweight: number, dout: number, inp: number, weight: number, rstd: number, N: number, C: number): void;
  residualForward(out: number, a: number, b: number, n: number): void;
  ropeForward(out: number, inp: number, positions: number, N: number, NH: number, HS: number, cos: number, sin: number): void;
  ropeBackward(dinp: number, dout: number, positions: number, N: number, NH: number, HS: number, cos: number, sin: number): void;
  adamw(
    param: number, m: number, v: number, grad: number, n: number, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, mCorrection: number, vCorrection: number, clip: number,
  ): void;
}

const BLOCK_BYTES = 256 * 1024;
const PAGE_BYTES = 65536;

let loaded: Exports | undefined;

/** The module's exports, instantiated in this thread on first use. */
export function simdKernels(): Exports {
  if (loaded === undefined) {
    const file = new URL('./kernels.wasm', import.meta.url);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new Error(`the cpu backend's SIMD kernels are missing (${(error as Error).message}); npm run build:wasm builds them`);
    }
    loaded = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as Exports;
  }
  return loaded;
}

/** Consecutive regions of the module's memory (16-byte aligned), grown to fit, with views of them. */
export interface Regions {
  at: number[]; // byte address of each region
  f32: Float32Array[];
  i32: Int32Array[];
}

/**
 * Regions of the given element counts laid out from the module's heap base. The views are valid
 * until the next call (which may grow the memory and so detach them).
 */
export function regions(lengths: number[]): Regions {
  const kernels = simdKernels();
  const at: number[] = [];
  let end = kernels.heapBase();
  for (const length of lengths) {
    at.push(end);
    end += Math.ceil((4 * length) / 16) * 16;
  }
  const missing = end - kernels.memory.buffer.byteLength;
  if (missing > 0) kernels.memory.grow(Math.ceil(missing / PAGE_BYTES));
  const buffer = kernels.memory.buffer;
  return {
    at,
    f32: at.map((address, i) => new Float32Array(buffer, address, lengths[i])),
    i32: at.map((address, i) => new Int32Array(buffer, address, lengths[i])),
  };
}

/** An operand of a row-wise kernel: `row` elements per row (0: the whole array, once), copied in, out or both. */
interface Operand {
  array: Float32Array | Int32Array;
  row: number;
  copy: 'in' | 'out' | 'both';
}

/**
 * Runs `kernel(addresses, rows)` over N rows in blocks that fit BLOCK_BYTES: each block's rows of
 * every per-row operand are copied in (unless output only) and back (unless input only); whole
 * operands once before the first block and once after the last.
 */
function byRows(N: number, operands: Operand[], kernel: (at: number[], rows: number) => void): void {
  const perRow = operands.reduce((sum, operand) => sum + 4 * operand.row, 0);
  const blockRows = Math.max(1, Math.min(N, Math.floor(BLOCK_BYTES / Math.max(perRow, 1))));
  const space = regions(operands.map((operand) => (operand.row === 0 ? operand.array.length : operand.row * blockRows)));
  const view = (i: number) => (operands[i].array instanceof Int32Array ? space.i32[i] : space.f32[i]);
  operands.forEach((operand, i) => {
    if (operand.row === 0 && operand.copy !== 'out') view(i).set(operand.array);
  });
  for (let first = 0; first < N; first += blockRows) {
    const rows = Math.min(blockRows, N - first);
    operands.forEach((operand, i) => {
      if (operand.row > 0 && operand.copy !== 'out') view(i).set(operand.array.subarray(first * operand.row, (first + rows) * operand.row));
    });
    kernel(space.at, rows);
    operands.forEach((operand, i) => {
      if (operand.row > 0 && operand.copy !== 'in') operand.array.set(view(i).subarray(0, rows * operand.row), first * operand.row);
    });
  }
  operands.forEach((operand, i) => {
    if (operand.row === 0 && operand.copy !== 'in') operand.array.set(view(i));
  });
}

/** out[N,H] = silu(gate) * up */
export function swigluForward(out: Float32Array, gate: Float32Array, up: Float32Array, N: number, H: number): void {
  const k = simdKernels();
  byRows(N, [{ array: out, row: H, copy: 'out' }, { array: gate, row: H, copy: 'in' }, { array: up, row: H, copy: 'in' }],
    ([o, g, u], rows) => k.swigluForward(o, g, u, rows * H));
}

/** dgate[N,H] +=, dup[N,H] += */
export function swigluBackward(
  dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, N: number, H: number,
): void {
  const k = simdKernels();
  byRows(N, [
    { array: dgate, row: H, copy: 'both' }, { array: dup, row: H, copy: 'both' },
    { array: dout, row: H, copy: 'in' }, { array: gate, row: H, copy: 'in' }, { array: up, row: H, copy: 'in' },
  ], ([dg, du, d, g, u], rows) => k.swigluBackward(dg, du, d, g, u, rows * H));
}

/** logp[N] = log softmax(logits[n, :])[targets[n]] */
export function logprobForward(logp: Float32Array, logits: Float32Array, targets: Int32Array, N: number, V: number): void {
  checkTargets(targets, N, V);
  const k = simdKernels();
  byRows(N, [
    { array: logp, row: 1, copy: 'out' }, { array: logits, row: V, copy: 'in' }, { array: targets, row: 1, copy: 'in' },
    { array: new Float32Array(V), row: 0, copy: 'in' }, // where the kernel writes a row's exponentials
  ], ([lp, x, t, scratch], rows) => k.logprobForward(lp, x, t, rows, V, scratch));
}

/** dlogits[N,V] = dlogp[n] * (onehot(targets[n]) - softmax(logits[n, :]))  (overwrites) */
export function logprobBackward(
  dlogits: Float32Array, dlogp: Float32Array, logits: Float32Array, targets: Int32Array, N: number, V: number,
): void {
  checkTargets(targets, N, V);
  const k = simdKernels();
  byRows(N, [
    { array: dlogits, row: V, copy: 'out' }, { array: dlogp, row: 1, copy: 'in' },
    { array: logits, row: V, copy: 'in' }, { array: targets, row: 1, copy: 'in' },
  ], ([dx, dlp, x, t], rows) => k.logprobBackward(dx, dlp, x, t, rows, V));
}

/** out[N,C] = inp * rstd * weight[C], rstd[N] = 1 / sqrt(mean(inp^2) + eps) */
export function rmsnormForward(
  out: Float32Array, rstd: Float32Array, inp: Float32Array, weight: Float32Array, N: number, C: number, eps: number,
): void {
  const k = simdKernels();
  byRows(N, [
    { array: out, row: C, copy: 'out' }, { array: rstd, row: 1, copy: 'out' },
    { array: inp, row: C, copy: 'in' }, { array: weight, row: 0, copy: 'in' },
  ], ([o, r, x, w], rows) => k.rmsnormForward(o, r, x, w, rows, C, eps));
}

/** dinp[N,C] +=, dweight[C] += */
export function rmsnormBackward(
  dinp: Float32Array, dweight: Float32Array, dout: Float32Array, inp: Float32Array, weight: Float32Array, rstd: Float32Array,
  N: number, C: number,
): void {
  const k = simdKernels();
  byRows(N, [
    { array: dinp, row: C, copy: 'both' }, { array: dweight, row: 0, copy: 'both' }, { array: dout, row: C, copy: 'in' },
    { array: inp, row: C, copy: 'in' }, { array: weight, row: 0, copy: 'in' }, { array: rstd, row: 1, copy: 'in' },
  ], ([dx, dw, d, x, w, r], rows) => k.rmsnormBackward(dx, dw, d, x, w, r, rows, C));
}

/** out[n] = a[n] + b[n]; `out` may be `a`. */
export function residualForward(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  const k = simdKernels();
  byRows(n, [{ array: out, row: 1, copy: 'out' }, { array: a, row: 1, copy: 'in' }, { array: b, row: 1, copy: 'in' }],
    ([o, x, y], rows) => k.residualForward(o, x, y, rows));
}

/** dst[n] += src[n] */
export function accumulate(dst: Float32Array, src: Float32Array, n: number): void {
  const k = simdKernels();
  byRows(n, [{ array: dst, row: 1, copy: 'both' }, { array: src, row: 1, copy: 'in' }], ([d, x], rows) => k.residualForward(d, d, x, rows));
}

// The float32 copy of each angle table of the reference's RoPE (which it keeps across calls).
const angles32 = new WeakMap<Float64Array, Float32Array>();
function float32(table: Float64Array): Float32Array {
  let copy = angles32.get(table);
  if (copy === undefined) angles32.set(table, (copy = Float32Array.from(table)));
  return copy;
}

/** out[N,NH,HS] = R(positions[n]) inp; `out` may be `inp`. */
export function ropeForward(out: Float32Array, inp: Float32Array, positions: Int32Array, N: number, NH: number, HS: number, theta: number): void {
  const { cos, sin } = ropeAngles(positions, N, HS, theta);
  const k = simdKernels(), C = NH * HS;
  byRows(N, [
    { array: out, row: C, copy: 'out' }, { array: inp, row: C, copy: 'in' }, { array: positions, row: 1, copy: 'in' },
    { array: float32(cos), row: 0, copy: 'in' }, { array: float32(sin), row: 0, copy: 'in' },
  ], ([o, x, p, c, s], rows) => k.ropeForward(o, x, p, rows, NH, HS, c, s));
}

/** dinp[N,NH,HS] += R(positions[n])^T dout */
export function ropeBackward(dinp: Float32Array, dout: Float32Array, positions: Int32Array, N: number, NH: number, HS: number, theta: number): void {
  const { cos, sin } = ropeAngles(positions, N, HS, theta);
  const k = simdKernels(), C = NH * HS;
  byRows(N, [
    { array: dinp, row: C, copy: 'both' }, { array: dout, row: C, copy: 'in' }, { array: positions, row: 1, copy: 'in' },
    { array: float32(cos), row: 0, copy: 'in' }, { array: float32(sin), row: 0, copy: 'in' },
  ], ([dx, d, p, c, s], rows) => k.ropeBackward(dx, d, p, rows, NH, HS, c, s));
}

/** One AdamW step on n parameters, as the reference's adamw (src/cpu/adamw.ts). */
export function adamw(
  param: Float32Array, m: Float32Array, v: Float32Array, grad: Float32Array, gradSumSquares: Float32Array, n: number,
  settings: AdamWSettings,
): void {
  const { lr, beta1, beta2, eps, weightDecay } = settings;
  const { clip, mCorrection, vCorrection } = stepFactors(gradSumSquares, settings);
  const k = simdKernels();
  byRows(n, [
    { array: param, row: 1, copy: 'both' }, { array: m, row: 1, copy: 'both' }, { array: v, row: 1, copy: 'both' },
    { array: grad, row: 1, copy: 'in' },
  ], ([p, m1, v1, g], rows) => k.adamw(p, m1, v1, g, rows, lr, beta1, beta2, eps, weightDecay, mCorrection, vCorrection, clip));
}

function checkTargets(targets: Int32Array, N: number, V: number): void {
  for (let n = 0; n < N; n++) checkTarget(targets[n], n, V);
}

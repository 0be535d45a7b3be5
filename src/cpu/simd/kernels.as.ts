// The cpu backend's element-wise and row-wise kernels in WebAssembly SIMD (four float32 lanes),
// written in AssemblyScript and compiled by `npm run build:wasm` into kernels.wasm. They work on
// pointers into this module's own memory; src/cpu/simd/kernels.ts copies the operands in and the
// results out, a block of rows at a time. Each kernel mirrors the TypeScript reference of the
// same name in src/cpu/ (sums in float32 lanes, reduced in float64).

/** exp on four lanes: x = k ln2 + r, e^r by its Taylor polynomial to r^6, 2^k into the exponent bits. */
@inline function exp4(x: v128): v128 {
  // below -87.3 the result would leave float32's normal range; ~1e-38 stands in for 0 there
  x = f32x4.max(f32x4.min(x, f32x4.splat(88.7)), f32x4.splat(-87.3));
  // k = round(x / ln2) by the 1.5 * 2^23 trick, which also leaves k in the low mantissa bits of t
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(1.4426950408889634)), f32x4.splat(12582912.0));
  const k = f32x4.sub(t, f32x4.splat(12582912.0));
  // r = x - k ln2, with ln2 split in two so that the product is exact (Cody and Waite)
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(k, f32x4.splat(0.693145751953125))), f32x4.mul(k, f32x4.splat(1.428606765330187e-6)));
  let p = f32x4.splat(1.0 / 720.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  const twoToK = i32x4.shl(i32x4.sub(t, i32x4.splat(0x4b400000 - 127)), 23);
  return f32x4.mul(p, twoToK);
}

@inline function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

@inline function sum4(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

@inline function max4(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** The largest of x[0..count) */
@inline function rowMax(x: usize, count: i32): f32 {
  let m4 = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= count; i += 4) m4 = f32x4.max(m4, v128.load(at(x, i)));
  let m = max4(m4);
  for (; i < count; i++) m = max(m, load<f32>(at(x, i)));
  return m;
}

/** e[i] = exp(x[i] - shift) for i < count (e may be x); returns their sum */
@inline function expShifted(e: usize, x: usize, count: i32, shift: f32): f64 {
  const s = f32x4.splat(shift);
  let sum: f64 = 0;
  let i = 0;
  // partial sums in float32 lanes over blocks of 64 values, added up in float64
  while (i + 4 <= count) {
    let block = f32x4.splat(0);
    const end = min(count & ~3, i + 64);
    for (; i < end; i += 4) {
      const v = exp4(f32x4.sub(v128.load(at(x, i)), s));
      v128.store(at(e, i), v);
      block = f32x4.add(block, v);
    }
    sum += sum4(block);
  }
  for (; i < count; i++) {
    const v = exp1(load<f32>(at(x, i)) - shift);
    store<f32>(at(e, i), v);
    sum += v;
  }
  return sum;
}

/** x[i] *= factor for i < count */
@inline function scale(x: usize, count: i32, factor: f32): void {
  const f = f32x4.splat(factor);
  let i = 0;
  for (; i + 4 <= count; i += 4) v128.store(at(x, i), f32x4.mul(v128.load(at(x, i)), f));
  for (; i < count; i++) store<f32>(at(x, i), load<f32>(at(x, i)) * factor);
}

/** sum of a[i] * b[i] for i < count */
@inline function dot(a: usize, b: usize, count: i32): f64 {
  let sum: f64 = 0;
  let i = 0;
  while (i + 4 <= count) {
    let block = f32x4.splat(0);
    const end = min(count & ~3, i + 64);
    for (; i < end; i += 4) block = f32x4.add(block, f32x4.mul(v128.load(at(a, i)), v128.load(at(b, i))));
    sum += sum4(block);
  }
  for (; i < count; i++) sum += <f64>(load<f32>(at(a, i)) * load<f32>(at(b, i)));
  return sum;
}

// ---- SwiGLU ---------------------------------------------------------------------------------

/** out[n] = silu(gate) * up */
export function swigluForward(out: usize, gate: usize, up: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const g = v128.load(at(gate, i));
    const silu = f32x4.div(g, f32x4.add(one, exp4(f32x4.neg(g))));
    v128.store(at(out, i), f32x4.mul(silu, v128.load(at(up, i))));
  }
  for (; i < n; i++) {
    const g = load<f32>(at(gate, i));
    store<f32>(at(out, i), (g / (1 + exp1(-g))) * load<f32>(at(up, i)));
  }
}

/** dgate[n] += dout * up * silu'(gate), dup[n] += dout * silu(gate) */
export function swigluBackward(dgate: usize, dup: usize, dout: usize, gate: usize, up: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const g = v128.load(at(gate, i)), d = v128.load(at(dout, i));
    const sigmoid = f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(g))));
    const silu = f32x4.mul(g, sigmoid);
    const dsilu = f32x4.add(sigmoid, f32x4.mul(silu, f32x4.sub(one, sigmoid)));
    v128.store(at(dgate, i), f32x4.add(v128.load(at(dgate, i)), f32x4.mul(f32x4.mul(d, v128.load(at(up, i))), dsilu)));
    v128.store(at(dup, i), f32x4.add(v128.load(at(dup, i)), f32x4.mul(d, silu)));
  }
  for (; i < n; i++) {
    const g = load<f32>(at(gate, i)), d = load<f32>(at(dout, i));
    const sigmoid: f32 = 1 / (1 + exp1(-g));
    const silu = g * sigmoid;
    store<f32>(at(dgate, i), load<f32>(at(dgate, i)) + d * load<f32>(at(up, i)) * (sigmoid + silu * (1 - sigmoid)));
    store<f32>(at(dup, i), load<f32>(at(dup, i)) + d * silu);
  }
}

// ---- softmax rows (attention) -----------------------------------------------------------------

/**
 * Each of `rows` rows of x (stride `width`) becomes the softmax of its first counts[r] values,
 * and 0 after them (the masked keys).
 */
export function softmaxRows(x: usize, rows: i32, width: i32, counts: usize): void {
  for (let r = 0; r < rows; r++) {
    const row = at(x, r * width), count = load<i32>(at(counts, r));
    const m = rowMax(row, count);
    const sum = expShifted(row, row, count, m);
    scale(row, count, <f32>(1 / sum));
    memory.fill(at(row, count), 0, <usize>(width - count) << 2);
  }
}

/**
 * The softmax's backward on each row: d = p * (d - sum(p * d)) * factor, where d holds the
 * gradient of the probabilities p on entry and that of the scores on exit.
 */
export function softmaxBackwardRows(d: usize, p: usize, rows: i32, width: i32, counts: usize, factor: f32): void {
  for (let r = 0; r < rows; r++) {
    const dRow = at(d, r * width), pRow = at(p, r * width), count = load<i32>(at(counts, r));
    const centre = f32x4.splat(<f32>dot(pRow, dRow, count));
    const f = f32x4.splat(factor);
    let i = 0;
    for (; i + 4 <= count; i += 4) {
      const g = f32x4.sub(v128.load(at(dRow, i)), centre);
      v128.store(at(dRow, i), f32x4.mul(f32x4.mul(v128.load(at(pRow, i)), g), f));
    }
    const c = f32x4.extract_lane(centre, 0);
    for (; i < count; i++) store<f32>(at(dRow, i), load<f32>(at(pRow, i)) * (load<f32>(at(dRow, i)) - c) * factor);
    memory.fill(at(dRow, count), 0, <usize>(width - count) << 2);
  }
}

// ---- log-probabilities of targets ---------------------------------------------------------------

/** logp[N] = log softmax(logits[n, :])[targets[n]] */
export function logprobForward(logp: usize, logits: usize, targets: usize, N: i32, V: i32, scratch: usize): void {
  for (let n = 0; n < N; n++) {
    const row = at(logits, n * V);
    const m = rowMax(row, V);
    const sum = expShifted(scratch, row, V, m);
    store<f32>(at(logp, n), <f32>(<f64>load<f32>(at(row, load<i32>(at(targets, n)))) - <f64>m - Math.log(sum)));
  }
}

/** dlogits[N,V] = dlogp[n] * (onehot(targets[n]) - softmax(logits[n, :]))  (overwrites) */
export function logprobBackward(dlogits: usize, dlogp: usize, logits: usize, targets: usize, N: i32, V: i32): void {
  for (let n = 0; n < N; n++) {
    const row = at(logits, n * V), dRow = at(dlogits, n * V), g = load<f32>(at(dlogp, n));
    const sum = expShifted(dRow, row, V, rowMax(row, V));
    scale(dRow, V, <f32>(-g / sum));
    const target = at(dRow, load<i32>(at(targets, n)));
    store<f32>(target, load<f32>(target) + g);
  }
}

// ---- RMSNorm ------------------------------------------------------------------------------------

/** out[N,C] = inp * rstd * weight[C], rstd[N] = 1 / sqrt(mean(inp^2) + eps) */
export function rmsnormForward(out: usize, rstd: usize, inp: usize, weight: usize, N: i32, C: i32, eps: f32): void {
  for (let n = 0; n < N; n++) {
    const row = at(inp, n * C), outRow = at(out, n * C);
    const r = <f32>(1 / Math.sqrt(dot(row, row, C) / C + eps));
    store<f32>(at(rstd, n), r);
    const r4 = f32x4.splat(r);
    let c = 0;
    for (; c + 4 <= C; c += 4) v128.store(at(outRow, c), f32x4.mul(f32x4.mul(v128.load(at(row, c)), r4), v128.load(at(weight, c))));
    for (; c < C; c++) store<f32>(at(outRow, c), load<f32>(at(row, c)) * r * load<f32>(at(weight, c)));
  }
}

/**
 * dinp[N,C] +=, dweight[C] +=
 * With x̂ = inp * rstd: dinp = rstd * (g - x̂ * mean(g * x̂)) where g = dout * weight.
 */
export function rmsnormBackward(dinp: usize, dweight: usize, dout: usize, inp: usize, weight: usize, rstd: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const row = at(inp, n * C), dRow = at(dout, n * C), dinpRow = at(dinp, n * C);
    const r = load<f32>(at(rstd, n));
    // sum over c of g * x̂ = r * sum(dout * weight * inp)
    let block = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= C; c += 4) block = f32x4.add(block, f32x4.mul(f32x4.mul(v128.load(at(dRow, c)), v128.load(at(weight, c))), v128.load(at(row, c))));
    let total = sum4(block);
    for (; c < C; c++) total += <f64>(load<f32>(at(dRow, c)) * load<f32>(at(weight, c)) * load<f32>(at(row, c)));
    const meanDot = <f32>((total * r) / C);
    const r4 = f32x4.splat(r), m4 = f32x4.splat(meanDot);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const normalized = f32x4.mul(v128.load(at(row, c)), r4), d = v128.load(at(dRow, c));
      v128.store(at(dweight, c), f32x4.add(v128.load(at(dweight, c)), f32x4.mul(d, normalized)));
      const g = f32x4.sub(f32x4.mul(d, v128.load(at(weight, c))), f32x4.mul(normalized, m4));
      v128.store(at(dinpRow, c), f32x4.add(v128.load(at(dinpRow, c)), f32x4.mul(r4, g)));
    }
    for (; c < C; c++) {
      const normalized = load<f32>(at(row, c)) * r, d = load<f32>(at(dRow, c));
      store<f32>(at(dweight, c), load<f32>(at(dweight, c)) + d * normalized);
      store<f32>(at(dinpRow, c), load<f32>(at(dinpRow, c)) + r * (d * load<f32>(at(weight, c)) - normalized * meanDot));
    }
  }
}

// ---- the residual stream ---------------------------------------------------------------------

/** out[n] = a[n] + b[n] */
export function residualForward(out: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(out, i), f32x4.add(v128.load(at(a, i)), v128.load(at(b, i))));
  for (; i < n; i++) store<f32>(at(out, i), load<f32>(at(a, i)) + load<f32>(at(b, i)));
}

// ---- rotary position embedding ------------------------------------------------------------------

/**
 * out[N,NH,HS] = R(positions[n]) inp, element i of each head paired with i + HS/2; cos and sin
 * [P, HS/2] hold the angles of every position. `out` may be `inp`.
 */
export function ropeForward(out: usize, inp: usize, positions: usize, N: i32, NH: i32, HS: i32, cos: usize, sin: usize): void {
  const half = HS >> 1;
  for (let n = 0; n < N; n++) {
    const angles = load<i32>(at(positions, n)) * half;
    for (let h = 0; h < NH; h++) {
      const first = (n * NH + h) * HS;
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const x1 = v128.load(at(inp, first + i)), x2 = v128.load(at(inp, first + half + i));
        const c = v128.load(at(cos, angles + i)), s = v128.load(at(sin, angles + i));
        v128.store(at(out, first + i), f32x4.sub(f32x4.mul(x1, c), f32x4.mul(x2, s)));
        v128.store(at(out, first + half + i), f32x4.add(f32x4.mul(x2, c), f32x4.mul(x1, s)));
      }
      for (; i < half; i++) {
        const x1 = load<f32>(at(inp, first + i)), x2 = load<f32>(at(inp, first + half + i));
        const c = load<f32>(at(cos, angles + i)), s = load<f32>(at(sin, angles + i));
        store<f32>(at(out, first + i), x1 * c - x2 * s);
        store<f32>(at(out, first + half + i), x2 * c + x1 * s);
      }
    }
  }
}

/** dinp[N,NH,HS] += R(positions[n])^T dout, the rotation by the opposite angle */
export function ropeBackward(dinp: usize, dout: usize, positions: usize, N: i32, NH: i32, HS: i32, cos: usize, sin: usize): void {
  const half = HS >> 1;
  for (let n = 0; n < N; n++) {
    const angles = load<i32>(at(positions, n)) * half;
    for (let h = 0; h < NH; h++) {
      const first = (n * NH + h) * HS;
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const d1 = v128.load(at(dout, first + i)), d2 = v128.load(at(dout, first + half + i));
        const c = v128.load(at(cos, angles + i)), s = v128.load(at(sin, angles + i));
        v128.store(at(dinp, first + i), f32x4.add(v128.load(at(dinp, first + i)), f32x4.add(f32x4.mul(d1, c), f32x4.mul(d2, s))));
        v128.store(at(dinp, first + half + i), f32x4.add(v128.load(at(dinp, first + half + i)), f32x4.sub(f32x4.mul(d2, c), f32x4.mul(d1, s))));
      }
      for (; i < half; i++) {
        const d1 = load<f32>(at(dout, first + i)), d2 = load<f32>(at(dout, first + half + i));
        const c = load<f32>(at(cos, angles + i)), s = load<f32>(at(sin, angles + i));
        store<f32>(at(dinp, first + i), load<f32>(at(dinp, first + i)) + d1 * c + d2 * s);
        store<f32>(at(dinp, first + half + i), load<f32>(at(dinp, first + half + i)) + d2 * c - d1 * s);
      }
    }
  }
}

// ---- AdamW --------------------------------------------------------------------------------------

/**
 * One AdamW step on n parameters with the gradient scaled by `clip` first; mCorrection and
 * vCorrection are the bias corrections 1 - beta^step.
 */
export function adamw(
  param: usize, m: usize, v: usize, grad: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32,
  mCorrection: f32, vCorrection: f32, clip: f32,
): void {
  const b1 = f32x4.splat(beta1), b2 = f32x4.splat(beta2), c1 = f32x4.splat(1 - beta1), c2 = f32x4.splat(1 - beta2);
  const mc = f32x4.splat(1 / mCorrection), vc = f32x4.splat(1 / vCorrection), e = f32x4.splat(eps);
  const rate = f32x4.splat(lr), decay = f32x4.splat(weightDecay), scale = f32x4.splat(clip);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const g = f32x4.mul(v128.load(at(grad, i)), scale);
    const m1 = f32x4.add(f32x4.mul(b1, v128.load(at(m, i))), f32x4.mul(c1, g));
    const v1 = f32x4.add(f32x4.mul(b2, v128.load(at(v, i))), f32x4.mul(c2, f32x4.mul(g, g)));
    v128.store(at(m, i), m1);
    v128.store(at(v, i), v1);
    const p = v128.load(at(param, i));
    const update = f32x4.add(f32x4.div(f32x4.mul(m1, mc), f32x4.add(f32x4.sqrt(f32x4.mul(v1, vc)), e)), f32x4.mul(decay, p));
    v128.store(at(param, i), f32x4.sub(p, f32x4.mul(rate, update)));
  }
  for (; i < n; i++) {
    const g = load<f32>(at(grad, i)) * clip;
    const m1 = beta1 * load<f32>(at(m, i)) + (1 - beta1) * g;
    const v1 = beta2 * load<f32>(at(v, i)) + (1 - beta2) * g * g;
    store<f32>(at(m, i), m1);
    store<f32>(at(v, i), v1);
    const p = load<f32>(at(param, i));
    store<f32>(at(param, i), p - lr * (m1 / mCorrection / (Mathf.sqrt(v1 / vCorrection) + eps) + weightDecay * p));
  }
}

/** Where the memory after this module's static data begins; the caller lays its operands out from there. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

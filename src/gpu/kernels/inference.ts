// Inference helpers: row gathers, greedy choice, top-k entropy and the key/value cache write.
// (Attention against the cache shares the kernels of attention.ts.)
import type { Kernel } from '../kernel.ts';

/** out[R,C] = inp[rows[r], :]; one invocation per element */
export const gatherRows: Kernel = {
  name: 'gather_rows',
  bindings: { out: 'write f32', inp: 'read f32', rows: 'read i32' },
  params: { C: 'u32' },
  body: `
  out[i] = inp[u32(rows[i / p.C]) * p.C + i % p.C];`,
};

/** out[N] = argmax_v logits[n, v], the lowest index on ties; one invocation per row */
export const argmax: Kernel = {
  name: 'argmax',
  bindings: { out: 'write i32', logits: 'read f32' },
  params: { V: 'u32' },
  body: `
  let row = i * p.V;
  var best = 0u;
  for (var v = 1u; v < p.V; v++) {
    if (logits[row + v] > logits[row + best]) { best = v; }
  }
  out[i] = i32(best);`,
};

/**
 * out[N] = entropy of the softmax over the k largest logits of each row. One invocation per row
 * picks the k largest by k scans, each taking the next element in (value descending, index
 * ascending) order, so ties are counted exactly once.
 */
export const topkEntropy: Kernel = {
  name: 'topk_entropy',
  bindings: { out: 'write f32', logits: 'read f32' },
  params: { V: 'u32', k: 'u32' },
  body: `
  let row = i * p.V;
  var prevValue = 3.4e38;
  var prevIndex = -1;
  var top = 0.0;
  var sum = 0.0;
  var weighted = 0.0;
  for (var r = 0u; r < min(p.k, p.V); r++) {
    var bestValue = -3.4e38;
    var bestIndex = -1;
    for (var v = 0; v < i32(p.V); v++) {
      let x = logits[row + u32(v)];
      let after = x < prevValue || (x == prevValue && v > prevIndex);
      if (after && (bestIndex < 0 || x > bestValue)) { bestValue = x; bestIndex = v; }
    }
    prevValue = bestValue;
    prevIndex = bestIndex;
    if (r == 0u) { top = bestValue; }
    let e = exp(bestValue - top);
    sum += e;
    weighted += (bestValue - top) * e;
  }
  out[i] = log(sum) - weighted / sum;`,
};

/** cache[b, positions[b*Tn + t], :] = src[b, t, :] for cache [B,Tmax,C], src [B,Tn,C]; one invocation per element */
export const cacheWrite: Kernel = {
  name: 'cache_write',
  bindings: { cache: 'write f32', src: 'read f32', positions: 'read i32' },
  params: { Tn: 'u32', Tmax: 'u32', C: 'u32' },
  body: `
  let bt = i / p.C;
  let b = bt / p.Tn;
  cache[(b * p.Tmax + u32(positions[bt])) * p.C + i % p.C] = src[i];`,
};

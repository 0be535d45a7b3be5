// Token embedding: a row lookup into the table wte[V, C], and its scatter-add backward.
import type { Kernel } from '../kernel.ts';

/** out[N,C] = wte[tokens[n], :]; one invocation per output element */
export const embeddingForward: Kernel = {
  name: 'embedding_forward',
  bindings: { out: 'write f32', tokens: 'read i32', wte: 'read f32' },
  params: { C: 'u32' },
  body: `
  let n = i / p.C;
  out[i] = wte[u32(tokens[n]) * p.C + i % p.C];`,
};

/**
 * dwte[V,C] += dout[N,C] scattered by tokens[N]. WGSL has no float atomics, so each invocation
 * owns one vocabulary row and a block of its channels and scans every position in order: no
 * races, and the sum runs in the same order as on the cpu, so the result is deterministic.
 */
export const embeddingBackward: Kernel = {
  name: 'embedding_backward',
  bindings: { dwte: 'write f32', dout: 'read f32', tokens: 'read i32' },
  params: { N: 'u32', C: 'u32' },
  functions: 'const BLOCK: u32 = 16u;',
  body: `
  let blocks = (p.C + BLOCK - 1u) / BLOCK;
  let token = i32(i / blocks);
  let c0 = (i % blocks) * BLOCK;
  let c1 = min(c0 + BLOCK, p.C);
  let row = u32(token) * p.C;
  for (var n = 0u; n < p.N; n++) {
    if (tokens[n] == token) {
      for (var c = c0; c < c1; c++) { dwte[row + c] += dout[n * p.C + c]; }
    }
  }`,
};

/** Invocations of embeddingBackward for a table of V rows of C channels. */
export function embeddingBackwardInvocations(V: number, C: number): number {
  return V * Math.ceil(C / 16);
}

// Rotary position embedding, "rotate half" pairing as in Hugging Face Llama: within each head,
// element j pairs with element j + HS/2 and the pair turns by position * theta^(-2j/HS).
import type { Kernel } from '../kernel.ts';

// One invocation per pair: (row n, head h, j < HS/2).
const pairIndices = `
  let half = p.HS / 2u;
  let j = i % half;
  let head = i / half;
  let first = head * p.HS + j;
  let second = first + half;
  let angle = f32(positions[head / p.NH]) * exp2(-2.0 * f32(j) / f32(p.HS) * p.log2Theta);
  let cosine = cos(angle);
  let sine = sin(angle);`;

/**
 * out[N,NH,HS] = R(positions[n]) inp. WebGPU forbids binding one buffer twice when either binding
 * writes, so `out` = `inp` gets its own variant that reads and writes one binding.
 */
export function ropeForward(inPlace: boolean): Kernel {
  const source = inPlace ? 'out' : 'inp';
  return {
    name: inPlace ? 'rope_forward_in_place' : 'rope_forward',
    bindings: inPlace ? { out: 'write f32', positions: 'read i32' } : { out: 'write f32', inp: 'read f32', positions: 'read i32' },
    params: { NH: 'u32', HS: 'u32', log2Theta: 'f32' },
    body: `${pairIndices}
  let x1 = ${source}[first];
  let x2 = ${source}[second];
  out[first] = x1 * cosine - x2 * sine;
  out[second] = x2 * cosine + x1 * sine;`,
  };
}

/** dinp[N,NH,HS] += R(positions[n])^T dout */
export const ropeBackward: Kernel = {
  name: 'rope_backward',
  bindings: { dinp: 'write f32', dout: 'read f32', positions: 'read i32' },
  params: { NH: 'u32', HS: 'u32', log2Theta: 'f32' },
  body: `${pairIndices}
  let d1 = dout[first];
  let d2 = dout[second];
  dinp[first] += d1 * cosine + d2 * sine;
  dinp[second] += d2 * cosine - d1 * sine;`,
};

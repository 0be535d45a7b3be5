import { attendOneQuery } from './attention.ts';

// Decoding with a key/value cache [B, Tmax, KVH, HS]: each sequence b keeps its keys and values
// by position, so prompts of different lengths (right-padded) decode side by side.

/** cache[b, positions[b*Tn + t], :] = src[b, t, :] for cache [B, Tmax, C], src [B, Tn, C] */
export function cacheWrite(
  cache: Float32Array, src: Float32Array, positions: Int32Array, B: number, Tn: number, Tmax: number, C: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tn; t++) {
      const position = positions[b * Tn + t];
      if (!(position >= 0 && position < Tmax)) throw new RangeError(`cache position ${position} is outside 0..${Tmax - 1}`);
      const from = (b * Tn + t) * C;
      cache.set(src.subarray(from, from + C), (b * Tmax + position) * C);
    }
  }
}

/**
 * out[B,Tq,NH,HS]: query (b, t) at position p = positions[b*Tq + t] attends to the cached keys
 * and values 0..p of sequence b, query head h to key/value head floor(h / (NH/KVH));
 * q [B,Tq,NH,HS]; kCache, vCache [B,Tmax,KVH,HS].
 */
export function attentionDecode(
  out: Float32Array, q: Float32Array, kCache: Float32Array, vCache: Float32Array, positions: Int32Array,
  B: number, Tq: number, NH: number, KVH: number, HS: number, Tmax: number,
): void {
  const QC = NH * HS, KC = KVH * HS, group = NH / KVH;
  const probs = new Float64Array(Tmax);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tq; t++) {
      const position = positions[b * Tq + t];
      for (let h = 0; h < NH; h++) {
        const cached = b * Tmax * KC + Math.floor(h / group) * HS;
        attendOneQuery(out, probs, 0, q, (b * Tq + t) * QC + h * HS, kCache, vCache, cached, KC, position + 1, HS);
      }
    }
  }
}

import type { Random } from '../util/random.ts';

// Choosing the next token of each sequence from its logits. Temperature scales the logits,
// top-k keeps the k most likely tokens, top-p then keeps the smallest most-likely set whose
// probability (renormalised after top-k) reaches p; the choice is drawn from what remains.
// Ties are broken toward the lower token id everywhere, so the kept set is always determined.
// Each row draws one number from its own generator (none when greedy), so a sequence's tokens
// depend only on its logits and its seed, never on the other sequences of the batch.

export interface SamplingSettings {
  temperature: number; // 0 = greedy: the argmax, lowest id on ties
  topK: number; // 0 = off
  topP: number; // 1 = off
}

// Scratch reused across calls (one per thread); it grows to the largest vocabulary seen.
let weights = new Float64Array(0); // exp((logit - max) / temperature) of every token of the row
let kept = new Int32Array(0); // the ids of the tokens the filters keep, kept[0 .. count)

/**
 * out[b] = a token drawn for row b of logits[B, V] with rngs[b], B = out.length.
 * Draws exactly one rngs[b].float() per row unless greedy.
 */
export function sampleFromLogits(out: Int32Array, logits: Float32Array, V: number, rngs: Random[], settings: SamplingSettings): void {
  const B = out.length;
  if (rngs.length !== B || logits.length !== B * V) {
    throw new Error(`sampleFromLogits: ${B} outputs need ${B} generators and ${B}x${V} logits, got ${rngs.length} and ${logits.length}`);
  }
  checkSettings(settings);
  for (let b = 0; b < B; b++) {
    out[b] = settings.temperature === 0 ? argmaxRow(logits, b * V, V, b) : drawKept(keepTokens(logits, b * V, V, b, settings), rngs[b].float());
  }
}

/** out[V] = the probability sampleFromLogits gives each token of one row logits[V]: 0 where filtered out. */
export function samplingDistribution(out: Float32Array, logits: Float32Array, settings: SamplingSettings): void {
  const V = logits.length;
  if (out.length !== V) throw new Error(`samplingDistribution: the output holds ${out.length} values for ${V} logits`);
  checkSettings(settings);
  out.fill(0);
  if (settings.temperature === 0) {
    out[argmaxRow(logits, 0, V, 0)] = 1;
    return;
  }
  const count = keepTokens(logits, 0, V, 0, settings);
  const mass = keptMass(count);
  for (let j = 0; j < count; j++) out[kept[j]] = weights[kept[j]] / mass;
}

/** The kept token at which the cumulative weight first exceeds `uniform` (in [0, 1)) of the kept total. */
function drawKept(count: number, uniform: number): number {
  // u < mass, and the walk repeats keptMass's additions in the same order, so it returns from
  // inside the loop, and never a token of zero weight.
  const u = uniform * keptMass(count);
  let cumulative = 0;
  for (let j = 0; j < count; j++) {
    cumulative += weights[kept[j]];
    if (u < cumulative) return kept[j];
  }
  return kept[count - 1];
}

function keptMass(count: number): number {
  let mass = 0;
  for (let j = 0; j < count; j++) mass += weights[kept[j]];
  return mass;
}

function checkSettings({ temperature, topK, topP }: SamplingSettings): void {
  if (!(Number.isFinite(temperature) && temperature >= 0)) throw new Error(`sampling temperature must be a finite number >= 0, got ${temperature}`);
  if (!(Number.isInteger(topK) && topK >= 0)) throw new Error(`sampling top-k must be an integer >= 0 (0 = off), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`sampling top-p must be in (0, 1] (1 = off), got ${topP}`);
}

/** The index of the largest logit of the row, lowest on ties; rejects rows that cannot be a distribution. */
function argmaxRow(logits: Float32Array, offset: number, V: number, row: number): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < V; i++) {
    const x = logits[offset + i];
    if (Number.isNaN(x)) throw new Error(`sampling: row ${row} of the logits holds NaN at token ${i}`);
    if (x > max) {
      max = x;
      best = i;
    }
  }
  if (!Number.isFinite(max)) throw new Error(`sampling: row ${row} of the logits has no finite maximum (${max})`);
  return best;
}

/** Fills `weights` for the row and `kept` with the ids the filters keep; returns how many. */
function keepTokens(logits: Float32Array, offset: number, V: number, row: number, { temperature, topK, topP }: SamplingSettings): number {
  if (weights.length < V) {
    weights = new Float64Array(V);
    kept = new Int32Array(V);
  }
  // Subtracting the maximum keeps every exponent <= 0: no overflow, and the top token weighs 1.
  const max = logits[offset + argmaxRow(logits, offset, V, row)];
  for (let i = 0; i < V; i++) {
    weights[i] = Math.exp((logits[offset + i] - max) / temperature);
    kept[i] = i;
  }
  let count = V;
  if (topK > 0 && topK < count) count = keepLargest(topK, V);
  if (topP < 1) count = keepNucleus(topP, count);
  return count;
}

/** Keeps the k heaviest of all V tokens, in O(V log k). */
function keepLargest(k: number, V: number): number {
  // kept[0 .. k) is a heap of the best k so far with the worst of them at the root. Ids arrive in
  // increasing order, so a newcomer only as heavy as the root loses the tie and is passed over.
  for (let i = k - 1; i >= 0; i--) siftDown(i, k);
  for (let i = k; i < V; i++) {
    if (weights[i] > weights[kept[0]]) {
      kept[0] = i;
      siftDown(0, k);
    }
  }
  return k;
}

function siftDown(position: number, size: number): void {
  const token = kept[position];
  for (;;) {
    let child = 2 * position + 1;
    if (child >= size) break;
    if (child + 1 < size && worse(kept[child + 1], kept[child])) child++;
    if (!worse(kept[child], token)) break;
    kept[position] = kept[child];
    position = child;
  }
  kept[position] = token;
}

function worse(a: number, b: number): boolean {
  return weights[a] < weights[b] || (weights[a] === weights[b] && a > b);
}

/**
 * Keeps, of kept[0 .. count), the heaviest tokens whose weights first reach p of their total.
 * A quickselect on weight: each round splits the undecided range around a pivot weight into
 * heavier, equal and lighter, and decides which part holds the boundary; expected O(count).
 */
function keepNucleus(p: number, count: number): number {
  const target = p * keptMass(count);
  let lo = 0; // kept[0 .. lo) are in the nucleus and heavier than everything in kept[lo .. hi)
  let hi = count; // kept[hi .. count) are out
  let above = 0; // the weight of kept[0 .. lo), always below target
  while (lo < hi) {
    const pivot = medianOfThree(weights[kept[lo]], weights[kept[(lo + hi) >>> 1]], weights[kept[hi - 1]]);
    let heavier = lo; // kept[lo .. heavier) > pivot, kept[heavier .. i) == pivot, kept[lighter .. hi) < pivot
    let lighter = hi;
    let heavierMass = 0;
    let equalMass = 0;
    for (let i = lo; i < lighter; ) {
      const token = kept[i];
      const w = weights[token];
      if (w > pivot) {
        kept[i++] = kept[heavier];
        kept[heavier++] = token;
        heavierMass += w;
      } else if (w < pivot) {
        kept[i] = kept[--lighter];
        kept[lighter] = token;
      } else {
        i++;
        equalMass += w;
      }
    }
    if (above + heavierMass >= target) {
      hi = heavier;
    } else if (above + heavierMass + equalMass >= target) {
      // The boundary falls among tokens of equal weight: they join from the lowest id up.
      kept.subarray(heavier, lighter).sort();
      let cumulative = above + heavierMass;
      for (let j = heavier; j < lighter; j++) {
        cumulative += weights[kept[j]];
        if (cumulative >= target) return j + 1;
      }
      return lighter;
    } else {
      above += heavierMass + equalMass;
      lo = lighter;
    }
  }
  return lo; // rounding left the total a hair short of p: everything heavier than the rest stays
}

function medianOfThree(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

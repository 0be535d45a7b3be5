// Causal grouped-query attention over queries [B, T, NH, HS] and keys and values [B, T, KVH, HS],
// query head h reading key/value head floor(h / (NH/KVH)) (KVH = NH: multi-head attention). The
// same kernels serve training (queries attend to keys 0..t of their own sequence) and decoding
// against a key/value cache [B, Tmax, KVH, HS] (query t of sequence b attends to keys
// 0..positions[b*Tq + t]). Each softmax row is reduced by one invocation: no workgroup barriers,
// which lavapipe runs slowly.
import { loadColumns4, storeColumns4, type Kernel } from '../kernel.ts';

/** The last key a query sees: its own index in training, its cache position when decoding. */
function lastKey(decode: boolean, queryRow: string, t: string): string {
  return decode ? `u32(positions[${queryRow}])` : t;
}

/**
 * probs[B,NH,Tq,Tk] = causal softmax(q k^T * scale) with q [B,Tq,NH,HS], k [B,Tk,KVH,HS];
 * entries past the last key are 0. One invocation per (b, h, t) row. With `vectorized` (HS a
 * multiple of 4) q and k are read as vec4: about twice as fast on lavapipe.
 */
function attentionScores(decode: boolean, vectorized: boolean): Kernel {
  const element = vectorized ? 'vec4f' : 'f32';
  return {
    name: `attention_scores${decode ? '_decode' : ''}${vectorized ? '_vec4' : ''}`,
    bindings: { probs: 'write f32', q: `read ${element}`, k: `read ${element}`, ...(decode ? { positions: 'read i32' as const } : {}) },
    params: { Tq: 'u32', Tk: 'u32', NH: 'u32', KVH: 'u32', HS: 'u32', scale: 'f32' },
    body: `
  let b = i / (p.NH * p.Tq);
  let h = (i / p.Tq) % p.NH;
  let t = i % p.Tq;
  let last = ${lastKey(decode, 'b * p.Tq + t', 't')};
  // Head rows in units of the element type: 4 floats per element when vectorized.
  let width = p.HS / ${vectorized ? 4 : 1}u;
  let query = ((b * p.Tq + t) * p.NH + h) * width;
  let kvHead = h / (p.NH / p.KVH);
  let row = i * p.Tk;
  var maxScore = -3.0e38;
  for (var j = 0u; j <= last; j++) {
    let key = ((b * p.Tk + j) * p.KVH + kvHead) * width;
    var score = 0.0;
    for (var c = 0u; c < width; c++) { score += ${vectorized ? 'dot(q[query + c], k[key + c])' : 'q[query + c] * k[key + c]'}; }
    score *= p.scale;
    probs[row + j] = score;
    maxScore = max(maxScore, score);
  }
  var sum = 0.0;
  for (var j = 0u; j <= last; j++) {
    let e = exp(probs[row + j] - maxScore);
    probs[row + j] = e;
    sum += e;
  }
  for (var j = 0u; j <= last; j++) { probs[row + j] /= sum; }
  for (var j = last + 1u; j < p.Tk; j++) { probs[row + j] = 0.0; }`,
  };
}

/**
 * WGSL for kernels with one invocation per 4 channels of a head of a [B, T, heads, HS] tensor:
 * channels c..c+3 of head h of row `row` (= b * T + position) of sequence b.
 */
function channelGroup(row: string, T: string, heads: string): string {
  return `
  let groups = (p.HS + 3u) / 4u;
  let c = (i % groups) * 4u;
  let h = (i / groups) % ${heads};
  let ${row} = i / (groups * ${heads});
  let b = ${row} / ${T};`;
}

/**
 * out[b,t,h,:] (= or +=) sum over j <= last of weights[b,h,t,j] * rows[b,j,h / (NH/KVH),:], for
 * weights [B,NH,Tq,Tk], rows [B,Tk,KVH,HS], out [B,Tq,NH,HS]. With probs and v this is the
 * attention output; with the score gradients and k it is dq. One invocation per 4 channels of a
 * query head.
 */
function weightedRows(name: string, decode: boolean, accumulate: boolean, vectorized: boolean): Kernel {
  const element = vectorized ? 'vec4f' : 'f32';
  return {
    name: `${name}${vectorized ? '_vec4' : ''}`,
    bindings: { out: `write ${element}`, weights: 'read f32', rows: `read ${element}`, ...(decode ? { positions: 'read i32' as const } : {}) },
    params: { Tq: 'u32', Tk: 'u32', NH: 'u32', KVH: 'u32', HS: 'u32' },
    functions: loadColumns4('rows', vectorized) + storeColumns4('out', accumulate, vectorized),
    body: `
${channelGroup('bt', 'p.Tq', 'p.NH')}
  let t = bt % p.Tq;
  let last = ${lastKey(decode, 'bt', 't')};
  let kvHead = h / (p.NH / p.KVH);
  let row = ((b * p.NH + h) * p.Tq + t) * p.Tk;
  var sum = vec4f();
  for (var j = 0u; j <= last; j++) {
    sum += weights[row + j] * rows4(((b * p.Tk + j) * p.KVH + kvHead) * p.HS, c, p.HS);
  }
  store_out((bt * p.NH + h) * p.HS, c, p.HS, sum);`,
  };
}


/**
 * dscores[B,NH,T,T] = probs * (dprobs - sum(probs * dprobs)) * scale where dprobs = dout v^T
 * (dout [B,T,NH,HS], v [B,T,KVH,HS]): the gradient of the scaled scores, below and on the
 * diagonal. One invocation per row; dout and v read as vec4 when `vectorized` (HS a multiple of 4).
 */
function attentionScoresBackward(vectorized: boolean): Kernel {
  const element = vectorized ? 'vec4f' : 'f32';
  return {
    name: `attention_scores_backward${vectorized ? '_vec4' : ''}`,
    bindings: { dscores: 'write f32', dout: `read ${element}`, probs: 'read f32', v: `read ${element}` },
    params: { T: 'u32', NH: 'u32', KVH: 'u32', HS: 'u32', scale: 'f32' },
    body: `
  let b = i / (p.NH * p.T);
  let h = (i / p.T) % p.NH;
  let t = i % p.T;
  let width = p.HS / ${vectorized ? 4 : 1}u;
  let query = ((b * p.T + t) * p.NH + h) * width;
  let kvHead = h / (p.NH / p.KVH);
  let row = i * p.T;
  var probsDotDprobs = 0.0;
  for (var j = 0u; j <= t; j++) {
    let value = ((b * p.T + j) * p.KVH + kvHead) * width;
    var dp = 0.0;
    for (var c = 0u; c < width; c++) { dp += ${vectorized ? 'dot(dout[query + c], v[value + c])' : 'dout[query + c] * v[value + c]'}; }
    dscores[row + j] = dp;
    probsDotDprobs += probs[row + j] * dp;
  }
  for (var j = 0u; j <= t; j++) {
    dscores[row + j] = probs[row + j] * (dscores[row + j] - probsDotDprobs) * p.scale;
  }`,
  };
}

/**
 * dk[b,j,g,:] += sum over the query heads h of group g and t >= j of dscores[b,h,t,j] * q[b,t,h,:],
 * dv[b,j,g,:] += the same of probs[b,h,t,j] * dout[b,t,h,:]; dk, dv [B,T,KVH,HS]. One invocation
 * per 4 channels of a key/value head.
 */
function attentionKeyValueBackward(vectorized: boolean): Kernel {
  const element = vectorized ? 'vec4f' : 'f32';
  return {
    name: `attention_key_value_backward${vectorized ? '_vec4' : ''}`,
    bindings: { dk: `write ${element}`, dv: `write ${element}`, dscores: 'read f32', probs: 'read f32', q: `read ${element}`, dout: `read ${element}` },
    params: { T: 'u32', NH: 'u32', KVH: 'u32', HS: 'u32' },
    functions: loadColumns4('q', vectorized) + loadColumns4('dout', vectorized) + storeColumns4('dk', true, vectorized) + storeColumns4('dv', true, vectorized),
    body: `
${channelGroup('bj', 'p.T', 'p.KVH')}
  let j = bj % p.T;
  let group = p.NH / p.KVH;
  var dkSum = vec4f();
  var dvSum = vec4f();
  for (var qh = h * group; qh < (h + 1u) * group; qh++) {
    for (var t = j; t < p.T; t++) {
      let element = ((b * p.NH + qh) * p.T + t) * p.T + j;
      let query = ((b * p.T + t) * p.NH + qh) * p.HS;
      dkSum += dscores[element] * q4(query, c, p.HS);
      dvSum += probs[element] * dout4(query, c, p.HS);
    }
  }
  store_dk((bj * p.KVH + h) * p.HS, c, p.HS, dkSum);
  store_dv((bj * p.KVH + h) * p.HS, c, p.HS, dvSum);`,
  };
}

export interface AttentionKernels {
  scores: Kernel;
  scoresDecode: Kernel;
  values: Kernel;
  valuesDecode: Kernel;
  scoresBackward: Kernel;
  /** dq[B,T,NH,HS] += dscores @ k */
  queryBackward: Kernel;
  keyValueBackward: Kernel;
}

function attentionKernelSet(vectorized: boolean): AttentionKernels {
  return {
    scores: attentionScores(false, vectorized),
    scoresDecode: attentionScores(true, vectorized),
    values: weightedRows('attention_values', false, false, vectorized),
    valuesDecode: weightedRows('attention_values_decode', true, false, vectorized),
    scoresBackward: attentionScoresBackward(vectorized),
    queryBackward: weightedRows('attention_query_backward', false, true, vectorized),
    keyValueBackward: attentionKeyValueBackward(vectorized),
  };
}

const scalarKernels = attentionKernelSet(false);
const vectorKernels = attentionKernelSet(true);

/** The kernels for head size HS: heads read and written as vec4 when HS is a multiple of 4. */
export function attentionKernels(HS: number): AttentionKernels {
  return HS % 4 === 0 ? vectorKernels : scalarKernels;
}

/** Invocations of the kernels that give each (row, head) one invocation per 4 channels. */
export function channelGroupInvocations(rows: number, heads: number, HS: number): number {
  return rows * heads * Math.ceil(HS / 4);
}

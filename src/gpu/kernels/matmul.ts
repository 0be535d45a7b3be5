// Matrix multiplication in the PyTorch Linear layout: weight [OC, C], no bias. Register-tiled:
// each invocation computes a 4x4 tile of the output with vec4 loads and no workgroup memory
// (lavapipe runs barriers slowly, and llvmpipe vectorises across invocations anyway). Sizes need
// not be multiples of 4: rows and columns past the edge are clamped on load and masked on store.
// When C and OC are both multiples of 4 the vectorised variant reads the buffers as vec4 arrays.
import { loadColumns4, type Kernel } from '../kernel.ts';

export interface MatmulKernels {
  forward: Kernel;
  backwardInput: Kernel;
  backwardWeight: Kernel;
}

/**
 * WGSL helpers for the tensors of one kernel: NAME4(start, c, cols) loads 4 columns of a row,
 * NAME1(index) one element, store_NAME(row, rows, c, cols, value) writes (or adds) a 4-column
 * piece of row `row` of a [rows, cols] output, skipping what lies outside it.
 */
function helpers(vectorized: boolean, inputs: string[], output: string, accumulate: boolean): string {
  const op = accumulate ? '+=' : '=';
  const loads = inputs.map((name) =>
    vectorized
      ? `
fn ${name}4(start: u32, c: u32, cols: u32) -> vec4f { return ${name}[(start + c) / 4u]; }
fn ${name}1(index: u32) -> f32 { return ${name}[index / 4u][index % 4u]; }`
      : `${loadColumns4(name)}
fn ${name}1(index: u32) -> f32 { return ${name}[index]; }`,
  );
  const store = vectorized
    ? `
fn store_${output}(row: u32, rows: u32, c: u32, cols: u32, value: vec4f) {
  if (row < rows) { ${output}[(row * cols + c) / 4u] ${op} value; }
}`
    : `
fn store_${output}(row: u32, rows: u32, c: u32, cols: u32, value: vec4f) {
  if (row >= rows) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (c + j < cols) { ${output}[row * cols + c + j] ${op} value[j]; }
  }
}`;
  return loads.join('') + store;
}

function matmulKernels(vectorized: boolean): MatmulKernels {
  const element = vectorized ? 'vec4f' : 'f32';
  const suffix = vectorized ? '_vec4' : '';
  return {
    // out[N,OC] = inp[N,C] @ weight[OC,C]^T: both operands are contiguous along C, so the tile is
    // 16 dot products of 4-vectors per step of 4 along C.
    forward: {
      name: `matmul_forward${suffix}`,
      bindings: { out: `write ${element}`, inp: `read ${element}`, weight: `read ${element}` },
      params: { N: 'u32', C: 'u32', OC: 'u32' },
      functions: helpers(vectorized, ['inp', 'weight'], 'out', false),
      body: `
  let tiles = (p.OC + 3u) / 4u;
  let n = (i / tiles) * 4u;
  let o = (i % tiles) * 4u;
  let x0 = min(n, p.N - 1u) * p.C;
  let x1 = min(n + 1u, p.N - 1u) * p.C;
  let x2 = min(n + 2u, p.N - 1u) * p.C;
  let x3 = min(n + 3u, p.N - 1u) * p.C;
  let w0 = min(o, p.OC - 1u) * p.C;
  let w1 = min(o + 1u, p.OC - 1u) * p.C;
  let w2 = min(o + 2u, p.OC - 1u) * p.C;
  let w3 = min(o + 3u, p.OC - 1u) * p.C;
  var acc0 = vec4f();
  var acc1 = vec4f();
  var acc2 = vec4f();
  var acc3 = vec4f();
  var k = 0u;
  for (; k + 4u <= p.C; k += 4u) {
    let a0 = inp4(x0, k, p.C);
    let a1 = inp4(x1, k, p.C);
    let a2 = inp4(x2, k, p.C);
    let a3 = inp4(x3, k, p.C);
    let b0 = weight4(w0, k, p.C);
    let b1 = weight4(w1, k, p.C);
    let b2 = weight4(w2, k, p.C);
    let b3 = weight4(w3, k, p.C);
    acc0 += vec4f(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
    acc1 += vec4f(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
    acc2 += vec4f(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
    acc3 += vec4f(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
  }
  for (; k < p.C; k++) {
    let b = vec4f(weight1(w0 + k), weight1(w1 + k), weight1(w2 + k), weight1(w3 + k));
    acc0 += inp1(x0 + k) * b;
    acc1 += inp1(x1 + k) * b;
    acc2 += inp1(x2 + k) * b;
    acc3 += inp1(x3 + k) * b;
  }
  store_out(n, p.N, o, p.OC, acc0);
  store_out(n + 1u, p.N, o, p.OC, acc1);
  store_out(n + 2u, p.N, o, p.OC, acc2);
  store_out(n + 3u, p.N, o, p.OC, acc3);`,
    },
    // dinp[N,C] += dout[N,OC] @ weight[OC,C]: rows of weight are contiguous along C, so each step
    // along OC adds outer products of 4 dout values with 4-vectors of weight.
    backwardInput: {
      name: `matmul_backward_input${suffix}`,
      bindings: { dinp: `write ${element}`, dout: `read ${element}`, weight: `read ${element}` },
      params: { N: 'u32', C: 'u32', OC: 'u32' },
      functions: helpers(vectorized, ['dout', 'weight'], 'dinp', true),
      body: `
  let tiles = (p.C + 3u) / 4u;
  let n = (i / tiles) * 4u;
  let c = (i % tiles) * 4u;
  let d0 = min(n, p.N - 1u) * p.OC;
  let d1 = min(n + 1u, p.N - 1u) * p.OC;
  let d2 = min(n + 2u, p.N - 1u) * p.OC;
  let d3 = min(n + 3u, p.N - 1u) * p.OC;
  var acc0 = vec4f();
  var acc1 = vec4f();
  var acc2 = vec4f();
  var acc3 = vec4f();
  var k = 0u;
  for (; k + 4u <= p.OC; k += 4u) {
    let a0 = dout4(d0, k, p.OC);
    let a1 = dout4(d1, k, p.OC);
    let a2 = dout4(d2, k, p.OC);
    let a3 = dout4(d3, k, p.OC);
    let b0 = weight4(k * p.C, c, p.C);
    let b1 = weight4((k + 1u) * p.C, c, p.C);
    let b2 = weight4((k + 2u) * p.C, c, p.C);
    let b3 = weight4((k + 3u) * p.C, c, p.C);
    acc0 += a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
    acc1 += a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
    acc2 += a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
    acc3 += a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
  }
  for (; k < p.OC; k++) {
    let b = weight4(k * p.C, c, p.C);
    acc0 += dout1(d0 + k) * b;
    acc1 += dout1(d1 + k) * b;
    acc2 += dout1(d2 + k) * b;
    acc3 += dout1(d3 + k) * b;
  }
  store_dinp(n, p.N, c, p.C, acc0);
  store_dinp(n + 1u, p.N, c, p.C, acc1);
  store_dinp(n + 2u, p.N, c, p.C, acc2);
  store_dinp(n + 3u, p.N, c, p.C, acc3);`,
    },
    // dweight[OC,C] += dout[N,OC]^T @ inp[N,C]: for each row n, the outer product of 4 dout
    // values with a 4-vector of inp.
    backwardWeight: {
      name: `matmul_backward_weight${suffix}`,
      bindings: { dweight: `write ${element}`, dout: `read ${element}`, inp: `read ${element}` },
      params: { N: 'u32', C: 'u32', OC: 'u32' },
      functions: helpers(vectorized, ['dout', 'inp'], 'dweight', true),
      body: `
  let tiles = (p.C + 3u) / 4u;
  let o = (i / tiles) * 4u;
  let c = (i % tiles) * 4u;
  var acc0 = vec4f();
  var acc1 = vec4f();
  var acc2 = vec4f();
  var acc3 = vec4f();
  for (var n = 0u; n < p.N; n++) {
    let a = dout4(n * p.OC, o, p.OC);
    let b = inp4(n * p.C, c, p.C);
    acc0 += a.x * b;
    acc1 += a.y * b;
    acc2 += a.z * b;
    acc3 += a.w * b;
  }
  store_dweight(o, p.OC, c, p.C, acc0);
  store_dweight(o + 1u, p.OC, c, p.C, acc1);
  store_dweight(o + 2u, p.OC, c, p.C, acc2);
  store_dweight(o + 3u, p.OC, c, p.C, acc3);`,
    },
  };
}

const scalar = matmulKernels(false);
const vectorized = matmulKernels(true);

/** The kernels for these sizes: vec4 buffers when every row starts on a 4-element boundary. */
export function matmulKernelsFor(C: number, OC: number): MatmulKernels {
  return C % 4 === 0 && OC % 4 === 0 ? vectorized : scalar;
}

/** Invocations for an output of [rows, cols]: one per 4x4 tile. */
export function tileInvocations(rows: number, cols: number): number {
  return Math.ceil(rows / 4) * Math.ceil(cols / 4);
}

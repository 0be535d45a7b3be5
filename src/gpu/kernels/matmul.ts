// Matrix multiplication in the PyTorch Linear layout: weight [OC, C], no bias. Register-tiled,
// without workgroup memory: lavapipe runs workgroup barriers slowly. Two families:
// - tiledMatmul, any sizes: each invocation computes a 4x4 output tile from its own loads; rows
//   and columns past the edge are clamped on load and masked on store.
// - subgroupMatmul, C and OC multiples of 4, on devices with subgroups of at least 8 lanes: 8
//   lanes share 8 output rows, each lane owns 4 columns; every lane loads one 4-vector of the
//   shared operand and subgroupShuffle hands it to the other 7. On lavapipe, where a load that
//   differs between lanes is a slow gather, this halves or better the gathers per multiply-add.
import { loadColumns4, type Kernel } from '../kernel.ts';

export interface MatmulKernels {
  forward: Kernel;
  backwardInput: Kernel;
  backwardWeight: Kernel;
  /** When present, backwardWeight writes one partial dweight per chunk of rows and this adds them up. */
  sumChunks?: Kernel;
}

/** WGSL helpers: NAME4 (see loadColumns4) and NAME1(index) for each input, store_NAME(row, rows, c, cols, value). */
function helpers(inputs: string[], output: string): string {
  const loads = inputs.map((name) => `${loadColumns4(name)}
fn ${name}1(index: u32) -> f32 { return ${name}[index]; }`);
  return `${loads.join('')}
fn store_${output}(row: u32, rows: u32, c: u32, cols: u32, value: vec4f) {
  if (row >= rows) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (c + j < cols) { ${output}[row * cols + c + j] ${output === 'out' ? '=' : '+='} value[j]; }
  }
}`;
}

/** Any sizes: each invocation computes a 4x4 tile with its own loads. */
export const tiledMatmul: MatmulKernels = {
  // out[N,OC] = inp[N,C] @ weight[OC,C]^T: both operands are contiguous along C, so the tile is
  // 16 dot products of 4-vectors per step of 4 along C.
  forward: {
    name: 'matmul_forward',
    bindings: { out: 'write f32', inp: 'read f32', weight: 'read f32' },
    params: { N: 'u32', C: 'u32', OC: 'u32' },
    functions: helpers(['inp', 'weight'], 'out'),
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
    name: 'matmul_backward_input',
    bindings: { dinp: 'write f32', dout: 'read f32', weight: 'read f32' },
    params: { N: 'u32', C: 'u32', OC: 'u32' },
    functions: helpers(['dout', 'weight'], 'dinp'),
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
    name: 'matmul_backward_weight',
    bindings: { dweight: 'write f32', dout: 'read f32', inp: 'read f32' },
    params: { N: 'u32', C: 'u32', OC: 'u32' },
    functions: helpers(['dout', 'inp'], 'dweight'),
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


// The subgroup family. Invocation i works in the octet i / 8 (8 consecutive invocations, which
// are 8 consecutive lanes of one subgroup: true of lavapipe and of 1-D workgroups on GPUs), as
// lane lane % 8; `leader` is the octet's first lane. The invocation count is padded to whole
// octets, so an octet returns or runs as a whole and its shuffles see all 8 lanes.
// `index` is the octet's place in the output, i / 8 unless the kernel also splits the sum.
function octet(cols: string, index = 'i / 8u'): string {
  return `
  let leader = lane & ~7u;
  let member = lane % 8u;
  let tiles = (${cols} + 3u) / 4u;
  let octets = (tiles + 7u) / 8u;
  let rowBlock = (${index}) / octets * 8u;
  let tile = ((${index}) % octets) * 8u + member;
  // Lanes past the last tile repeat it, so that their loads stay in bounds, and store nothing.
  let c = min(tile, tiles - 1u) * 4u;`;
}

/** C and OC multiples of 4, subgroups of at least 8 lanes; all buffers read as vec4. */
export const subgroupMatmul: MatmulKernels = {
  // out[N,OC] = inp[N,C] @ weight[OC,C]^T: the octet shares 8 rows of inp; lane owns 4 rows of weight.
  forward: {
    name: 'matmul_forward_subgroup',
    subgroups: true,
    bindings: { out: 'write vec4f', inp: 'read vec4f', weight: 'read vec4f' },
    params: { N: 'u32', C: 'u32', OC: 'u32' },
    body: `${octet('p.OC')}
  let C4 = p.C / 4u;
  let mine = min(rowBlock + member, p.N - 1u) * C4;
  let w0 = c * C4;
  let w1 = w0 + C4;
  let w2 = w1 + C4;
  let w3 = w2 + C4;
  ${rows((r) => `var acc${r} = vec4f();`)}
  for (var k = 0u; k < C4; k++) {
    let b0 = weight[w0 + k];
    let b1 = weight[w1 + k];
    let b2 = weight[w2 + k];
    let b3 = weight[w3 + k];
    let sharedPart = inp[mine + k];
    ${rows((r) => `{ let a = subgroupShuffle(sharedPart, leader + ${r}u); acc${r} += vec4f(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3)); }`)}
  }
  if (tile < tiles) {
    ${rows((r) => `if (rowBlock + ${r}u < p.N) { out[((rowBlock + ${r}u) * p.OC + c) / 4u] = acc${r}; }`)}
  }`,
  },
  // dinp[N,C] += dout[N,OC] @ weight[OC,C]: the octet shares 8 rows of dout; lane owns 4 columns of weight.
  backwardInput: {
    name: 'matmul_backward_input_subgroup',
    subgroups: true,
    bindings: { dinp: 'write vec4f', dout: 'read vec4f', weight: 'read vec4f' },
    params: { N: 'u32', C: 'u32', OC: 'u32' },
    body: `${octet('p.C')}
  let C4 = p.C / 4u;
  let OC4 = p.OC / 4u;
  let mine = min(rowBlock + member, p.N - 1u) * OC4;
  let column = c / 4u;
  ${rows((r) => `var acc${r} = vec4f();`)}
  for (var k = 0u; k < OC4; k++) {
    let b0 = weight[4u * k * C4 + column];
    let b1 = weight[(4u * k + 1u) * C4 + column];
    let b2 = weight[(4u * k + 2u) * C4 + column];
    let b3 = weight[(4u * k + 3u) * C4 + column];
    let sharedPart = dout[mine + k];
    ${rows((r) => `{ let a = subgroupShuffle(sharedPart, leader + ${r}u); acc${r} += a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3; }`)}
  }
  if (tile < tiles) {
    ${rows((r) => `if (rowBlock + ${r}u < p.N) { dinp[(rowBlock + ${r}u) * C4 + column] += acc${r}; }`)}
  }`,
  },
  // dweight[OC,C] += dout[N,OC]^T @ inp[N,C], summed over N in chunks of rowsPerChunk rows into
  // partials[chunks, OC, C]: the octets of one chunk run together and find its rows of inp and
  // dout in cache, where one pass over all N rows would stream inp from memory once per 8 rows
  // of dweight. The octet shares 8 output rows o; per step of 4 positions n, lane (2m + h) loads
  // dout[n + m, o + 4h .. o + 4h + 4) and each lane owns 4 columns of inp.
  backwardWeight: {
    name: 'matmul_backward_weight_subgroup',
    subgroups: true,
    bindings: { partials: 'write vec4f', dout: 'read vec4f', inp: 'read vec4f' },
    params: { N: 'u32', C: 'u32', OC: 'u32', rowsPerChunk: 'u32' },
    body: `${octet('p.C', '(i / 8u) % (((p.OC + 7u) / 8u) * octets)')}
  let chunk = (i / 8u) / (((p.OC + 7u) / 8u) * octets);
  let start = chunk * p.rowsPerChunk;
  let end = min(start + p.rowsPerChunk, p.N);
  let C4 = p.C / 4u;
  let OC4 = p.OC / 4u;
  let column = c / 4u;
  let half = min(rowBlock / 4u + member % 2u, OC4 - 1u);
  ${rows((r) => `var acc${r} = vec4f();`)}
  for (var n = start; n < end; n += 4u) {
    let sharedPart = dout[min(n + member / 2u, end - 1u) * OC4 + half];
    for (var m = 0u; m < 4u; m++) {
      // Positions past the chunk repeat its last row: their inp is masked to zero.
      let x = select(vec4f(), inp[min(n + m, end - 1u) * C4 + column], n + m < end);
      let low = subgroupShuffle(sharedPart, leader + 2u * m);
      let high = subgroupShuffle(sharedPart, leader + 2u * m + 1u);
      ${rows((r) => `acc${r} += ${r < 4 ? 'low' : 'high'}[${r % 4}u] * x;`)}
    }
  }
  if (tile < tiles) {
    ${rows((r) => `if (rowBlock + ${r}u < p.OC) { partials[(chunk * p.OC + rowBlock + ${r}u) * C4 + column] = acc${r}; }`)}
  }`,
  },
  // dweight[OC,C] += sum over chunks of partials[chunk, OC, C], in chunk order; one invocation per 4 elements.
  sumChunks: {
    name: 'matmul_backward_weight_sum_chunks',
    bindings: { dweight: 'write vec4f', partials: 'read vec4f' },
    params: { chunks: 'u32' },
    body: `
  var sum = vec4f();
  for (var chunk = 0u; chunk < p.chunks; chunk++) { sum += partials[chunk * p.count + i]; }
  dweight[i] += sum;`,
  },
};

/** Rows per chunk of the subgroup dweight sum: about 8 chunks, a multiple of 4 rows each. */
export function rowsPerChunk(N: number): number {
  return 4 * Math.ceil(N / 8 / 4);
}

/** WGSL lines for each of the 8 shared rows. */
function rows(line: (r: number) => string): string {
  return Array.from({ length: 8 }, (_, r) => line(r)).join('\n    ');
}

/** The kernels for these sizes, and invocations for an output of [rows, cols]. */
export function matmulPlan(C: number, OC: number, subgroups: boolean): { kernels: MatmulKernels; invocations(rows: number, cols: number): number } {
  if (subgroups && C % 4 === 0 && OC % 4 === 0) {
    return { kernels: subgroupMatmul, invocations: (rows, cols) => Math.ceil(rows / 8) * Math.ceil(cols / 32) * 8 };
  }
  return { kernels: tiledMatmul, invocations: tileInvocations };
}

/** Invocations of tiledMatmul for an output of [rows, cols]: one per 4x4 tile. */
function tileInvocations(rows: number, cols: number): number {
  return Math.ceil(rows / 4) * Math.ceil(cols / 4);
}

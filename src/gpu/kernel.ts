// A compute kernel: one WGSL entry point over a flat range of invocations. The declarations of
// its buffers and parameters are generated from the descriptor, so the WGSL and the bind group
// layout the backend builds cannot disagree.

/** How a kernel sees one tensor: read-only or read-write, as f32, i32 or vec4<f32> elements. */
export type Binding = 'read f32' | 'write f32' | 'read i32' | 'write i32' | 'read vec4f' | 'write vec4f';

export interface Kernel {
  /** Unique among kernels; names the pipeline in errors and timings. */
  name: string;
  /** Storage buffers in binding order; the names are the WGSL variable names. */
  bindings: Record<string, Binding>;
  /** Uniform parameters in order; read in WGSL as p.name. */
  params: Record<string, 'u32' | 'i32' | 'f32'>;
  /**
   * Uses subgroup operations: the entry point gets `lane` (subgroup_invocation_id). Subgroup
   * uniformity is not checked, because such kernels pad their invocation count to whole groups
   * of 8 lanes that return or run together.
   */
  subgroups?: boolean;
  /** WGSL functions and constants placed before the entry point. */
  functions?: string;
  /** The body of the entry point; `i` is the invocation index, already checked against p.count. */
  body: string;
}

export const WORKGROUP_SIZE = 64;

/** The WGSL module of a kernel: parameters (with the invocation count first), buffers, entry point. */
export function kernelSource(kernel: Kernel): string {
  const fields = Object.entries({ count: 'u32', ...kernel.params }).map(([name, type]) => `${name}: ${type}`);
  const buffers = Object.entries(kernel.bindings).map(([name, binding], index) => {
    const [access, element] = binding.split(' ');
    const mode = access === 'write' ? 'read_write' : 'read';
    return `@group(0) @binding(${index + 1}) var<storage, ${mode}> ${name}: array<${element}>;`;
  });
  const header = kernel.subgroups ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : '';
  const laneBuiltin = kernel.subgroups ? ', @builtin(subgroup_invocation_id) lane: u32' : '';
  return `${header}struct Params { ${fields.join(', ')} }
@group(0) @binding(0) var<uniform> p: Params;
${buffers.join('\n')}
${kernel.functions ?? ''}
@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(workgroup_id) workgroup: vec3u, @builtin(num_workgroups) workgroupCount: vec3u, @builtin(local_invocation_index) local: u32${laneBuiltin}) {
  let i = (workgroup.x + workgroup.y * workgroupCount.x) * ${WORKGROUP_SIZE}u + local;
  if (i >= p.count) { return; }
${kernel.body}
}
`;
}

/**
 * WGSL helper `NAME4(start, c, cols)`: NAME[start + c .. start + c + 4) as a vec4, columns past
 * `cols` clamped to the last one so that every load stays inside the row. `vectorized`: the
 * buffer is bound as vec4 and start + c is a multiple of 4 with c + 4 <= cols.
 */
export function loadColumns4(buffer: string, vectorized = false): string {
  if (vectorized) return `
fn ${buffer}4(start: u32, c: u32, cols: u32) -> vec4f { return ${buffer}[(start + c) / 4u]; }`;
  return `
fn ${buffer}4(start: u32, c: u32, cols: u32) -> vec4f {
  let last = cols - 1u;
  return vec4f(${buffer}[start + min(c, last)], ${buffer}[start + min(c + 1u, last)],
               ${buffer}[start + min(c + 2u, last)], ${buffer}[start + min(c + 3u, last)]);
}`;
}

/**
 * WGSL helper `store_NAME(start, c, cols, value)`: NAME[start + c + j] = (or +=) value[j] where
 * c + j < cols. `vectorized`: as for loadColumns4.
 */
export function storeColumns4(buffer: string, accumulate: boolean, vectorized = false): string {
  if (vectorized) return `
fn store_${buffer}(start: u32, c: u32, cols: u32, value: vec4f) { ${buffer}[(start + c) / 4u] ${accumulate ? '+=' : '='} value; }`;
  return `
fn store_${buffer}(start: u32, c: u32, cols: u32, value: vec4f) {
  for (var j = 0u; j < 4u; j++) {
    if (c + j < cols) { ${buffer}[start + c + j] ${accumulate ? '+=' : '='} value[j]; }
  }
}`;
}

/** The scalar kernel and its vec4 twin, which handles 4 elements per invocation. */
export interface ElementwiseKernels {
  scalar: Kernel;
  vector: Kernel;
}

/**
 * An elementwise kernel over f32 tensors in two forms: as written, one element per invocation,
 * and with every buffer read as vec4<f32>, 4 elements per invocation, for lengths that are
 * multiples of 4 (several times faster on lavapipe, where each invocation has a fixed cost).
 * The body must read the same as WGSL for f32 and vec4f values; `ELEMENT` names the type.
 * Bindings named in `scalars` stay f32 in both forms.
 */
export function elementwise(kernel: Kernel, scalars: string[] = []): ElementwiseKernels {
  const vectorBindings = Object.fromEntries(
    Object.entries(kernel.bindings).map(([name, binding]) => [name, scalars.includes(name) ? binding : (binding.replace('f32', 'vec4f') as Binding)]),
  );
  return {
    scalar: { ...kernel, body: kernel.body.replaceAll('ELEMENT', 'f32') },
    vector: { ...kernel, name: `${kernel.name}_vec4`, bindings: vectorBindings, body: kernel.body.replaceAll('ELEMENT', 'vec4f') },
  };
}

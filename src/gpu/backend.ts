// The webgpu backend: every op of the Backend contract as a WGSL kernel dispatch. Ops only record:
// dispatches accumulate in one command encoder (one compute pass between copies) until a read or
// sync submits them, so a whole training step costs a few submits. Memory comes from a pool of
// buffers by size class, pipelines are compiled once per kernel, and uniform parameters of all
// recorded dispatches share one buffer written once per submit.
import type { AdamWSettings, Backend, DType, Tensor } from '../backend/backend.ts';
import { requestGpuDevice, type GpuDevice } from './device.ts';
import { kernelSource, WORKGROUP_SIZE, type ElementwiseKernels, type Kernel } from './kernel.ts';
import { adamw, sumSquaresFinish, sumSquaresPartial, SUM_SQUARES_PARTIALS } from './kernels/adamw.ts';
import { attentionKernels, channelGroupInvocations } from './kernels/attention.ts';
import { biasBackward, biasForward } from './kernels/bias.ts';
import { embeddingBackward, embeddingBackwardInvocations, embeddingForward } from './kernels/embedding.ts';
import { argmax, cacheWrite, gatherRows, topkEntropy } from './kernels/inference.ts';
import { logprobBackward, logprobForward } from './kernels/logprob.ts';
import { matmulPlan, rowsPerChunk } from './kernels/matmul.ts';
import { fill } from './kernels/memory.ts';
import { accumulate, residualForward } from './kernels/residual.ts';
import { rmsnormBackwardInput, rmsnormBackwardWeight, rmsnormForward } from './kernels/rmsnorm.ts';
import { ropeBackward, ropeForward } from './kernels/rope.ts';
import { swigluBackward, swigluForward } from './kernels/swiglu.ts';

/** Dispatches whose parameters fit in the uniform buffer before a submit is forced. */
const PARAM_SLOTS = 4096;
/** Bind groups kept for reuse: a training loop binds the same buffers step after step. */
const MAX_CACHED_BIND_GROUPS = 8192;

const ropeForwardCopy = ropeForward(false);
const ropeForwardInPlace = ropeForward(true);

interface PooledBuffer {
  readonly gpu: GPUBuffer;
  /** Identifies the buffer in bind group cache keys. */
  readonly id: number;
}

class GpuTensor implements Tensor {
  released = false;
  constructor(
    readonly backend: WebGpuBackend,
    readonly length: number,
    readonly dtype: DType,
    readonly buffer: PooledBuffer,
  ) {}
}

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Buffers are pooled by power-of-two size classes of at least 256 bytes. */
function sizeClass(bytes: number): number {
  return Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly description: string;

  private readonly device: GPUDevice;
  private readonly pool = new Map<number, PooledBuffer[]>();
  private readonly stagingPool = new Map<number, GPUBuffer[]>();
  private readonly allBuffers: GPUBuffer[] = [];
  private nextBufferId = 0;
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();

  private readonly paramStride: number;
  private readonly paramData: ArrayBuffer;
  private readonly paramView: DataView;
  private readonly paramBuffer: GPUBuffer;
  private paramCount = 0;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private error: Error | null = null;

  static async create(): Promise<WebGpuBackend> {
    return new WebGpuBackend(await requestGpuDevice());
  }

  private constructor(private readonly gpu: GpuDevice) {
    this.device = gpu.device;
    this.description = gpu.description;
    this.device.addEventListener('uncapturederror', (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      console.error(`${this.description}: ${message}`);
      this.error ??= new Error(`webgpu error: ${message}`);
    });
    this.paramStride = this.device.limits.minUniformBufferOffsetAlignment;
    this.paramData = new ArrayBuffer(PARAM_SLOTS * this.paramStride);
    this.paramView = new DataView(this.paramData);
    this.paramBuffer = this.device.createBuffer({
      size: this.paramData.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** Bytes of device memory held in buffers, pooled or in use. */
  get allocatedBytes(): number {
    return this.allBuffers.reduce((sum, buffer) => sum + buffer.size, 0);
  }

  // ---- memory ------------------------------------------------------------------------------

  zeros(length: number, dtype: DType = 'f32'): Tensor {
    return this.allocate(length, dtype, true);
  }

  upload(data: Float32Array | Int32Array): Tensor {
    const tensor = this.allocate(data.length, data instanceof Int32Array ? 'i32' : 'f32', false);
    this.write(tensor, data);
    return tensor;
  }

  write(dst: Tensor, data: Float32Array | Int32Array, dstOffset = 0): void {
    const tensor = this.tensor(dst);
    const dtype = data instanceof Int32Array ? 'i32' : 'f32';
    if (dtype !== tensor.dtype) throw new TypeError(`cannot write ${dtype} data into an ${tensor.dtype} tensor`);
    checkRange('write', tensor, dstOffset, data.length);
    // queue.writeBuffer runs before any command buffer submitted after it, so work recorded
    // earlier must be submitted first to keep the order the caller wrote.
    this.submit();
    this.device.queue.writeBuffer(tensor.buffer.gpu, dstOffset * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  async read(src: Tensor, offset = 0, length = src.length - offset): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(src, 'f32', offset, length));
  }

  async readInt(src: Tensor, offset = 0, length = src.length - offset): Promise<Int32Array> {
    return new Int32Array(await this.readBytes(src, 'i32', offset, length));
  }

  copy(dst: Tensor, dstOffset: number, src: Tensor, srcOffset: number, length: number): void {
    const to = this.tensor(dst);
    const from = this.tensor(src);
    if (to.dtype !== from.dtype) throw new TypeError(`cannot copy ${from.dtype} into ${to.dtype}`);
    checkRange('copy to', to, dstOffset, length);
    checkRange('copy from', from, srcOffset, length);
    if (length === 0) return;
    this.commands().copyBufferToBuffer(from.buffer.gpu, srcOffset * 4, to.buffer.gpu, dstOffset * 4, length * 4);
  }

  fill(dst: Tensor, value: number): void {
    const tensor = this.tensor(dst);
    if (value === 0 && !Object.is(value, -0)) {
      if (tensor.length > 0) this.commands().clearBuffer(tensor.buffer.gpu, 0, tensor.length * 4);
    } else {
      this.elementwise(fill, [dst], [value], tensor.length);
    }
  }

  release(tensor: Tensor): void {
    const t = this.tensor(tensor);
    t.released = true;
    // Work recorded with this buffer runs before anything recorded after its reuse: the queue
    // keeps order, so the buffer can go back to the pool at once.
    this.poolFor(t.buffer.gpu.size).push(t.buffer);
  }

  async sync(): Promise<void> {
    this.submit();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed();
  }

  destroy(): void {
    this.encoder = null;
    this.pass = null;
    for (const buffer of this.allBuffers) buffer.destroy();
    this.paramBuffer.destroy();
    this.allBuffers.length = 0;
    this.pool.clear();
    this.stagingPool.clear();
    this.bindGroups.clear();
    this.pipelines.clear();
    this.gpu.destroy();
  }

  // ---- layers ------------------------------------------------------------------------------

  embeddingForward(out: Tensor, tokens: Tensor, wte: Tensor, N: number, C: number): void {
    this.dispatch(embeddingForward, [out, tokens, wte], [C], N * C);
  }

  embeddingBackward(dwte: Tensor, dout: Tensor, tokens: Tensor, N: number, C: number): void {
    this.dispatch(embeddingBackward, [dwte, dout, tokens], [N, C], embeddingBackwardInvocations(dwte.length / C, C));
  }

  rmsnormForward(out: Tensor, rstd: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, eps: number): void {
    this.dispatch(rmsnormForward, [out, rstd, inp, weight], [C, eps], N);
  }

  rmsnormBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, rstd: Tensor, N: number, C: number): void {
    this.dispatch(rmsnormBackwardInput, [dinp, dout, inp, weight, rstd], [C], N);
    this.dispatch(rmsnormBackwardWeight, [dweight, dout, inp, rstd], [N, C], C);
  }

  matmulForward(out: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void {
    const { kernels, invocations } = matmulPlan(C, OC, this.gpu.subgroups);
    this.dispatch(kernels.forward, [out, inp, weight], [N, C, OC], invocations(N, OC));
  }

  matmulBackward(dinp: Tensor, dweight: Tensor, dout: Tensor, inp: Tensor, weight: Tensor, N: number, C: number, OC: number): void {
    const { kernels, invocations } = matmulPlan(C, OC, this.gpu.subgroups);
    this.dispatch(kernels.backwardInput, [dinp, dout, weight], [N, C, OC], invocations(N, C));
    if (kernels.sumChunks) {
      const rows = rowsPerChunk(N);
      const chunks = Math.ceil(N / rows);
      const partials = this.allocate(chunks * OC * C, 'f32', false);
      this.dispatch(kernels.backwardWeight, [partials, dout, inp], [N, C, OC, rows], chunks * invocations(OC, C));
      this.dispatch(kernels.sumChunks, [dweight, partials], [chunks], (OC * C) / 4);
      this.release(partials);
    } else {
      this.dispatch(kernels.backwardWeight, [dweight, dout, inp], [N, C, OC], invocations(OC, C));
    }
  }

  biasForward(out: Tensor, bias: Tensor, N: number, OC: number): void {
    this.dispatch(biasForward, [out, bias], [OC], N * OC);
  }

  biasBackward(dbias: Tensor, dout: Tensor, N: number, OC: number): void {
    this.dispatch(biasBackward, [dbias, dout], [N, OC], OC);
  }

  ropeForward(out: Tensor, inp: Tensor, positions: Tensor, N: number, NH: number, HS: number, theta: number): void {
    const params = [NH, HS, Math.log2(theta)];
    if (out === inp) this.dispatch(ropeForwardInPlace, [out, positions], params, (N * NH * HS) / 2);
    else this.dispatch(ropeForwardCopy, [out, inp, positions], params, (N * NH * HS) / 2);
  }

  ropeBackward(dinp: Tensor, dout: Tensor, positions: Tensor, N: number, NH: number, HS: number, theta: number): void {
    this.dispatch(ropeBackward, [dinp, dout, positions], [NH, HS, Math.log2(theta)], (N * NH * HS) / 2);
  }

  attentionForward(out: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, KVH: number, HS: number): void {
    const kernels = attentionKernels(HS);
    this.dispatch(kernels.scores, [probs, q, k], [T, T, NH, KVH, HS, 1 / Math.sqrt(HS)], B * NH * T);
    this.dispatch(kernels.values, [out, probs, v], [T, T, NH, KVH, HS], channelGroupInvocations(B * T, NH, HS));
  }

  attentionBackward(
    dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor,
    B: number, T: number, NH: number, KVH: number, HS: number,
  ): void {
    const dscores = this.allocate(B * NH * T * T, 'f32', false);
    const kernels = attentionKernels(HS);
    this.dispatch(kernels.scoresBackward, [dscores, dout, probs, v], [T, NH, KVH, HS, 1 / Math.sqrt(HS)], B * NH * T);
    this.dispatch(kernels.queryBackward, [dq, dscores, k], [T, T, NH, KVH, HS], channelGroupInvocations(B * T, NH, HS));
    this.dispatch(kernels.keyValueBackward, [dk, dv, dscores, probs, q, dout], [T, NH, KVH, HS], channelGroupInvocations(B * T, KVH, HS));
    this.release(dscores);
  }

  swigluForward(out: Tensor, gate: Tensor, up: Tensor, N: number, H: number): void {
    this.elementwise(swigluForward, [out, gate, up], [], N * H);
  }

  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, N: number, H: number): void {
    this.elementwise(swigluBackward, [dgate, dup, dout, gate, up], [], N * H);
  }

  residualForward(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    if (out === a) this.elementwise(accumulate, [out, b], [], n);
    else this.elementwise(residualForward, [out, a, b], [], n);
  }

  accumulate(dst: Tensor, src: Tensor, n: number): void {
    this.elementwise(accumulate, [dst, src], [], n);
  }

  logprobForward(logp: Tensor, logits: Tensor, targets: Tensor, N: number, V: number): void {
    this.dispatch(logprobForward, [logp, logits, targets], [V], N);
  }

  logprobBackward(dlogits: Tensor, dlogp: Tensor, logits: Tensor, targets: Tensor, N: number, V: number): void {
    this.dispatch(logprobBackward, [dlogits, dlogp, logits, targets], [V], N);
  }

  sumSquares(out: Tensor, x: Tensor, n: number): void {
    const partials = this.allocate(SUM_SQUARES_PARTIALS, 'f32', false);
    const count = Math.min(SUM_SQUARES_PARTIALS, n);
    this.dispatch(sumSquaresPartial, [partials, x], [n], count);
    this.dispatch(sumSquaresFinish, [out, partials], [count], 1);
    this.release(partials);
  }

  adamw(param: Tensor, m: Tensor, v: Tensor, grad: Tensor, gradSumSquares: Tensor, n: number, s: AdamWSettings): void {
    const mCorrection = 1 - Math.pow(s.beta1, s.step);
    const vCorrection = 1 - Math.pow(s.beta2, s.step);
    const params = [s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, mCorrection, vCorrection, s.maxGradNorm];
    this.elementwise(adamw, [param, m, v, grad, gradSumSquares], params, n);
  }

  // ---- inference ---------------------------------------------------------------------------

  gatherRows(out: Tensor, inp: Tensor, rows: Tensor, R: number, C: number): void {
    this.dispatch(gatherRows, [out, inp, rows], [C], R * C);
  }

  argmax(out: Tensor, logits: Tensor, N: number, V: number): void {
    this.dispatch(argmax, [out, logits], [V], N);
  }

  topkEntropy(out: Tensor, logits: Tensor, N: number, V: number, k: number): void {
    this.dispatch(topkEntropy, [out, logits], [V, k], N);
  }

  cacheWrite(cache: Tensor, src: Tensor, positions: Tensor, B: number, Tn: number, Tmax: number, C: number): void {
    this.dispatch(cacheWrite, [cache, src, positions], [Tn, Tmax, C], B * Tn * C);
  }

  attentionDecode(
    out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, positions: Tensor,
    B: number, Tq: number, NH: number, KVH: number, HS: number, Tmax: number,
  ): void {
    const probs = this.allocate(B * NH * Tq * Tmax, 'f32', false);
    const kernels = attentionKernels(HS);
    this.dispatch(kernels.scoresDecode, [probs, q, kCache, positions], [Tq, Tmax, NH, KVH, HS, 1 / Math.sqrt(HS)], B * NH * Tq);
    this.dispatch(kernels.valuesDecode, [out, probs, vCache, positions], [Tq, Tmax, NH, KVH, HS], channelGroupInvocations(B * Tq, NH, HS));
    this.release(probs);
  }

  // ---- recording ---------------------------------------------------------------------------

  /** Records one dispatch of `kernel` over `count` invocations; `params` in the kernel's order. */
  private dispatch(kernel: Kernel, tensors: Tensor[], params: number[], count: number): void {
    if (count === 0) return;
    const pipeline = this.pipeline(kernel);
    const bindGroup = this.bindGroup(kernel, pipeline, tensors);
    if (this.paramCount === PARAM_SLOTS) this.submit();
    const offset = this.paramCount++ * this.paramStride;
    this.paramView.setUint32(offset, count, true);
    Object.values(kernel.params).forEach((type, index) => {
      const at = offset + 4 * (index + 1);
      if (type === 'f32') this.paramView.setFloat32(at, params[index], true);
      else if (type === 'i32') this.paramView.setInt32(at, params[index], true);
      else this.paramView.setUint32(at, params[index], true);
    });
    const groups = Math.ceil(count / WORKGROUP_SIZE);
    const x = Math.min(groups, this.device.limits.maxComputeWorkgroupsPerDimension);
    if (!this.pass) this.pass = this.commands(true).beginComputePass();
    this.pass.setPipeline(pipeline.pipeline);
    this.pass.setBindGroup(0, bindGroup, [offset]);
    this.pass.dispatchWorkgroups(x, Math.ceil(groups / x));
  }

  /** Records an elementwise kernel over n elements: 4 per invocation when n is a multiple of 4. */
  private elementwise(kernels: ElementwiseKernels, tensors: Tensor[], params: number[], n: number): void {
    if (n % 4 === 0) this.dispatch(kernels.vector, tensors, params, n / 4);
    else this.dispatch(kernels.scalar, tensors, params, n);
  }

  /** The current command encoder, with the compute pass ended unless `forPass`. */
  private commands(forPass = false): GPUCommandEncoder {
    if (this.pass && !forPass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Submits everything recorded, with the parameters of its dispatches. */
  private submit(): void {
    if (!this.encoder) return;
    const encoder = this.commands();
    if (this.paramCount > 0) this.device.queue.writeBuffer(this.paramBuffer, 0, this.paramData, 0, this.paramCount * this.paramStride);
    this.device.queue.submit([encoder.finish()]);
    this.encoder = null;
    this.paramCount = 0;
  }

  private pipeline(kernel: Kernel): Pipeline {
    const cached = this.pipelines.get(kernel.name);
    if (cached) return cached;
    const storage = Object.values(kernel.bindings).map((binding, index): GPUBindGroupLayoutEntry => ({
      binding: index + 1,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: binding.startsWith('write') ? 'storage' : 'read-only-storage' },
    }));
    const layout = this.device.createBindGroupLayout({
      entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } }, ...storage],
    });
    const pipeline = this.device.createComputePipeline({
      label: kernel.name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.device.createShaderModule({ label: kernel.name, code: kernelSource(kernel) }), entryPoint: 'main' },
    });
    const compiled = { pipeline, layout };
    this.pipelines.set(kernel.name, compiled);
    return compiled;
  }

  private bindGroup(kernel: Kernel, pipeline: Pipeline, tensors: Tensor[]): GPUBindGroup {
    const bindings = Object.entries(kernel.bindings);
    if (tensors.length !== bindings.length) throw new Error(`${kernel.name}: expected ${bindings.length} tensors, got ${tensors.length}`);
    const buffers = tensors.map((tensor, index) => {
      const t = this.tensor(tensor);
      const [name, binding] = bindings[index];
      const wanted = binding.endsWith('i32') ? 'i32' : 'f32';
      if (t.dtype !== wanted) throw new TypeError(`${kernel.name}: ${name} must be an ${wanted} tensor, got ${t.dtype}`);
      return t.buffer;
    });
    const key = `${kernel.name}:${buffers.map((buffer) => buffer.id).join(',')}`;
    const cached = this.bindGroups.get(key);
    if (cached) return cached;
    if (new Set(buffers).size !== buffers.length) {
      // WebGPU forbids one buffer in two bindings of a dispatch when either is writable.
      throw new Error(`${kernel.name}: the same tensor is passed twice`);
    }
    if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.bindGroups.clear();
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.layout,
      entries: [
        { binding: 0, resource: { buffer: this.paramBuffer, size: this.paramStride } },
        ...buffers.map((buffer, index) => ({ binding: index + 1, resource: { buffer: buffer.gpu } })),
      ],
    });
    this.bindGroups.set(key, bindGroup);
    return bindGroup;
  }

  // ---- buffers -----------------------------------------------------------------------------

  private tensor(tensor: Tensor): GpuTensor {
    if (!(tensor instanceof GpuTensor) || tensor.backend !== this) throw new TypeError('expected a tensor of this webgpu backend');
    if (tensor.released) throw new Error('tensor used after release');
    return tensor;
  }

  /** A tensor on a pooled buffer; new buffers start zeroed, reused ones are cleared when `zeroed`. */
  private allocate(length: number, dtype: DType, zeroed: boolean): GpuTensor {
    const size = sizeClass(length * 4);
    const pooled = this.poolFor(size).pop();
    const tensor = new GpuTensor(this, length, dtype, pooled ?? this.createBuffer(size));
    if (pooled && zeroed && length > 0) this.commands().clearBuffer(pooled.gpu, 0, length * 4);
    return tensor;
  }

  private createBuffer(size: number): PooledBuffer {
    const gpu = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.allBuffers.push(gpu);
    return { gpu, id: this.nextBufferId++ };
  }

  private createStagingBuffer(size: number): GPUBuffer {
    const buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.allBuffers.push(buffer);
    return buffer;
  }

  private poolFor(size: number): PooledBuffer[] {
    let buffers = this.pool.get(size);
    if (!buffers) this.pool.set(size, (buffers = []));
    return buffers;
  }

  /** Copies `length` elements from `offset` into a pooled staging buffer, submits, and maps only those bytes. */
  private async readBytes(src: Tensor, dtype: DType, offset: number, length: number): Promise<ArrayBuffer> {
    const tensor = this.tensor(src);
    if (tensor.dtype !== dtype) throw new TypeError(`cannot read an ${tensor.dtype} tensor as ${dtype}`);
    checkRange('read', tensor, offset, length);
    this.throwIfFailed();
    if (length === 0) return new ArrayBuffer(0);
    const bytes = length * 4;
    const size = sizeClass(bytes);
    let staging = this.stagingPool.get(size);
    if (!staging) this.stagingPool.set(size, (staging = []));
    const buffer = staging.pop() ?? this.createStagingBuffer(size);
    this.commands().copyBufferToBuffer(tensor.buffer.gpu, offset * 4, buffer, 0, bytes);
    this.submit();
    await buffer.mapAsync(GPUMapMode.READ, 0, bytes);
    const data = buffer.getMappedRange(0, bytes).slice(0);
    buffer.unmap();
    staging.push(buffer);
    this.throwIfFailed();
    return data;
  }

  /** Surfaces a validation or out-of-memory error reported by the device since the last check. */
  private throwIfFailed(): void {
    if (this.error) throw this.error;
  }
}

function checkRange(what: string, tensor: GpuTensor, offset: number, length: number): void {
  if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= tensor.length)) {
    throw new RangeError(`${what}: elements ${offset}..${offset + length} are outside a tensor of ${tensor.length}`);
  }
}

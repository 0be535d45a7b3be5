// WebGPU device bootstrap through Dawn's Node bindings. On a machine without a GPU, Dawn finds
// Mesa's lavapipe (Vulkan on the CPU), which runs the same kernels, only slower.
import { create, globals } from 'webgpu';

export interface GpuDevice {
  device: GPUDevice;
  /** Whether subgroup operations run with at least 8 lanes, as the subgroup matmul kernels need. */
  subgroups: boolean;
  /** One line naming the adapter, e.g. "webgpu: llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) [mesa, software]". */
  description: string;
  /** Destroys the device and drops the Dawn instance, so that the process can exit on its own. */
  destroy(): void;
}

// GPUBufferUsage, GPUMapMode and friends are globals in a browser; Dawn provides them here.
Object.assign(globalThis, globals);

/**
 * The adapter requestGpuDevice would take, without opening a device: its name and whether it is a
 * software rasteriser (lavapipe, SwiftShader), which the cpu backend with BLAS outruns; null when
 * there is none.
 */
export async function probeGpuAdapter(): Promise<{ name: string; software: boolean } | null> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const info = adapter.info;
  const software = info.isFallbackAdapter || info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`);
  return { name: info.description || info.device || 'unnamed adapter', software };
}

/**
 * An adapter (a discrete GPU when there is one, else whatever Vulkan adapter exists) and a device
 * with the adapter's full buffer limits. Each worker thread calls this for its own device.
 */
export async function requestGpuDevice(): Promise<GpuDevice> {
  // Vulkan loaders look for their runtime directory here; without it lavapipe warns on every start.
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let gpu: GPU | undefined = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Error('no WebGPU adapter found (is a Vulkan driver such as mesa-vulkan-drivers installed?)');
  }
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has('subgroups') ? ['subgroups'] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
  });
  const info = adapter.info;
  const subgroups = device.features.has('subgroups') && (info.subgroupMinSize ?? 0) >= 8;
  const name = info.description || info.device || 'unnamed adapter';
  const description = `webgpu: ${name} [${[info.vendor, info.architecture].filter(Boolean).join(', ')}]`;

  let destroyed = false;
  device.lost.then((lost) => {
    if (!destroyed) console.error(`${description}: device lost (${lost.reason}): ${lost.message}`);
  });
  return {
    device,
    subgroups,
    description,
    destroy() {
      destroyed = true;
      device.destroy();
      // Dawn keeps the event loop alive for as long as its instance is referenced.
      gpu = undefined;
    },
  };
}

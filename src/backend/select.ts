// Which backend runs the compute. RPT_BACKEND=webgpu|cpu forces one; `auto` (the default) takes
// the fastest for the machine: webgpu on a hardware GPU; where the only adapter is a software
// one (lavapipe, SwiftShader) or there is none, the cpu backend with the system BLAS; failing
// that, webgpu on the software adapter, and last the cpu backend's TypeScript kernels.
import { isMainThread } from 'node:worker_threads';
import { BlasCpuBackend } from '../cpu/blas/backend.ts';
import { loadBlas } from '../cpu/blas/library.ts';
import { CpuBackend } from '../cpu/backend.ts';
import type { Backend } from './backend.ts';

export type BackendKind = 'cpu' | 'webgpu' | 'auto';

/** The backend kind named by RPT_BACKEND, 'auto' when it is unset. */
export function backendKindFromEnv(): BackendKind {
  const value = process.env.RPT_BACKEND;
  if (value === undefined || value === '') return 'auto';
  if (value === 'cpu' || value === 'webgpu' || value === 'auto') return value;
  throw new Error(`RPT_BACKEND must be webgpu, cpu or auto, not "${value}"`);
}

/** A backend and why it was chosen, e.g. "auto: the only WebGPU adapter is a software one (llvmpipe: ...)". */
export interface BackendChoice {
  backend: Backend;
  reason: string;
}

/** The backend of the given kind (see selectBackend). */
export async function createBackend(kind: BackendKind = backendKindFromEnv()): Promise<Backend> {
  return (await selectBackend(kind)).backend;
}

/**
 * A backend of the given kind and the reason for it. A fallback to slower kernels than the kind
 * promises (the cpu backend without BLAS, webgpu on a software adapter under auto) prints one
 * line on stderr; 'webgpu' without an adapter fails with the cause.
 */
export async function selectBackend(kind: BackendKind = backendKindFromEnv()): Promise<BackendChoice> {
  if (kind === 'webgpu') {
    try {
      return { backend: await createWebGpuBackend(), reason: 'webgpu as asked' };
    } catch (error) {
      throw new Error(`the webgpu backend cannot start: ${message(error)}`, { cause: error });
    }
  }
  if (kind === 'cpu') {
    const blas = await loadBlas();
    if (blas.blas) return { backend: new BlasCpuBackend(blas.blas), reason: 'cpu as asked' };
    notice(`${blas.error}; the cpu backend computes with its TypeScript kernels`);
    return { backend: new CpuBackend(), reason: `cpu as asked, without BLAS (${blas.error})` };
  }

  const adapter = await probeAdapter();
  if (adapter.found && !adapter.software) {
    return { backend: await createWebGpuBackend(), reason: `auto: a hardware WebGPU adapter (${adapter.name})` };
  }
  const why = adapter.found ? `the only WebGPU adapter is a software one (${adapter.name})` : adapter.problem;
  const blas = await loadBlas();
  if (blas.blas) return { backend: new BlasCpuBackend(blas.blas), reason: `auto: ${why}, and the system BLAS loads` };
  if (adapter.found) {
    notice(`${blas.error}; computing on webgpu on its software adapter`);
    return { backend: await createWebGpuBackend(), reason: `auto: ${why}, and no BLAS loads (${blas.error})` };
  }
  notice(`${why}, and ${blas.error}; computing on the cpu backend's TypeScript kernels`);
  return { backend: new CpuBackend(), reason: `auto: ${why}, and no BLAS loads (${blas.error})` };
}

// Printed by the main thread only: actor threads make the same choice, and one line is enough.
function notice(line: string): void {
  if (isMainThread) console.error(`rpt: ${line}`);
}

// Loaded on demand, so that a machine whose Dawn library cannot load still gets the cpu backend.
async function createWebGpuBackend(): Promise<Backend> {
  const { WebGpuBackend } = await import('../gpu/backend.ts');
  return WebGpuBackend.create();
}

async function probeAdapter(): Promise<{ found: true; software: boolean; name: string } | { found: false; problem: string }> {
  try {
    const { probeGpuAdapter } = await import('../gpu/device.ts');
    const adapter = await probeGpuAdapter();
    return adapter ? { found: true, ...adapter } : { found: false, problem: 'no WebGPU adapter found' };
  } catch (error) {
    return { found: false, problem: `WebGPU cannot start (${message(error)})` };
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * For GPU test files: the webgpu backend, or why there is none. Under CI (process.env.CI set)
 * a missing adapter throws, so the GPU tests fail instead of skipping; elsewhere they skip and
 * the reason is printed.
 */
export async function webgpuForTests(): Promise<{ backend: Backend | null; skipReason: string }> {
  try {
    return { backend: await createBackend('webgpu'), skipReason: '' };
  } catch (error) {
    if (process.env.CI) throw error;
    const skipReason = `skipping GPU tests: ${message(error)}`;
    console.warn(skipReason);
    return { backend: null, skipReason };
  }
}

/** For BLAS test files: the BLAS cpu backend, or why there is none; like webgpuForTests, fatal under CI. */
export async function blasForTests(): Promise<{ backend: Backend | null; skipReason: string }> {
  const blas = await loadBlas();
  if (blas.blas) return { backend: new BlasCpuBackend(blas.blas), skipReason: '' };
  if (process.env.CI) throw new Error(`the BLAS tests cannot run: ${blas.error}`);
  const skipReason = `skipping BLAS tests: ${blas.error}`;
  console.warn(skipReason);
  return { backend: null, skipReason };
}

// Which backend runs the compute: RPT_BACKEND=webgpu|cpu forces one; otherwise webgpu when an
// adapter exists (a GPU, or lavapipe on a machine without one), else the cpu reference.
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

/**
 * A backend of the given kind. 'auto' falls back to cpu with a one-line notice on stderr when
 * WebGPU cannot start; 'webgpu' then fails with the cause.
 */
export async function createBackend(kind: BackendKind = backendKindFromEnv()): Promise<Backend> {
  if (kind === 'cpu') return new CpuBackend();
  try {
    return await createWebGpuBackend();
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    if (kind === 'webgpu') throw new Error(`the webgpu backend cannot start: ${cause}`, { cause: error });
    console.error(`rpt: ${cause}; computing on the cpu backend`);
    return new CpuBackend();
  }
}

// Loaded on demand, so that a machine whose Dawn library cannot load still gets the cpu backend.
async function createWebGpuBackend(): Promise<Backend> {
  const { WebGpuBackend } = await import('../gpu/backend.ts');
  return WebGpuBackend.create();
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
    const skipReason = `skipping GPU tests: ${error instanceof Error ? error.message : String(error)}`;
    console.warn(skipReason);
    return { backend: null, skipReason };
  }
}

// The backends a backend-parameterised test runs on: the cpu reference always; the cpu backend
// with BLAS and webgpu where they can start (see blasForTests and webgpuForTests for when they
// are skipped instead, and fail under CI).
import type { Backend } from '../../src/backend/backend.ts';
import { blasForTests, webgpuForTests } from '../../src/backend/select.ts';
import { CpuBackend } from '../../src/cpu/backend.ts';

export interface BackendUnderTest {
  name: 'cpu' | 'blas' | 'webgpu';
  backend: Backend | null; // null when skipped
  skipReason: string;
}

/** The backends checked against the cpu reference: BLAS and webgpu. */
export async function acceleratedBackendsForTests(): Promise<BackendUnderTest[]> {
  return [{ name: 'blas', ...(await blasForTests()) }, { name: 'webgpu', ...(await webgpuForTests()) }];
}

export async function backendsForTests(): Promise<BackendUnderTest[]> {
  return [{ name: 'cpu', backend: new CpuBackend(), skipReason: '' }, ...(await acceleratedBackendsForTests())];
}

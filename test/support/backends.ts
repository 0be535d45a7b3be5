// The backends a backend-parameterised test runs on: cpu always, webgpu where an adapter exists
// (see webgpuForTests for when it is skipped instead).
import type { Backend } from '../../src/backend/backend.ts';
import { webgpuForTests } from '../../src/backend/select.ts';
import { CpuBackend } from '../../src/cpu/backend.ts';

export interface BackendUnderTest {
  name: 'cpu' | 'webgpu';
  backend: Backend | null; // null when skipped
  skipReason: string;
}

export async function backendsForTests(): Promise<BackendUnderTest[]> {
  return [{ name: 'cpu', backend: new CpuBackend(), skipReason: '' }, { name: 'webgpu', ...(await webgpuForTests()) }];
}

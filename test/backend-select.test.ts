// Backend selection, each case in a child process so that the environment can hide the Vulkan
// driver (VK_ICD_FILENAMES pointing nowhere leaves Dawn without an adapter) or the BLAS library
// (RPT_BLAS naming a file that does not exist, or none).

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { blasForTests, webgpuForTests } from '../src/backend/select.ts';

const script = fileURLToPath(new URL('./support/select-backend.ts', import.meta.url));
const gpu = await webgpuForTests();
const softwareAdapter = gpu.backend !== null && /llvmpipe|lavapipe|swiftshader|software/i.test(gpu.backend.description);
gpu.backend?.destroy();
const blas = await blasForTests();

function select(env: Record<string, string>): { stdout: string; stderr: string; status: number | null } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { stdout: child.stdout, stderr: child.stderr, status: child.status };
}

const noDriver = { VK_ICD_FILENAMES: '/nonexistent/icd.json' };
const noBlas = { RPT_BLAS: '/nonexistent/libopenblas.so.0' };

describe('backend selection', () => {
  test.skipIf(!blas.backend)(`RPT_BACKEND=cpu gives the cpu backend with the system BLAS ${blas.skipReason}`, () => {
    const child = select({ RPT_BACKEND: 'cpu' });
    expect(child.stdout).toContain('chose cpu: cpu as asked');
    expect(child.stdout).toMatch(/^cpu: .*BLAS.* via koffi/m);
    expect(child.stderr).not.toContain('rpt:');
    expect(child.status).toBe(0);
  });

  test('RPT_BACKEND=cpu without a BLAS library runs the TypeScript kernels, with a one-line notice', () => {
    const child = select({ ...noBlas, RPT_BACKEND: 'cpu' });
    expect(child.stdout).toContain('chose cpu: cpu as asked, without BLAS (RPT_BLAS=/nonexistent/libopenblas.so.0');
    expect(child.stdout).toMatch(/^cpu: plain TypeScript/m);
    expect(child.stderr).toMatch(/^rpt: RPT_BLAS=\/nonexistent\/libopenblas.so.0 \(.*\); the cpu backend computes with its TypeScript kernels$/m);
    expect(child.stderr.match(/^rpt:/gm)).toHaveLength(1);
    expect(child.status).toBe(0);
  });

  test('RPT_BLAS=none asks for the TypeScript kernels', () => {
    const child = select({ RPT_BACKEND: 'cpu', RPT_BLAS: 'none' });
    expect(child.stdout).toMatch(/^cpu: plain TypeScript/m);
    expect(child.status).toBe(0);
  });

  test('an unknown RPT_BACKEND is an error that names it', () => {
    const child = select({ RPT_BACKEND: 'tpu' });
    expect(child.stderr).toContain('RPT_BACKEND must be webgpu, cpu or auto, not "tpu"');
    expect(child.status).not.toBe(0);
  });

  test.skipIf(!blas.backend)(`auto without an adapter takes the BLAS cpu backend and says why ${blas.skipReason}`, () => {
    const child = select({ ...noDriver, RPT_BACKEND: 'auto' });
    expect(child.stdout).toContain('chose cpu: auto: no WebGPU adapter found, and the system BLAS loads');
    expect(child.stderr).not.toContain('rpt:');
    expect(child.status).toBe(0);
  });

  test('auto with neither an adapter nor BLAS falls back to the TypeScript kernels with a one-line notice', () => {
    const child = select({ ...noDriver, ...noBlas, RPT_BACKEND: 'auto' });
    expect(child.stdout).toContain('chose cpu');
    expect(child.stdout).toMatch(/^cpu: plain TypeScript/m);
    expect(child.stderr).toMatch(/^rpt: no WebGPU adapter found, and RPT_BLAS=.*; computing on the cpu backend's TypeScript kernels$/m);
    expect(child.status).toBe(0);
  });

  test('webgpu forced without an adapter is an error naming the cause', () => {
    const child = select({ ...noDriver, RPT_BACKEND: 'webgpu' });
    expect(child.stderr).toContain('the webgpu backend cannot start: no WebGPU adapter found');
    expect(child.status).not.toBe(0);
  });

  test.skipIf(!(softwareAdapter && blas.backend))(`auto with only a software adapter takes the BLAS cpu backend ${gpu.skipReason}${blas.skipReason}`, () => {
    const child = select({ RPT_BACKEND: '' });
    expect(child.stdout).toMatch(/chose cpu: auto: the only WebGPU adapter is a software one \(.+\), and the system BLAS loads/);
    expect(child.status).toBe(0);
  });

  test.skipIf(!gpu.backend)(`auto with an adapter and no BLAS gives webgpu ${gpu.skipReason}`, () => {
    const child = select({ ...noBlas, RPT_BACKEND: '' });
    expect(child.stdout).toContain('chose webgpu');
    expect(child.status).toBe(0);
  });
});

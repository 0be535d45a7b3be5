// Backend selection, each case in a child process so that the environment can hide the Vulkan
// driver (VK_ICD_FILENAMES pointing nowhere leaves Dawn without an adapter).

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { webgpuForTests } from '../src/backend/select.ts';

const script = fileURLToPath(new URL('./support/select-backend.ts', import.meta.url));
const gpu = await webgpuForTests();
gpu.backend?.destroy();

function select(env: Record<string, string>): { stdout: string; stderr: string; status: number | null } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { stdout: child.stdout, stderr: child.stderr, status: child.status };
}

const noDriver = { VK_ICD_FILENAMES: '/nonexistent/icd.json' };

describe('backend selection', () => {
  test('RPT_BACKEND=cpu gives the cpu backend', () => {
    const child = select({ RPT_BACKEND: 'cpu' });
    expect(child.stdout).toContain('chose cpu');
    expect(child.status).toBe(0);
  });

  test('an unknown RPT_BACKEND is an error that names it', () => {
    const child = select({ RPT_BACKEND: 'tpu' });
    expect(child.stderr).toContain('RPT_BACKEND must be webgpu, cpu or auto, not "tpu"');
    expect(child.status).not.toBe(0);
  });

  test('auto without an adapter falls back to cpu with a one-line notice', () => {
    const child = select({ ...noDriver, RPT_BACKEND: 'auto' });
    expect(child.stdout).toContain('chose cpu');
    expect(child.stderr).toMatch(/^rpt: no WebGPU adapter found .*; computing on the cpu backend$/m);
    expect(child.status).toBe(0);
  });

  test('webgpu forced without an adapter is an error naming the cause', () => {
    const child = select({ ...noDriver, RPT_BACKEND: 'webgpu' });
    expect(child.stderr).toContain('the webgpu backend cannot start: no WebGPU adapter found');
    expect(child.status).not.toBe(0);
  });

  test.skipIf(!gpu.backend)(`auto with an adapter gives webgpu ${gpu.skipReason}`, () => {
    const child = select({ RPT_BACKEND: '' });
    expect(child.stdout).toContain('chose webgpu');
    expect(child.status).toBe(0);
  });
});

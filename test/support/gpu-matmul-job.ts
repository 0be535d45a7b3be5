// A job for a worker thread or a child process: its own webgpu backend runs one matmul, reports
// the result and the adapter, and destroys the backend. The process or thread must then end on
// its own.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { WebGpuBackend } from '../../src/gpu/backend.ts';

export interface MatmulJob {
  inp: Float32Array;
  weight: Float32Array;
  N: number;
  C: number;
  OC: number;
}

async function run(job: MatmulJob): Promise<{ out: Float32Array; description: string }> {
  const backend = await WebGpuBackend.create();
  const out = backend.zeros(job.N * job.OC);
  backend.matmulForward(out, backend.upload(job.inp), backend.upload(job.weight), job.N, job.C, job.OC);
  const result = { out: await backend.read(out), description: backend.description };
  backend.destroy();
  return result;
}

if (!isMainThread) {
  parentPort!.postMessage(await run(workerData as MatmulJob));
} else {
  const job = { N: 5, C: 3, OC: 2, inp: new Float32Array(15).fill(1), weight: new Float32Array(6).fill(2) };
  const { out } = await run(job);
  console.log(`matmul done: ${Array.from(out).join(' ')}`);
}

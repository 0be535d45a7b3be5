import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';

// `<run>/metrics.jsonl`: one JSON object per line, each with its stage and step. A resumed stage
// writes the steps after its checkpoint again; the later line for a step is the one that counts.

export async function appendMetrics(runDir: string, record: Record<string, unknown>): Promise<void> {
  await appendFile(join(runDir, 'metrics.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
}

// `rpt stage`, run in-process with captured output.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stageCommand } from '../src/cli/stages.ts';
import { temporaryDirectory, TINY_EXPERIMENT } from './stages-fixture.ts';

let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let file: string;

beforeAll(async () => {
  temp = await temporaryDirectory();
  file = join(temp.dir, 'tiny.rpt');
  const output = JSON.stringify(join(temp.dir, 'run'));
  await writeFile(file, TINY_EXPERIMENT.replace('seed 3', `seed 3\n  output ${output}`));
});
afterAll(async () => {
  await temp.remove();
});

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await stageCommand.run(args, { out: (text) => (stdout += `${text}\n`), err: (text) => (stderr += `${text}\n`) });
  return { code, stdout, stderr };
}

describe('rpt stage', () => {
  test('runs every stage and prints the results; progress goes to stderr as plain lines', async () => {
    const { code, stdout, stderr } = await run('all', file, '--backend', 'cpu', '--set', 'model.base.pretrain.steps=12');
    expect(stderr).not.toContain('\r');
    expect(stderr).toMatch(/^pretrain base 12\/12 {2}loss \d+\.\d{4} {2}\d+ tok\/s$/m);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^tokenizer: .*tokenizer\.json, vocab 300, trained in/m);
    expect(stdout).toMatch(/^pretrain base: 12 steps, holdout loss \d+\.\d+, perplexity \d+\.\d+, \d+ tokens\/s$/m);
    expect(stdout).toMatch(/^filter \(proxy base\): kept \d+ of \d+ train positions/m);
    expect(stdout).toMatch(/^ {2}hard {3}accuracy \d+\.\d\d% \[\d+\.\d\d, \d+\.\d\d\] of \d+$/m);
    expect(stdout).toMatch(/^wall time \d+s$/m);
  });

  test('a second run reuses every stage', async () => {
    const { code, stdout } = await run('eval', file, '--backend=cpu', '--set=model.base.pretrain.steps=12');
    expect(code).toBe(0);
    for (const stage of ['data', 'pretrain base', 'filter', 'eval base']) expect(stdout).toMatch(new RegExp(`^${stage.replace(/[()]/g, '\\$&')}.*\\(reused\\)$`, 'm'));
    expect(stdout).toContain('vocab 300 (reused)');
  });

  test('stops before running anything when the file has errors, showing where', async () => {
    const { code, stderr } = await run('pretrain', file, '--set', 'model.base.pretrain.steps=0');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^--set:1:\d+: error: /m);
  });

  test('usage errors exit with 2 and the usage line', async () => {
    for (const args of [[], ['train', file], ['pretrain'], ['pretrain', file, '--backend', 'tpu'], ['pretrain', file, '--set'], ['pretrain', file, '--fast']]) {
      const { code, stderr } = await run(...args);
      expect(code).toBe(2);
      expect(stderr).toContain('usage: rpt stage <tokenizer|pretrain|filter|eval|rpt|rpt-eval|all> <file.rpt>');
    }
  });

  test('a missing experiment file is named', async () => {
    const { code, stderr } = await run('tokenizer', join(temp.dir, 'missing.rpt'));
    expect(code).toBe(1);
    expect(stderr).toContain(`${join(temp.dir, 'missing.rpt')}: error: no such file`);
  });
});

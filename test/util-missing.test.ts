// unlessMissing: a path that does not exist gives the fallback; any other failure still throws.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { unlessMissing } from '../src/util/missing.ts';

const here = fileURLToPath(import.meta.url);

test('a missing path gives the fallback, an existing one its contents', async () => {
  expect(await unlessMissing(readdir(`${here}.nowhere`), [])).toEqual([]);
  expect(await unlessMissing(readFile(here, 'utf8'), null)).toContain('unlessMissing');
});

test('any other error propagates: a file read as a folder', async () => {
  await expect(unlessMissing(readdir(here), [])).rejects.toThrow(/ENOTDIR/);
});

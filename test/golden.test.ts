import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { checkFile } from '../dsl/check.ts';
import { renderDiagnostic } from '../dsl/diagnostics.ts';
import { compileGraph } from '../dsl/graph.ts';
import { renderGraph } from '../dsl/render-graph.ts';

// Golden files: every test/golden/valid/*.rpt has its IR (.ir.json) and graph (.graph.txt);
// every test/golden/invalid/*.rpt its rendered diagnostics (.err.txt). A `# --set path=value`
// line in a case is passed as an override. `npm run golden:update` rewrites the expected files.
const update = process.env.RPT_GOLDEN_UPDATE === '1';
const root = 'test/golden';

function cases(folder: string): string[] {
  return readdirSync(join(root, folder)).filter((name) => name.endsWith('.rpt')).sort().map((name) => join(root, folder, name));
}

function overridesIn(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^# --set (.*)$/gm)].map((match) => match[1]);
}

function expectGolden(path: string, actual: string): void {
  if (update) writeFileSync(path, actual);
  else if (!existsSync(path)) expect.fail(`${path} is missing: run npm run golden:update`);
  else expect(actual).toBe(readFileSync(path, 'utf8'));
}

describe('valid experiments', () => {
  for (const file of cases('valid')) {
    test(file, () => {
      const result = checkFile(file, { overrides: overridesIn(file) });
      expect(result.diagnostics.map(renderDiagnostic)).toEqual([]);
      expectGolden(file.replace(/\.rpt$/, '.ir.json'), `${JSON.stringify(result.ir, null, 2)}\n`);
      expectGolden(file.replace(/\.rpt$/, '.graph.txt'), `${renderGraph(compileGraph(result.ir!), 'text')}\n`);
    });
  }
});

describe('invalid experiments', () => {
  for (const file of cases('invalid')) {
    test(file, () => {
      const result = checkFile(file, { overrides: overridesIn(file) });
      expect(result.ir).toBeNull();
      expect(result.diagnostics.length).toBeGreaterThan(0);
      expectGolden(file.replace(/\.rpt$/, '.err.txt'), `${result.diagnostics.map(renderDiagnostic).join('\n\n')}\n`);
    });
  }
});

test('every expected file belongs to a case', () => {
  const orphans = ['valid', 'invalid'].flatMap((folder) =>
    readdirSync(join(root, folder))
      .filter((name) => /\.(ir\.json|graph\.txt|err\.txt)$/.test(name))
      .filter((name) => !existsSync(join(root, folder, name.replace(/\.(ir\.json|graph\.txt|err\.txt)$/, '.rpt')))),
  );
  expect(orphans).toEqual([]);
});

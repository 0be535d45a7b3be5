// experiments/hf.rpt, RPT from a Hugging Face folder, run as a user runs it (`rpt run` with the
// folder given by --set) on a random folder the test makes: its tokenizer reads the corpus, its
// chat template frames the boxed prompts, and the compute-matched control continues from its
// weights. Random weights answer nothing right; what is checked is that every stage runs on
// the pretrained model's own terms.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { checkFile } from '../dsl/check.ts';
import { runCommand } from '../src/cli/run.ts';
import { corpusDocuments } from '../src/stages/corpus.ts';
import { runStages } from '../src/stages/pipeline.ts';
import { loadSplit } from '../src/stages/token-data.ts';
import { createBackend } from '../src/backend/select.ts';
import { loadTokenizer } from '../src/tokenizer/tokenizer-json.ts';
import { metricsRows } from './run-fixture.ts';
import { temporaryDirectory } from './stages-fixture.ts';
import { makeRandomHfFolder } from './support/hf-fixtures.ts';

let temp: Awaited<ReturnType<typeof temporaryDirectory>>;
let model: string;
beforeAll(async () => {
  temp = await temporaryDirectory();
  model = join(temp.dir, 'model');
  await makeRandomHfFolder(model);
});
afterAll(async () => {
  await temp.remove();
});

// Small enough for a test: two steps, few evaluation positions, a short thought.
const settings = (runDir: string) => [
  `model.base.huggingface=${JSON.stringify(model)}`, `output=${JSON.stringify(runDir)}`, 'learner.steps=2', 'eval.every=1',
  'eval.documents=4', 'eval.positions=8', 'eval.baselines=[ntp_matched]', 'policy.think=up to 24 tokens', 'corpus.brown.categories=[humor]',
];

test('rpt run experiments/hf.rpt runs every stage from the folder and writes the report', async () => {
  const runDir = join(temp.dir, 'run');
  let err = '';
  const code = await runCommand.run(['experiments/hf.rpt', '--backend', 'cpu', ...settings(runDir).flatMap((s) => ['--set', s])], { out: () => {}, err: (text) => (err += `${text}\n`) });
  expect(err).not.toMatch(/error/i);
  expect(code).toBe(0);
  const rows = await metricsRows(runDir);
  const steps = rows.filter((row) => row.stage === 'rpt');
  expect(steps.map((row) => row.step)).toEqual([1, 2]);
  // Every rollout is parsed the boxed way: each counts as rewarded or under a reason of its own.
  const unparseable = steps[0].unparseable as Record<string, number>;
  expect(Object.keys(unparseable)).toContain('answer_unboxed');
  expect(steps[0].response_length).toBeGreaterThan(0);
  const arms = new Set(rows.filter((row) => row.stage === 'rpt-eval').map((row) => row.arm));
  expect(arms).toEqual(new Set(['base', 'rpt', 'ntp_matched']));
  expect(existsSync(join(runDir, 'report.md'))).toBe(true);
  expect(await readFile(join(runDir, 'report.md'), 'utf8')).toContain('ntp_matched');
});

test("the corpus is tokenized with the model's tokenizer, exactly as Hugging Face's tokenizers encode it", async () => {
  const checked = checkFile('experiments/hf.rpt', { overrides: settings(join(temp.dir, 'stages')) });
  expect(checked.diagnostics).toEqual([]);
  const ir = checked.ir!;
  const baseDir = resolve('experiments');
  const stages = await runStages(ir, 'tokenizer', { runDir: join(temp.dir, 'stages'), baseDir, backend: await createBackend('cpu') });
  expect(stages.tokenizer.path).toBe(join(model, 'tokenizer.json'));
  expect(stages.tokenizer.pretrained).toBe(true);
  const tokenizer = await loadTokenizer(stages.tokenizer.path, { forModel: true });
  expect(stages.tokenizer.endToken).toBe(tokenizer.specialTokens.get('<|im_end|>'));
  const data = await runStages(ir, 'filter', { runDir: join(temp.dir, 'stages'), baseDir, backend: await createBackend('cpu') });
  const split = await loadSplit(data.data!, 'train');
  const first = (await corpusDocuments(ir.corpus, ir.seed, baseDir, 'train').next()).value!;
  expect(Array.from(split.tokens.subarray(split.starts[0], split.starts[1]))).toEqual(tokenizer.encode(first.text));
});

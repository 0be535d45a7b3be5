import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { main } from '../src/cli/main.ts';
import { editJson, fixtureCopy, removeTemporaryDirs } from './support/hf-fixtures.ts';

// The CLI in-process: exit status and what it writes to each stream.
async function run(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await main(argv, { out: (text) => (out += `${text}\n`), err: (text) => (err += `${text}\n`) });
  return { status, out, err };
}

describe('rpt check', () => {
  test('every experiment checks clean', async () => {
    const result = await run('check', 'experiments/quickstart.rpt', 'experiments/arith.rpt', 'experiments/brown.rpt');
    expect(result).toMatchObject({ status: 0, err: '' });
    expect(result.out).toContain('experiments/brown.rpt: ok');
  });

  test('an invalid file exits 1 with every error rendered', async () => {
    const result = await run('check', 'test/golden/invalid/unknown-keys.rpt');
    expect(result.status).toBe(1);
    expect(result.err.match(/: error: /g)).toHaveLength(4);
    expect(result.err).toContain('4 errors in 1 of 1 file');
  });

  test('--json reports diagnostics with positions', async () => {
    const result = await run('check', '--json', 'test/golden/invalid/semantic-difficulty.rpt', 'experiments/quickstart.rpt');
    expect(result.status).toBe(1);
    const report = JSON.parse(result.out);
    expect(report.valid).toBe(false);
    expect(report.files[1]).toEqual({ file: 'experiments/quickstart.rpt', valid: true, diagnostics: [] });
    expect(report.files[0].diagnostics[0]).toMatchObject({ line: 4, column: 42, endLine: 4, endColumn: 45, severity: 'error' });
  });

  test('--ir prints the validated IR with defaults filled in', async () => {
    const result = await run('check', '--ir', 'experiments/quickstart.rpt');
    const ir = JSON.parse(result.out);
    expect(ir.learner.clip_low).toBe(0.2);
    expect(ir.corpus.holdout).toBe(0.05);
  });

  test('--set overrides are applied and validated like the file', async () => {
    const applied = JSON.parse((await run('check', '--ir', '--set', 'learner.lr=3e-4', '--set', 'policy.think=up to 8 tokens', 'experiments/quickstart.rpt')).out);
    expect(applied.learner.lr).toBe(3e-4);
    expect(applied.policy.think_tokens).toBe(8);
    const rejected = await run('check', '--set', 'learner.lr=-1', 'experiments/quickstart.rpt');
    expect(rejected.status).toBe(1);
    expect(rejected.err).toContain('--set:1:12: error: `lr` must be greater than 0 (got -1)');
  });

  test('an override that breaks a cross-file check is caught', async () => {
    const result = await run('check', '--set', 'model.base.transformer.context=16', 'experiments/quickstart.rpt');
    expect(result.status).toBe(1);
    expect(result.err).toContain('more than the context of model `base` (16)');
  });

  test('garbage input gets a diagnostic and status 1, never a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rpt-garbage-'));
    const files: Record<string, string | Buffer> = {
      'binary.rpt': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0x02]),
      'empty.rpt': '',
      'braces.rpt': '{'.repeat(1 << 20),
      'closing.rpt': '}'.repeat(1 << 20),
      'pairs.rpt': '{}'.repeat(1 << 19),
      'string.rpt': 'experiment x { output "no end',
      'utf8.rpt': Buffer.concat([Buffer.from('experiment x {\n  output "caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"\n}\n')]),
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    for (const target of [...Object.keys(files).map((name) => join(dir, name)), dir, join(dir, 'missing.rpt')]) {
      const result = await run('check', target);
      expect(result.status, target).toBe(1);
      expect(result.err, target).toContain(`${target}`);
      expect(result.err, target).toMatch(/: error: /);
      expect(result.err, target).not.toMatch(/\n\s+at /);
    }
    expect((await run('check', join(dir, 'utf8.rpt'))).err).toContain(':2:14: error: invalid UTF-8 (byte 0xc3)');
  });
});

describe('rpt check of a Hugging Face folder', () => {
  test('a valid folder gets a one-paragraph summary', async () => {
    const result = await run('check', 'test/fixtures/hf/smollm2-bf16', 'test/fixtures/hf/llama-gqa-sharded', 'experiments/quickstart.rpt');
    expect(result).toMatchObject({ status: 0, err: '' });
    expect(result.out).toContain(
      'test/fixtures/hf/smollm2-bf16: ok: LlamaForCausalLM with 44,016 parameters (tied embeddings): 2 layers, hidden 48, 6 heads, 2 key/value heads, head_dim 8, ffn 64; vocab 272, tokenizer 272 tokens; weights BF16 in 1 shard (model.safetensors); context 64 tokens, rope_theta 100000, rms_norm_eps 1e-5\n',
    );
    expect(result.out).toContain('test/fixtures/hf/llama-gqa-sharded: ok: LlamaForCausalLM with 32,928 parameters: 2 layers');
    expect(result.out).toContain('weights F32 in 2 shards;');
    expect(result.out).toContain('experiments/quickstart.rpt: ok');
    const qwen3 = await run('check', 'test/fixtures/hf/qwen3-qknorm');
    expect(qwen3.out).toMatch(/Qwen3ForCausalLM with [\d,]+ parameters \(tied embeddings\): 2 layers, hidden 32, 4 heads, 2 key\/value heads, head_dim 16, ffn 48, q\/k norm; vocab 288, tokenizer 272 tokens/);
  });

  test('--json gives the summary under "huggingface"', async () => {
    const report = JSON.parse((await run('check', '--json', 'test/fixtures/hf/qwen2-bias')).out);
    expect(report.valid).toBe(true);
    expect(report.files[0]).toMatchObject({
      file: 'test/fixtures/hf/qwen2-bias',
      valid: true,
      diagnostics: [],
      huggingface: { architecture: 'Qwen2ForCausalLM', layers: 2, hidden_size: 32, heads: 4, kv_heads: 2, head_dim: 8, vocab_size: 288, tokenizer_size: 272, dtypes: ['F16'], shards: ['model.safetensors'], context: 64 },
    });
  });

  test('a broken folder exits 1 with the file and the cause', async () => {
    const dir = await fixtureCopy('llama-tied');
    await editJson(join(dir, 'config.json'), (json) => (json.hidden_size = 48));
    const result = await run('check', dir);
    expect(result.status).toBe(1);
    expect(result.err).toContain(`${join(dir, 'model.safetensors')}: error: tensor 'model.embed_tokens.weight' has shape [272,32] but config.json gives [272,48]`);
    expect(result.err).toContain('1 error in 1 of 1 file');
    const json = JSON.parse((await run('check', '--json', dir)).out);
    expect(json.files[0]).toMatchObject({ valid: false, diagnostics: [{ file: join(dir, 'model.safetensors'), line: null, severity: 'error' }] });

    const tokenizer = await fixtureCopy('llama-tied');
    await editJson(join(tokenizer, 'tokenizer.json'), (json) => ((json.model as Record<string, unknown>).type = 'WordPiece'));
    expect((await run('check', tokenizer)).err).toContain(`${join(tokenizer, 'tokenizer.json')}: error: model type "WordPiece" is not BPE`);
    await removeTemporaryDirs();
  });

  test('a folder without config.json is not a model folder', async () => {
    const result = await run('check', 'test/fixtures');
    expect(result.status).toBe(1);
    expect(result.err).toContain('test/fixtures: error: not a Hugging Face model folder: it has no config.json');
  });
});

describe('rpt graph', () => {
  test('prints the stages in order', async () => {
    const result = await run('graph', 'experiments/arith.rpt');
    expect(result.status).toBe(0);
    expect(result.out).toMatch(/1\. tokenizer[\s\S]*2\. pretrain[\s\S]*3\. filter[\s\S]*4\. rpt[\s\S]*5\. eval/);
  });

  test('--format json, dot and mermaid', async () => {
    const plan = JSON.parse((await run('graph', '--format', 'json', 'experiments/arith.rpt')).out);
    expect(plan.actors.find((a: { id: string }) => a.id === 'sampler')).toMatchObject({ role: 'sampler', count: 2 });
    expect((await run('graph', '--format', 'dot', 'experiments/arith.rpt')).out).toContain('feeder -> sampler [label="contexts"];');
    expect((await run('graph', '--format', 'mermaid', 'experiments/arith.rpt')).out).toContain('feeder -->|contexts| sampler');
    expect((await run('graph', '--format', 'svg', 'experiments/arith.rpt')).status).toBe(2);
  });

  test('an invalid file prints diagnostics and exits 1', async () => {
    expect(await run('graph', 'test/golden/invalid/semantic-names.rpt')).toMatchObject({ status: 1, out: '' });
  });
});

describe('rpt', () => {
  test('--help lists the commands, run and status among them', async () => {
    const result = await run('--help');
    expect(result.status).toBe(0);
    expect(result.out).toMatch(/check\s+validate/);
    expect(result.out).toMatch(/^\s+run\s+run a whole experiment/m);
    expect(result.out).toMatch(/^\s+status\s+summarise a run directory/m);
    expect((await run('run')).status).toBe(2);
  });

  test('--help lists sample and export; each has its usage', async () => {
    const result = await run('--help');
    expect(result.out).toMatch(/^\s+sample\s+generate text from a Hugging Face folder or a checkpoint/m);
    expect(result.out).toMatch(/^\s+export\s+write a checkpoint as a Hugging Face folder/m);
    expect((await run('sample', '--help')).out).toContain('usage: rpt sample <model folder> --prompt TEXT');
    expect((await run('export', '--help')).out).toContain('usage: rpt export <checkpoint> <out dir>');
  });

  test('--version prints the package version', async () => {
    expect((await run('--version')).out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('usage mistakes exit 2', async () => {
    expect((await run()).status).toBe(2);
    expect((await run('check')).status).toBe(2);
    expect((await run('check', '--bogus', 'x.rpt')).status).toBe(2);
  });
});

describe('the rpt executable', () => {
  const rpt = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

  test('exits 0 on a valid file and 1 on an invalid one', async () => {
    expect(rpt('check', 'experiments/quickstart.rpt').status).toBe(0);
    const invalid = rpt('check', 'test/golden/invalid/empty.rpt');
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain('test/golden/invalid/empty.rpt:1:1: error: no experiment in this file');
  });

  test('rpt sample prints JSON lines on stdout and exits 0', async () => {
    const result = rpt('sample', 'test/fixtures/hf/llama-tied', '--prompt', 'Hi', '--greedy', '--max-tokens', '4', '--json', '--backend', 'cpu');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ prompt: 'Hi', prompt_tokens: [72, 105] });
  });
});

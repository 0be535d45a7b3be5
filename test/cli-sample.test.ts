// `rpt sample`: on the Hugging Face fixtures and on checkpoints of this project, in-process.
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openModel } from '../src/cli/model-source.ts';
import { readHfFolder } from '../src/hf/folder.ts';
import { readHfWeights } from '../src/hf/weights.ts';
import { loadChatTemplate } from '../src/tokenizer/chat-template.ts';
import { END } from '../src/tokenizer/special-tokens.ts';
import { loadTokenizer } from '../src/tokenizer/tokenizer-json.ts';
import { argmaxContinuation, rpt, sampleJson, scratchCheckpoint, type SampleLine } from './support/cli-models.ts';
import { editJson, fixtureCopy, HF_FIXTURES, removeTemporaryDirs } from './support/hf-fixtures.ts';

let temp: string;
let scratch: Awaited<ReturnType<typeof scratchCheckpoint>>;
beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'rpt-cli-sample-'));
  scratch = await scratchCheckpoint(join(temp, 'scratch'));
});
afterAll(async () => {
  await rm(temp, { recursive: true, force: true });
  await removeTemporaryDirs();
});

/** The text of a line's tokens, without the stop token that ended it; ids past the tokenizer have none. */
async function decodeLine(model: string, line: SampleLine): Promise<string> {
  const { tokenizer } = await openModel(model);
  const ids = line.finish === 'stop' ? line.tokens.slice(0, -1) : line.tokens;
  return tokenizer.decode(ids.filter((id) => id < tokenizer.vocabSize));
}

describe('rpt sample --json', () => {
  test('prints one object per prompt: the prompt, its ids, the generated ids and their text', async () => {
    const model = join(HF_FIXTURES, 'qwen3-qknorm');
    const prompts = ['Hello world', 'The cat sat'];
    const lines = await sampleJson(model, '--prompt', prompts[0], '--prompt', prompts[1], '--max-tokens', '12', '--seed', '3');
    expect(lines).toHaveLength(2);
    const tokenizer = await loadTokenizer(join(model, 'tokenizer.json'), { forModel: true });
    for (const [i, line] of lines.entries()) {
      expect(Object.keys(line).sort()).toEqual(['finish', 'prompt', 'prompt_tokens', 'seed', 'text', 'tokens']);
      expect(line.prompt).toBe(prompts[i]);
      expect(line.seed).toBe(3 + i);
      expect(line.prompt_tokens).toEqual(tokenizer.encode(prompts[i])); // as written: no BOS
      expect(line.tokens.length).toBeGreaterThan(0);
      expect(line.tokens.length).toBeLessThanOrEqual(12);
      expect(['stop', 'length']).toContain(line.finish);
      if (line.finish === 'length') expect(line.tokens).toHaveLength(12);
      expect(line.text).toBe(await decodeLine(model, line));
    }
  });

  test('plain output is the text of each prompt; the sampling settings go to stderr', async () => {
    const model = join(HF_FIXTURES, 'qwen3-qknorm');
    const [json] = await sampleJson(model, '--prompt', 'Hello', '--max-tokens', '8');
    const plain = await rpt('sample', model, '--prompt', 'Hello', '--max-tokens', '8', '--backend', 'cpu');
    expect(plain.status).toBe(0);
    expect(plain.out).toBe(`${json.text}\n`);
    expect(plain.err).toContain('temperature 0.6, top-p 0.95, top-k 20'); // generation_config.json's defaults
    const two = await rpt('sample', model, '--prompt', 'Hello', '--prompt', 'Bye', '--max-tokens', '4', '--backend', 'cpu');
    expect(two.out).toMatch(/^--- 1: "Hello" ---\n[\s\S]*\n--- 2: "Bye" ---\n/);
    const plainDefaults = await rpt('sample', join(HF_FIXTURES, 'llama-tied'), '--prompt', 'Hello', '--max-tokens', '4', '--backend', 'cpu');
    expect(plainDefaults.err).toContain('temperature 1, top-p 1, top-k off'); // no generation_config.json
  });
});

describe('rpt sample --greedy', () => {
  const cases = [
    ['llama-tied', () => join(HF_FIXTURES, 'llama-tied')],
    ['smollm2-bf16', () => join(HF_FIXTURES, 'smollm2-bf16')],
    ['qwen3-qknorm', () => join(HF_FIXTURES, 'qwen3-qknorm')],
    ['a checkpoint trained here', () => scratch.checkpoint],
  ] as const;
  for (const [name, where] of cases) {
    test(`${name}: deterministic, and the argmax continuation of full forward passes`, async () => {
      const model = where();
      const args = ['--prompt', 'The quick brown fox', '--prompt', 'Seven', '--max-tokens', '20', '--greedy'];
      const first = await sampleJson(model, ...args);
      expect(await sampleJson(model, ...args, '--seed', '99')).toEqual(first.map((line, i) => ({ ...line, seed: 99 + i })));
      const source = await openModel(model);
      const flat = await source.weights();
      for (const line of first) {
        expect(line.tokens).toEqual(await argmaxContinuation(source.config, flat, line.prompt_tokens, 20, source.eosIds));
        expect(line.text).toBe(await decodeLine(model, line));
      }
    });
  }

  test('stops at an end-of-sequence id: finish "stop", the id kept in tokens, not in text', async () => {
    const dir = await fixtureCopy('llama-tied');
    const [free] = await sampleJson(dir, '--prompt', 'Hello', '--max-tokens', '3', '--greedy');
    const first = free.tokens[0];
    await editJson(join(dir, 'config.json'), (json) => (json.eos_token_id = first));
    const [stopped] = await sampleJson(dir, '--prompt', 'Hello', '--max-tokens', '3', '--greedy');
    expect(stopped).toMatchObject({ tokens: [first], text: '', finish: 'stop' });
  });
});

describe('rpt sample seeds', () => {
  test('the same seed gives the same text, another seed another; prompt i samples from seed + i', async () => {
    const model = scratch.checkpoint;
    const args = ['--prompt', 'The dog', '--max-tokens', '24'];
    const [a] = await sampleJson(model, ...args, '--seed', '1');
    const [again] = await sampleJson(model, ...args, '--seed', '1');
    const [b] = await sampleJson(model, ...args, '--seed', '2');
    expect(again).toEqual(a);
    expect(b.tokens).not.toEqual(a.tokens);
    const both = await sampleJson(model, '--prompt', 'The dog', '--prompt', 'The dog', '--max-tokens', '24', '--seed', '1');
    expect(both[0]).toEqual(a);
    expect(both[1]).toEqual(b);
  });

  test('ids past the tokenizer (an embedding padded beyond it) decode to no text', async () => {
    const model = join(HF_FIXTURES, 'qwen2-bias'); // vocab_size 288 over a tokenizer of 272
    const prompts = ['a', 'b', 'c', 'd'].flatMap((p) => ['--prompt', p]);
    const lines = await sampleJson(model, ...prompts, '--max-tokens', '40', '--temperature', '3');
    const padded = lines.flatMap((line) => line.tokens).filter((id) => id >= 272);
    expect(padded.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.text).toBe(await decodeLine(model, line));
  });
});

describe('rpt sample --chat', () => {
  test('renders each prompt as a user message through the chat template, with the generation prompt', async () => {
    const model = join(HF_FIXTURES, 'smollm2-bf16');
    const [line] = await sampleJson(model, '--prompt', 'Hi there', '--chat', '--greedy', '--max-tokens', '8');
    const template = await loadChatTemplate(join(model, 'tokenizer_config.json'));
    const rendered = template.render([{ role: 'user', content: 'Hi there' }], { addGenerationPrompt: true });
    expect(rendered).toMatch(/<\|im_start\|>assistant\n$/);
    const tokenizer = await loadTokenizer(join(model, 'tokenizer.json'), { forModel: true });
    expect(line.prompt).toBe('Hi there');
    expect(line.prompt_tokens).toEqual(tokenizer.encode(rendered));
  });

  test('a model trained here has no chat template', async () => {
    const result = await rpt('sample', scratch.checkpoint, '--prompt', 'Hi', '--chat', '--backend', 'cpu');
    expect(result.status).toBe(1);
    expect(result.err).toContain('no chat template');
  });
});

describe('rpt sample on a checkpoint', () => {
  test('uses the tokenizer the checkpoint names and stops at <end>', async () => {
    const source = await openModel(scratch.checkpoint);
    expect(source.kind).toBe('checkpoint');
    expect(source.tokenizerPath).toBe(scratch.tokenizerPath);
    expect(source.eosIds).toEqual([source.tokenizer.specialIds![END]]);
    expect(source.config).toEqual(scratch.config);
    const hf = await openModel(join(HF_FIXTURES, 'qwen3-qknorm'));
    expect(hf.eosIds.sort()).toEqual([267, 269]);
    expect(hf.config).toEqual(readHfFolder(join(HF_FIXTURES, 'qwen3-qknorm')).config);
    expect(await hf.weights()).toEqual(await readHfWeights(join(HF_FIXTURES, 'qwen3-qknorm'), hf.config));
  });

  test('a changed or missing tokenizer is an error naming it', async () => {
    const { checkpoint, tokenizerPath } = await scratchCheckpoint(join(temp, 'changed'));
    await writeFile(tokenizerPath, `${await readFile(tokenizerPath, 'utf8')} `);
    const changed = await rpt('sample', checkpoint, '--prompt', 'Hi', '--backend', 'cpu');
    expect(changed.status).toBe(1);
    expect(changed.err).toContain(`the checkpoint's tokenizer ${tokenizerPath} has changed since the model was trained`);
    await rm(tokenizerPath);
    const missing = await rpt('sample', checkpoint, '--prompt', 'Hi', '--backend', 'cpu');
    expect(missing.status).toBe(1);
    expect(missing.err).toContain(`the checkpoint's tokenizer ${tokenizerPath} cannot be read`);
  });
});

describe('rpt sample errors', () => {
  test('a missing folder, a corrupt checkpoint, a folder that is neither kind', async () => {
    const missing = await rpt('sample', join(temp, 'nowhere'), '--prompt', 'Hi');
    expect(missing).toMatchObject({ status: 1, out: '' });
    expect(missing.err).toContain(`${join(temp, 'nowhere')}: no such model folder`);

    const { checkpoint } = await scratchCheckpoint(join(temp, 'corrupt'));
    await truncate(join(checkpoint, 'model.safetensors'), 100);
    const corrupt = await rpt('sample', checkpoint, '--prompt', 'Hi');
    expect(corrupt.status).toBe(1);
    expect(corrupt.err).toContain(`${join(checkpoint, 'model.safetensors')}: the header length is`);
    expect(corrupt.err).not.toMatch(/\n\s+at /);

    const neither = await rpt('sample', temp, '--prompt', 'Hi');
    expect(neither.status).toBe(1);
    expect(neither.err).toContain('neither a Hugging Face folder');
  });

  test('a prompt and --max-tokens beyond the model context name both numbers', async () => {
    const result = await rpt('sample', join(HF_FIXTURES, 'llama-tied'), '--prompt', 'Hi', '--prompt', 'x'.repeat(30), '--max-tokens', '40', '--backend', 'cpu');
    expect(result.status).toBe(1);
    expect(result.err).toMatch(/prompt 2 is (\d+) tokens and --max-tokens is 40: \d+ positions, more than the model's context of 64/);
  });

  test('usage mistakes exit 2 with the usage', async () => {
    const model = join(HF_FIXTURES, 'llama-tied');
    for (const args of [[model], [], [model, '--prompt', 'a', '--top-p', '0'], [model, '--prompt', 'a', '--max-tokens', '0'], [model, '--prompt', 'a', '--greedy', '--temperature', '1'], [model, '--prompt', 'a', '--backend', 'tpu'], [model, '--prompt', 'a', '--seed', '1.5']]) {
      const result = await rpt('sample', ...args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.err).toContain('usage: rpt sample');
    }
  });
});

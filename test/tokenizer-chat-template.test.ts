import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chatTemplateFromConfig, loadChatTemplate } from '../src/tokenizer/chat-template.ts';
import { loadTokenizer } from '../src/tokenizer/tokenizer-json.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tokenizers');

async function folderWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rpt-chat-template-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe("SmolLM2's chat template", async () => {
  const template = await loadChatTemplate(join(FIXTURES, 'smollm2-style', 'tokenizer_config.json'));

  it('adds its default system turn and opens the assistant turn', () => {
    expect(template.render([{ role: 'user', content: 'What is 2+2?' }], { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
        '<|im_start|>user\nWhat is 2+2?<|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });

  it("keeps the caller's system turn, and writes no generation prompt unless asked", () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
    ];
    expect(template.render(messages, { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n',
    );
  });

  it('takes bos and eos from tokenizer_config.json', () => {
    expect([template.bosToken, template.eosToken]).toEqual(['<|im_start|>', '<|im_end|>']);
  });
});

describe("Qwen3's chat template", async () => {
  const template = await loadChatTemplate(join(FIXTURES, 'qwen-style', 'tokenizer_config.json'));
  const question = [
    { role: 'system', content: 'Predict the next token.' },
    { role: 'user', content: 'The capital of France is' },
  ];
  const prompt = '<|im_start|>system\nPredict the next token.<|im_end|>\n<|im_start|>user\nThe capital of France is<|im_end|>\n<|im_start|>assistant\n';

  it('opens the assistant turn and leaves the thought to the model, unless thinking is switched off', () => {
    expect(template.render(question, { addGenerationPrompt: true })).toBe(prompt);
    expect(template.render(question, { addGenerationPrompt: true, enableThinking: true })).toBe(prompt);
    expect(template.render(question, { addGenerationPrompt: true, enableThinking: false })).toBe(`${prompt}<think>\n\n</think>\n\n`);
  });

  it("keeps the thought of the last turn's answer and drops it from earlier turns", () => {
    const conversation = [
      { role: 'user', content: 'First?' },
      { role: 'assistant', content: '<think>\nold reasoning\n</think>\n\nOne.' },
      { role: 'user', content: 'Second?' },
      { role: 'assistant', content: '<think>\nnew reasoning\n</think>\n\nTwo.' },
    ];
    expect(template.render(conversation, { addGenerationPrompt: false })).toBe(
      '<|im_start|>user\nFirst?<|im_end|>\n<|im_start|>assistant\nOne.<|im_end|>\n' +
        '<|im_start|>user\nSecond?<|im_end|>\n<|im_start|>assistant\n<think>\nnew reasoning\n</think>\n\nTwo.<|im_end|>\n',
    );
  });

  it("tokenizes with the model's special tokens matched whole", async () => {
    const tokenizer = await loadTokenizer(join(FIXTURES, 'qwen-style', 'tokenizer.json'), { forModel: true });
    const ids = tokenizer.encode(template.render(question, { addGenerationPrompt: true, enableThinking: false }));
    const special = (token: string) => tokenizer.specialTokens.get(token);
    expect(ids.filter((id) => id === special('<|im_start|>')).length).toBe(3);
    expect(ids.filter((id) => id === special('<|im_end|>')).length).toBe(2);
    expect(ids).toContain(special('<think>'));
    expect(ids).toContain(special('</think>'));
    expect(tokenizer.decode(ids)).toBe(`${prompt}<think>\n\n</think>\n\n`);
  });

  it('has no bos token, as Qwen3 sets none', () => {
    expect([template.bosToken, template.eosToken]).toEqual([undefined, '<|im_end|>']);
  });
});

describe('tokenizer_config.json forms and errors', () => {
  const config = (fields: Record<string, unknown>) => JSON.stringify({ bos_token: { content: '<s>', special: true }, eos_token: '</s>', ...fields });

  it('picks "default" from a list of named templates, and gives bos and eos to the template', async () => {
    const dir = await folderWith({
      'tokenizer_config.json': config({
        chat_template: [
          { name: 'tool_use', template: 'tools' },
          { name: 'default', template: '{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{{ eos_token }}' },
        ],
      }),
    });
    const template = await loadChatTemplate(join(dir, 'tokenizer_config.json'));
    const messages = [{ role: 'user', content: 'x' }];
    expect(template.render(messages, { addGenerationPrompt: false })).toBe('<s>[user:x]</s>');
    expect(template.render(messages, { addGenerationPrompt: false, bosToken: 'B', eosToken: 'E' })).toBe('B[user:x]E');
  });

  it('prefers chat_template.jinja beside the config, as transformers does', async () => {
    const dir = await folderWith({ 'tokenizer_config.json': config({ chat_template: 'from the config' }), 'chat_template.jinja': 'from the file{{ eos_token }}' });
    const template = await loadChatTemplate(join(dir, 'tokenizer_config.json'));
    expect(template.render([], { addGenerationPrompt: true })).toBe('from the file</s>');
    expect(template.source).toBe(join(dir, 'chat_template.jinja'));
  });

  it('names tokenizer_config.json when the template is missing, unnamed or broken', async () => {
    const missing = join(await folderWith({ 'tokenizer_config.json': config({}) }), 'tokenizer_config.json');
    await expect(loadChatTemplate(missing)).rejects.toThrow(`${missing}: no chat_template (and no chat_template.jinja beside it)`);
    expect(() => chatTemplateFromConfig({ chat_template: [{ name: 'rag', template: 'x' }] }, 'tc.json')).toThrow('tc.json: chat_template lists templates "rag" but none named "default"');
    expect(() => chatTemplateFromConfig({ chat_template: '{% if %}' }, 'tc.json')).toThrow('tc.json: the chat template does not parse');
    const raising = chatTemplateFromConfig({ chat_template: "{{ raise_exception('roles must alternate') }}" }, 'tc.json');
    expect(() => raising.render([], { addGenerationPrompt: false })).toThrow('tc.json: the chat template fails to render');
    const unreadable = join(await mkdtemp(join(tmpdir(), 'rpt-chat-template-')), 'tokenizer_config.json');
    await expect(loadChatTemplate(unreadable)).rejects.toThrow(`${unreadable}: cannot read the tokenizer config`);
  });
});

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Template } from '@huggingface/jinja';

// A pretrained model's chat template (tokenizer_config.json's chat_template, or the
// chat_template.jinja beside it, which transformers prefers), rendered by @huggingface/jinja with
// the variables transformers' apply_chat_template gives it: messages, add_generation_prompt, the
// special tokens and the caller's switches (Qwen3's enable_thinking).

export interface ChatMessage {
  role: string; // system, user, assistant
  content: string;
}

export interface RenderOptions {
  addGenerationPrompt: boolean; // end with the opening of the assistant's turn
  enableThinking?: boolean; // left undefined unless given: templates test `enable_thinking is defined`
  bosToken?: string; // default: tokenizer_config.json's bos_token
  eosToken?: string; // default: tokenizer_config.json's eos_token
}

export class ChatTemplate {
  constructor(
    private readonly template: Template,
    readonly bosToken: string | undefined,
    readonly eosToken: string | undefined,
    readonly source: string, // where the template came from, for errors
  ) {}

  render(messages: readonly ChatMessage[], { addGenerationPrompt, enableThinking, bosToken = this.bosToken, eosToken = this.eosToken }: RenderOptions): string {
    // Only defined variables are set, so that `is defined` tests in templates see what they would in transformers.
    const variables: Record<string, unknown> = { messages, add_generation_prompt: addGenerationPrompt };
    if (enableThinking !== undefined) variables.enable_thinking = enableThinking;
    if (bosToken !== undefined) variables.bos_token = bosToken;
    if (eosToken !== undefined) variables.eos_token = eosToken;
    try {
      return this.template.render(variables);
    } catch (error) {
      throw new Error(`${this.source}: the chat template fails to render (${(error as Error).message})`, { cause: error });
    }
  }
}

// `configPath` is a tokenizer_config.json.
export async function loadChatTemplate(configPath: string): Promise<ChatTemplate> {
  let config: unknown;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    throw new Error(`${configPath}: cannot read the tokenizer config (${(error as Error).message})`);
  }
  const jinjaPath = join(dirname(configPath), 'chat_template.jinja');
  const jinja = await readFile(jinjaPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new Error(`${jinjaPath}: cannot read the chat template (${error.message})`);
  });
  return jinja === undefined ? chatTemplateFromConfig(config, configPath) : chatTemplateFromConfig(config, configPath, { text: jinja, source: jinjaPath });
}

// The template of a parsed tokenizer_config.json (`source` names it), or `override`, a template
// read from elsewhere with the config's special tokens.
export function chatTemplateFromConfig(config: unknown, source: string, override?: { text: string; source: string }): ChatTemplate {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error(`${source}: not a JSON object`);
  const fields = config as Record<string, unknown>;
  const { text, source: templateSource } = override ?? { text: templateText(fields.chat_template, source), source };
  let template: Template;
  try {
    template = new Template(text);
  } catch (error) {
    throw new Error(`${templateSource}: the chat template does not parse (${(error as Error).message})`, { cause: error });
  }
  return new ChatTemplate(template, tokenContent(fields.bos_token, 'bos_token', source), tokenContent(fields.eos_token, 'eos_token', source), templateSource);
}

// chat_template is a string, or a list of {name, template} of which "default" is the chat's.
function templateText(value: unknown, source: string): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((entry) => typeof entry === 'object' && entry !== null && entry.name === 'default');
    if (typeof named?.template === 'string') return named.template;
    const names = value.map((entry) => JSON.stringify(entry?.name)).join(', ');
    throw new Error(`${source}: chat_template lists templates ${names} but none named "default"`);
  }
  if (value === undefined || value === null) throw new Error(`${source}: no chat_template (and no chat_template.jinja beside it); the model has no chat format to render`);
  throw new Error(`${source}: chat_template is ${JSON.stringify(value)}, neither a string nor a list of {name, template}`);
}

// A special token is written as its text or as an AddedToken object {content, ...}; null when unset.
function tokenContent(value: unknown, field: string, source: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  throw new Error(`${source}: ${field} is ${JSON.stringify(value)}, neither a string nor {content}`);
}

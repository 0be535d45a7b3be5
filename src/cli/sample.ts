import type { Backend } from '../backend/backend.ts';
import { selectBackend, type BackendKind } from '../backend/select.ts';
import { generate } from '../model/generate.ts';
import { paramCount } from '../model/params.ts';
import { Transformer } from '../model/transformer.ts';
import type { SamplingSettings } from '../sampling/sample.ts';
import { BACKEND_HELP, BACKEND_OPTION, backendProblem } from './experiment.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command, type Io } from './io.ts';
import { chatTemplateOf, decodeGenerated, openModel, type ModelSource } from './model-source.ts';
import { parseOptions } from './options.ts';

// `rpt sample <model> --prompt TEXT...`: what a model writes after each prompt, all prompts in
// one batch through the KV cache (src/model/generate.ts), each from its own seed. The model is a
// Hugging Face folder or a checkpoint of this project (model-source.ts says how each is read).
//
// A prompt is encoded as it is written: no BOS or other token is added (transformers'
// generate on a tokenizer's output would add what the tokenizer's post-processor adds; here the
// text says exactly what the model sees). `--chat` renders it as one user message through the
// model's chat template with the generation prompt, which writes whatever the model's format
// needs. Generation stops at the model's end-of-sequence ids: generation_config.json's (else
// config.json's) eos_token_id and tokenizer_config.json's eos_token; for a model trained here,
// `<end>`.

export const DEFAULT_MAX_TOKENS = 64;

const usage = `usage: rpt sample <model folder> --prompt TEXT [--prompt TEXT]... [--max-tokens N]
                  [--temperature T] [--top-p P] [--top-k K] [--greedy] [--seed S] [--chat] [--json]
                  [--backend cpu|webgpu|auto]

Writes what the model generates after each prompt. The model is a Hugging Face folder
(config.json, safetensors weights, tokenizer.json) or a checkpoint of this project (a folder
with model.safetensors; its tokenizer is the tokenizer.json the checkpoint names, which must be
unchanged). Prompts are encoded as written, no BOS added; all run in one batch.
  --prompt TEXT       a prompt; repeat for several
  --max-tokens N      the most tokens to generate per prompt (default ${DEFAULT_MAX_TOKENS}); prompt and
                      generation together must fit the model's context
  --temperature T     0 is greedy; default: generation_config.json's temperature (greedy when it
                      says do_sample false), else 1
  --top-p P           nucleus sampling, in (0, 1]; default generation_config.json's top_p, else 1 (off)
  --top-k K           keep the K most likely tokens; default generation_config.json's top_k, else 0 (off)
  --greedy            the most likely token each time (temperature 0)
  --seed S            prompt i samples from seed S + i (default 0): the same seed, the same text
  --chat              render each prompt as a user message through the model's chat template
  --json              one JSON object per prompt and line: {"prompt", "seed", "prompt_tokens",
                      "tokens", "text", "finish"}; tokens holds the stop token, text does not;
                      finish is "stop" (an end-of-sequence token) or "length" (--max-tokens)
${BACKEND_HELP}
Generation stops at the model's end-of-sequence ids (generation_config.json's or config.json's
eos_token_id and tokenizer_config.json's eos_token; <end> for a model trained here). An id
past the tokenizer's last token (a padded embedding) decodes to no text.`;

export const sampleCommand: Command = {
  name: 'sample',
  summary: 'generate text from a Hugging Face folder or a checkpoint',
  usage,
  async run(args, io) {
    const parsed = parseOptions(args, {
      ...BACKEND_OPTION,
      prompt: { type: 'string', multiple: true },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-p': { type: 'string' },
      'top-k': { type: 'string' },
      greedy: { type: 'boolean' },
      seed: { type: 'string' },
      chat: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if ('error' in parsed) return usageError(io, parsed.error);
    const flags = sampleFlags(parsed.positionals, parsed.values);
    if ('error' in flags) return usageError(io, flags.error);
    try {
      return await runSample(flags, io);
    } catch (error) {
      io.err(`rpt sample: ${(error as Error).message}`);
      return EXIT_INVALID;
    }
  },
};

interface SampleFlags {
  model: string;
  prompts: string[];
  maxTokens: number;
  temperature: number | undefined;
  topP: number | undefined;
  topK: number | undefined;
  greedy: boolean;
  seed: number;
  chat: boolean;
  json: boolean;
  backend: BackendKind;
}

function usageError(io: Io, problem: string): number {
  io.err(`rpt sample: ${problem}\n${usage}`);
  return EXIT_USAGE;
}

function sampleFlags(positionals: string[], values: Record<string, string | boolean | string[] | undefined>): SampleFlags | { error: string } {
  const [model, ...extra] = positionals;
  if (model === undefined) return { error: 'a model folder is needed' };
  if (extra.length > 0) return { error: `unexpected argument "${extra[0]}"` };
  const prompts = (values.prompt as string[] | undefined) ?? [];
  if (prompts.length === 0) return { error: 'at least one --prompt is needed' };
  const backend = backendProblem(values.backend);
  if (backend !== null) return { error: backend };
  const number = (flag: string, ok: (value: number) => boolean, what: string): number | undefined | { error: string } => {
    const text = values[flag] as string | undefined;
    if (text === undefined) return undefined;
    const value = Number(text);
    return text.trim() !== '' && ok(value) ? value : { error: `--${flag} must be ${what}, not "${text}"` };
  };
  const maxTokens = number('max-tokens', (n) => Number.isSafeInteger(n) && n >= 1, 'an integer >= 1');
  const temperature = number('temperature', (n) => Number.isFinite(n) && n >= 0, 'a number >= 0');
  const topP = number('top-p', (n) => n > 0 && n <= 1, 'a number in (0, 1]');
  const topK = number('top-k', (n) => Number.isSafeInteger(n) && n >= 0, 'an integer >= 0 (0 = off)');
  const seed = number('seed', (n) => Number.isSafeInteger(n), 'an integer');
  for (const value of [maxTokens, temperature, topP, topK, seed]) if (typeof value === 'object') return value;
  if (values.greedy === true && temperature !== undefined) return { error: '--greedy and --temperature exclude each other (--greedy is temperature 0)' };
  return {
    model,
    prompts,
    maxTokens: (maxTokens as number | undefined) ?? DEFAULT_MAX_TOKENS,
    temperature: temperature as number | undefined,
    topP: topP as number | undefined,
    topK: topK as number | undefined,
    greedy: values.greedy === true,
    seed: (seed as number | undefined) ?? 0,
    chat: values.chat === true,
    json: values.json === true,
    backend: (values.backend as BackendKind | undefined) ?? 'auto',
  };
}

/**
 * The sampling settings: the flags, else the defaults of the model's generation_config.json
 * (do_sample false there means greedy), else plain sampling from the model's distribution
 * (temperature 1, top-p and top-k off).
 */
export function samplingSettings(flags: Pick<SampleFlags, 'temperature' | 'topP' | 'topK' | 'greedy'>, source: ModelSource): SamplingSettings {
  const defaults = source.hf?.generation;
  const temperature = flags.greedy ? 0 : flags.temperature ?? (defaults?.doSample === false ? 0 : defaults?.temperature ?? 1);
  return { temperature, topP: flags.topP ?? defaults?.topP ?? 1, topK: flags.topK ?? defaults?.topK ?? 0 };
}

async function runSample(flags: SampleFlags, io: Io): Promise<number> {
  const source = await openModel(flags.model);
  const { tokenizer, config } = source;
  const template = flags.chat ? await chatTemplateOf(source) : undefined;
  const texts = template ? flags.prompts.map((prompt) => template.render([{ role: 'user', content: prompt }], { addGenerationPrompt: true })) : flags.prompts;
  const prompts = texts.map((text) => Int32Array.from(tokenizer.encode(text)));
  prompts.forEach((prompt, i) => {
    const which = flags.prompts.length > 1 ? `prompt ${i + 1}` : 'the prompt';
    if (prompt.length === 0) throw new Error(`${which} encodes to no tokens; the model needs at least one to continue from`);
    if (prompt.length + flags.maxTokens > config.context) {
      throw new Error(`${which} is ${prompt.length} tokens and --max-tokens is ${flags.maxTokens}: ${prompt.length + flags.maxTokens} positions, more than the model's context of ${config.context}`);
    }
  });
  const sampling = samplingSettings(flags, source);

  let backend: Backend | undefined;
  try {
    const choice = await selectBackend(flags.backend);
    backend = choice.backend;
    // The flat array is dropped once the backend holds its copy of the weights.
    const model = new Transformer(backend, config, await source.weights());
    const seeds = prompts.map((_, i) => flags.seed + i);
    const started = performance.now();
    const generations = await generate(model, { prompts, seeds, phases: [{ maxNewTokens: flags.maxTokens, stopTokens: source.eosIds }], sampling });
    const seconds = (performance.now() - started) / 1000;
    generations.forEach((generation, i) => {
      const tokens = Array.from(generation.tokens);
      const text = decodeGenerated(tokenizer, generation.finish === 'stop' ? tokens.slice(0, -1) : tokens);
      if (flags.json) {
        io.out(JSON.stringify({ prompt: flags.prompts[i], seed: seeds[i], prompt_tokens: Array.from(prompts[i]), tokens, text, finish: generation.finish }));
      } else {
        if (flags.prompts.length > 1) io.out(`--- ${i + 1}: ${JSON.stringify(flags.prompts[i])} ---`);
        io.out(text);
      }
    });
    const total = generations.reduce((n, g) => n + g.tokens.length, 0);
    const how = sampling.temperature === 0 ? 'greedy' : `temperature ${sampling.temperature}, top-p ${sampling.topP}, top-k ${sampling.topK === 0 ? 'off' : sampling.topK}`;
    io.err(`rpt sample: ${source.dir} (${paramCount(config).toLocaleString('en-US')} parameters) on ${backend.description}: ${prompts.length} prompt${prompts.length === 1 ? '' : 's'}, ${total} tokens in ${seconds.toFixed(2)} s (${(total / Math.max(seconds, 1e-9)).toFixed(1)} tokens/s), ${how}`);
    return EXIT_OK;
  } finally {
    backend?.destroy();
  }
}

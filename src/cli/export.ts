import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHfFolder } from '../hf/check.ts';
import { exportHfFolder, type HfExportOptions } from '../hf/export.ts';
import { readTokenizerIds } from '../hf/tokenizer-files.ts';
import { BpeTokenizer } from '../tokenizer/bpe-tokenizer.ts';
import { END } from '../tokenizer/special-tokens.ts';
import { saveTokenizer } from '../tokenizer/tokenizer-json.ts';
import { unlessMissing } from '../util/missing.ts';
import { describeHfFolder } from './check.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command, type Io } from './io.ts';
import { openModel, type ModelSource } from './model-source.ts';
import { parseOptions } from './options.ts';

// `rpt export <checkpoint> <out dir>`: a checkpoint of this project as a Hugging Face folder
// (src/hf/export.ts) that transformers' from_pretrained loads and that gives the same logits.
// A model trained from scratch exports as LlamaForCausalLM with `<end>` as its eos token; a model
// trained from a Hugging Face model (its tokenizer.json sits in that model's folder) keeps that
// folder's architecture, chat template, bos/eos/pad tokens, eos ids and sampling defaults.

const usage = `usage: rpt export <checkpoint> <out dir>

Writes a checkpoint of this project (a folder with model.safetensors, e.g.
runs/<name>/stages/rpt-.../checkpoints/step-000300) as a Hugging Face folder: config.json,
model.safetensors (F32), tokenizer.json, tokenizer_config.json and generation_config.json.
A model trained here exports as LlamaForCausalLM (Qwen2/Qwen3 for one started from such a model)
with <end> as its end-of-sequence token; one started from a Hugging Face model carries over
that model's chat template, special tokens and generation defaults. The out dir must not exist
or be empty; the checkpoint's tokenizer must be the file it was trained with.`;

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a checkpoint as a Hugging Face folder that transformers loads',
  usage,
  async run(args, io) {
    const parsed = parseOptions(args, {});
    if ('error' in parsed) return usageError(io, parsed.error);
    const [checkpoint, out, ...extra] = parsed.positionals;
    if (checkpoint === undefined || out === undefined) return usageError(io, 'a checkpoint and an out dir are needed');
    if (extra.length > 0) return usageError(io, `unexpected argument "${extra[0]}"`);
    try {
      await exportCheckpoint(checkpoint, out, io);
      return EXIT_OK;
    } catch (error) {
      io.err(`rpt export: ${(error as Error).message}`);
      return EXIT_INVALID;
    }
  },
};

function usageError(io: Io, problem: string): number {
  io.err(`rpt export: ${problem}\n${usage}`);
  return EXIT_USAGE;
}

async function exportCheckpoint(checkpoint: string, out: string, io: Io): Promise<void> {
  // Refused before the weights are read.
  const existing = await stat(out).catch(() => undefined);
  if (existing !== undefined && !existing.isDirectory()) throw new Error(`${out}: exists and is a file; export writes a new folder`);
  if ((await unlessMissing(readdir(out), [])).length > 0) throw new Error(`${out}: the directory is not empty; export writes a new folder`);
  const source = await openModel(checkpoint);
  if (source.kind !== 'checkpoint') throw new Error(`${source.dir}: is a Hugging Face folder already; export takes a checkpoint of this project`);
  const weights = await source.weights();
  const scratch = await mkdtemp(join(tmpdir(), 'rpt-export-'));
  try {
    await exportHfFolder(out, source.config, weights, await exportOptions(source, scratch));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  io.out(`${out}: ${describeHfFolder(checkHfFolder(out))}`);
}

/** What the folder says besides the weights: the tokenizer file to copy, its special tokens, the generation defaults. */
async function exportOptions(source: ModelSource, scratch: string): Promise<HfExportOptions> {
  const { tokenizer, hf } = source;
  if (hf !== undefined) {
    const { tokens, generation } = hf;
    return {
      tokenizerPath: source.tokenizerPath,
      bosToken: tokens.bosToken,
      eosToken: tokens.eosToken,
      padToken: tokens.padToken,
      chatTemplate: tokens.chatTemplate,
      bosTokenId: tokens.bosToken === undefined ? generation.bosTokenId : undefined,
      eosTokenIds: source.eosIds,
      generation: { doSample: generation.doSample, temperature: generation.temperature, topP: generation.topP, topK: generation.topK },
    };
  }
  // A tokenizer trained here. A tokenizer.json without the reasoning markers had them appended
  // when it was loaded for training; the exported file must hold them.
  let tokenizerPath = source.tokenizerPath;
  let largest = -1;
  for (const id of readTokenizerIds(tokenizerPath).values()) largest = Math.max(largest, id);
  if (largest + 1 !== tokenizer.vocabSize && tokenizer instanceof BpeTokenizer) {
    tokenizerPath = join(scratch, 'tokenizer.json');
    await saveTokenizer(tokenizerPath, tokenizer);
  }
  return { tokenizerPath, eosToken: tokenizer.specialIds === undefined ? undefined : END };
}

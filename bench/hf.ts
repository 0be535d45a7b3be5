// A Hugging Face checkpoint of SmolLM2-135M's shape (random weights) in rpt and in PyTorch, in the
// same run: `npm run bench -- hf [--json] [--backend cpu|webgpu|auto] [--layers N] [--batch N]
// [--prompt N] [--new-tokens N] [--train-batch N] [--train-seq N] [--steps N]`.
//
// The bench writes the model twice into a temporary folder, as Hugging Face folders (config.json
// by src/hf's toHfConfig, model.safetensors) whose weights are stored as BF16 and as F32; the
// weights are rounded to bf16 first, so both folders hold the same model. Then, each side in a
// process of its own so that its peak resident set is its own, one after the other so that they
// never share the cores:
//   rpt      this file with `--side rpt --bf16 DIR --f32 DIR` (the rpt half alone, usable on any
//            two folders): config.json and the weights read by src/hf into a Transformer on the
//            backend (cpu, the system BLAS, by default)
//   PyTorch  bench/peer/torch_hf.py on the same folders (the model after transformers'
//            modeling_llama.py, f32 on the CPU), at its default thread count and, when that
//            differs, at as many threads as the machine has cores, as bench/torch.ts runs it
// Figures of each side (rpt_*_<backend>, torch_*_t<threads>) and the ratios rpt/torch:
//   load_bf16_s          config.json and the BF16 weights into a model computing in f32
//   load_f32_s           the same from the F32 folder; this model is the one sampled and trained
//   sample_tokens_per_s  --batch sequences (16) from --prompt random tokens (16), --new-tokens (128)
//                        each through the KV cache at temperature 0.8, after a 2-token warm-up
//   train_tokens_per_s   whole steps (forward, loss, backward, clipping, AdamW) of --train-batch x
//                        --train-seq random tokens (4 x 128), --steps of them (3) after one warm-up
//   peak_rss_mib         the process's peak resident set over loading, sampling and training
// A ratio above 1 means rpt is faster for tokens/s, slower or larger for seconds and MiB.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../src/backend/backend.ts';
import { createBackend, type BackendKind } from '../src/backend/select.ts';
import { writeSafetensors } from '../src/checkpoint/safetensors.ts';
import { parseHfConfig, toHfConfig } from '../src/hf/config.ts';
import { readJsonObject } from '../src/hf/json-file.ts';
import { readHfWeights } from '../src/hf/weights.ts';
import { modelConfig, type ModelConfig } from '../src/model/config.ts';
import { generate } from '../src/model/generate.ts';
import { maskedCrossEntropy } from '../src/model/loss.ts';
import { AdamW } from '../src/model/optimizer.ts';
import { initParams, paramCount, paramSpecs } from '../src/model/params.ts';
import { trainStep } from '../src/model/train-step.ts';
import { Transformer } from '../src/model/transformer.ts';
import { Random } from '../src/util/random.ts';
import { type Figure, option, printFiguresWithFacts } from './report.ts';
import { findPython, pythonMissing, torchFacts, torchRuns } from './torch.ts';

const PEER = fileURLToPath(new URL('./peer/torch_hf.py', import.meta.url));
const RUN = fileURLToPath(new URL('./run.ts', import.meta.url));
const TEMPERATURE = 0.8; // as torch_hf.py samples

/** SmolLM2-135M's config.json (HuggingFaceTB/SmolLM2-135M), with `layers` layers. */
function smolLm2(layers: number): ModelConfig {
  return modelConfig({
    vocabSize: 49152, layers, dim: 576, heads: 9, kvHeads: 3, headDim: 64, ffnHidden: 1536,
    context: 8192, tiedEmbeddings: true, ropeTheta: 100000, normEps: 1e-5,
  });
}

/** The figures both sides measure, named as torch_hf.py names them, with their units. */
const UNITS = { load_bf16_s: 's', load_f32_s: 's', sample_tokens_per_s: 'tokens/s', train_tokens_per_s: 'tokens/s', peak_rss_mib: 'MiB' };
type Measure = keyof typeof UNITS;
const MEASURES = Object.keys(UNITS) as Measure[];

/** Sizes shared by both sides, as flags with their defaults. */
const SIZES = { batch: 16, prompt: 16, 'new-tokens': 128, 'train-batch': 4, 'train-seq': 128, steps: 3 };
type Sizes = Record<keyof typeof SIZES, number>;


function sizesOf(args: string[]): Sizes {
  const sizes = {} as Sizes;
  for (const [name, fallback] of Object.entries(SIZES) as [keyof Sizes, number][]) {
    const value = Number(option(args, name, String(fallback)));
    if (!(Number.isInteger(value) && value >= 1)) throw new Error(`--${name} must be a positive integer, got ${option(args, name, '')}`);
    sizes[name] = value;
  }
  return sizes;
}

const sizeFlags = (sizes: Sizes): string[] => Object.entries(sizes).flatMap(([name, value]) => [`--${name}`, String(value)]);

// ---------------------------------------------------------------------------------------------
// the folders

/** `flat` rounded to the nearest bf16 (ties to even), in place: values that BF16 and F32 files store alike. */
function roundToBf16(flat: Float32Array): void {
  const bits = new Uint32Array(flat.buffer, flat.byteOffset, flat.length);
  // finite values only (random weights): the sum stays below 2^32
  for (let i = 0; i < bits.length; i++) bits[i] = ((bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16) << 16;
}

/**
 * `tensors` (bf16-exact f32 values) as a BF16 safetensors file: the layout writeSafetensors
 * writes (header padded with spaces to 8 bytes, tensors sorted by name), each element the top
 * half of its f32.
 */
async function writeBf16Safetensors(path: string, tensors: { name: string; shape: number[]; data: Float32Array }[]): Promise<void> {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const { name, shape, data } of sorted) {
    header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + 2 * data.length] };
    offset += 2 * data.length;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, ' ')]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(padded.length));
  const file = await open(path, 'w');
  try {
    await file.write(length);
    await file.write(padded);
    for (const { data } of sorted) {
      const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
      const halves = Uint16Array.from(words, (word) => word >>> 16);
      await file.write(new Uint8Array(halves.buffer));
    }
  } finally {
    await file.close();
  }
}

/** The model `config` with random weights as two folders under `dir`, bf16/ and f32/. */
async function writeFolders(dir: string, config: ModelConfig): Promise<{ bf16: string; f32: string }> {
  const flat = initParams(config, 1);
  roundToBf16(flat);
  const tensors = paramSpecs(config).map((spec) => ({ name: spec.name, shape: [...spec.shape], data: flat.subarray(spec.offset, spec.offset + spec.length) }));
  const folders = { bf16: join(dir, 'bf16'), f32: join(dir, 'f32') };
  for (const [dtype, folder] of Object.entries(folders)) {
    await mkdir(folder);
    const json = { ...toHfConfig(config), torch_dtype: dtype === 'bf16' ? 'bfloat16' : 'float32' };
    await writeFile(join(folder, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
    if (dtype === 'bf16') await writeBf16Safetensors(join(folder, 'model.safetensors'), tensors);
    else await writeSafetensors(join(folder, 'model.safetensors'), tensors, { format: 'pt' });
  }
  return folders;
}

// ---------------------------------------------------------------------------------------------
// the rpt side

/**
 * The peak resident set of this process since it started this program: Linux's VmHWM. Not
 * resourceUsage's maxRSS, which Linux carries over exec from the process forked, so that a
 * child of a large parent (this bench's main process) would start with the parent's size.
 */
function peakRssMib(): number {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: maxRSS it is
  }
  const hwm = /^VmHWM:\s*(\d+) kB$/m.exec(status);
  return (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024; // both in KiB
}

/** A Hugging Face folder's config.json and weights into a Transformer on `backend`, as `rpt sample` reads one. */
async function loadFolder(backend: Backend, dir: string): Promise<Transformer> {
  const path = join(dir, 'config.json');
  const { config } = parseHfConfig(path, readJsonObject(path));
  return new Transformer(backend, config, await readHfWeights(dir, config));
}

async function seconds<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, (performance.now() - start) / 1000];
}

/** The rpt half: torch_hf.py's figures and facts, printed as it prints them (lines, or JSON with --json). */
async function rptSide(args: string[]): Promise<void> {
  const sizes = sizesOf(args);
  const dirs = { bf16: option(args, 'bf16', ''), f32: option(args, 'f32', '') };
  if (!dirs.bf16 || !dirs.f32) throw new Error('--side rpt needs --bf16 DIR and --f32 DIR');
  const collect = (): void => (globalThis as { gc?: () => void }).gc?.(); // under --expose-gc, as the parent runs this
  const backend = await createBackend(option(args, 'backend', 'cpu') as BackendKind);
  try {
    const rssBefore = peakRssMib();
    const [, loadBf16] = await seconds(() => loadFolder(backend, dirs.bf16)); // dropped at once, as torch_hf.py drops its
    collect();
    const [model, loadF32] = await seconds(() => loadFolder(backend, dirs.f32));
    const { config } = model;
    for (const [what, length] of [['prompt + new tokens', sizes.prompt + sizes['new-tokens']], ['train sequence', sizes['train-seq']]] as const) {
      if (length > config.context) throw new Error(`${what} ${length} exceeds the context ${config.context}`);
    }

    const random = new Random(3);
    const request = (maxNewTokens: number) => ({
      prompts: Array.from({ length: sizes.batch }, () => Int32Array.from({ length: sizes.prompt }, () => random.int(0, config.vocabSize - 1))),
      seeds: Array.from({ length: sizes.batch }, (_, b) => b),
      phases: [{ maxNewTokens, stopTokens: [] }],
      sampling: { temperature: TEMPERATURE, topK: 0, topP: 1 },
    });
    await generate(model, request(2)); // warm-up
    const [generations, sampleSeconds] = await seconds(() => generate(model, request(sizes['new-tokens'])));
    const sampled = generations.reduce((sum, generation) => sum + generation.tokens.length, 0);
    model.releaseActivations();

    const optimizer = new AdamW(model);
    const B = sizes['train-batch'], T = sizes['train-seq'], tokens = B * T;
    const batch = () => {
      const ids = Int32Array.from({ length: tokens + 1 }, () => random.int(0, config.vocabSize - 1));
      return { inputs: ids.subarray(0, tokens), targets: ids.subarray(1), B, T };
    };
    const lossHead = (logp: Float32Array) => maskedCrossEntropy(logp, new Float32Array(tokens).fill(1));
    const { loss: firstLoss } = await trainStep(model, optimizer, batch(), lossHead, 1e-3); // warm-up: the optimizer's state
    const [, trainSeconds] = await seconds(async () => {
      for (let step = 0; step < sizes.steps; step++) await trainStep(model, optimizer, batch(), lossHead, 1e-3);
    });

    const values: Record<Measure, number> = {
      load_bf16_s: loadBf16,
      load_f32_s: loadF32,
      sample_tokens_per_s: sampled / sampleSeconds,
      train_tokens_per_s: (sizes.steps * tokens) / trainSeconds,
      peak_rss_mib: peakRssMib(),
    };
    const facts = {
      backend: backend.description,
      backend_name: backend.name,
      node: process.version,
      first_train_loss: `${firstLoss.toFixed(4)} (ln ${config.vocabSize} = ${Math.log(config.vocabSize).toFixed(4)})`,
      rss_before_load_mib: rssBefore.toFixed(0),
      parameters: String(paramCount(config)),
    };
    printFiguresWithFacts(MEASURES.map((name) => ({ name, value: values[name], unit: UNITS[name] })), facts, args);
  } finally {
    backend.destroy();
  }
}

/** This file's rpt half in a process of its own; its stderr passes through. */
function runRpt(folders: { bf16: string; f32: string }, sizes: Sizes, backend: string): { figures: Record<string, { value: number }>; facts: Record<string, string> } {
  const flags = ['hf', '--side', 'rpt', '--json', '--bf16', folders.bf16, '--f32', folders.f32, '--backend', backend, ...sizeFlags(sizes)];
  console.error(`rpt: ${RUN} ${flags.join(' ')}`);
  const child = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, RUN, ...flags], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.error) throw child.error;
  if (child.status !== 0) throw new Error(`the rpt side exited with status ${child.status}`);
  const { facts, ...figures } = JSON.parse(child.stdout) as Record<string, { value: number }> & { facts: Record<string, string> };
  return { figures, facts };
}

export async function main(args: string[]): Promise<void> {
  if (option(args, 'side', '') === 'rpt') return rptSide(args);
  const sizes = sizesOf(args);
  const backend = option(args, 'backend', 'cpu');
  const config = smolLm2(Number(option(args, 'layers', '30')));
  const python = findPython();
  if (python === undefined) console.error(`${pythonMissing()}; rpt's figures only`);

  const dir = await mkdtemp(join(tmpdir(), 'rpt-bench-hf-'));
  try {
    console.error(`writing SmolLM2-135M-shaped folders (${config.layers} layers, ${paramCount(config)} parameters) to ${dir}`);
    const folders = await writeFolders(dir, config);
    const rpt = runRpt(folders, sizes, backend);
    const runs = python === undefined ? [] : torchRuns(python, PEER, ['--bf16', folders.bf16, '--f32', folders.f32, ...sizeFlags(sizes)]);

    const facts: Record<string, string> = {
      model: `SmolLM2-135M shape: ${config.layers} layers, hidden ${config.dim}, ${config.heads} heads, ${config.kvHeads} kv heads, head_dim ${config.headDim}, ffn ${config.ffnHidden}, vocab ${config.vocabSize}, tied`,
      sizes: sizeFlags(sizes).join(' '),
      safetensors_bytes: `bf16 ${(await stat(join(folders.bf16, 'model.safetensors'))).size}, f32 ${(await stat(join(folders.f32, 'model.safetensors'))).size}`,
    };
    for (const [key, value] of Object.entries(rpt.facts)) if (key !== 'backend_name') facts[`rpt_${key}`] = value;
    if (python !== undefined) facts.torch_python = python;
    Object.assign(facts, torchFacts(runs));

    const figures: Figure[] = MEASURES.map((name) => ({ name: `rpt_${name}_${rpt.facts.backend_name}`, value: rpt.figures[name].value, unit: UNITS[name] }));
    for (const run of runs) {
      for (const name of MEASURES) figures.push({ name: `torch_${name}${run.label}`, value: run.figures[name].value, unit: UNITS[name] });
    }
    for (const run of runs) {
      for (const name of MEASURES) figures.push({ name: `ratio_rpt_over_torch_${name}${run.label}`, value: rpt.figures[name].value / run.figures[name].value, unit: 'x' });
    }

    printFiguresWithFacts(figures, facts, args);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

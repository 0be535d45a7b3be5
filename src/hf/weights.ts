// The weights of a Hugging Face folder: model.safetensors, or shards named by
// model.safetensors.index.json ({"weight_map": {tensor name: shard file}}), matched tensor by
// tensor against the layout paramSpecs gives for config.json's model. Headers are checked before
// any data is read; the data is then read shard by shard straight into the flat parameter array
// (F32 as is, BF16 and F16 widened exactly), so a model needs its own size in memory plus one
// 16-bit tensor at a time.

import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CheckpointError } from '../checkpoint/error.ts';
import { readSafetensorsHeader, SafetensorsFile, type SafetensorsEntry } from '../checkpoint/safetensors.ts';
import type { ModelConfig } from '../model/config.ts';
import { checkFlatLength, paramCount, paramSpecs, type ParamSpec } from '../model/params.ts';
import { HF_FILES } from './folder.ts';
import { isObject, readJsonObject } from './json-file.ts';

/** Where one parameter of the model lies in the folder. */
export interface HfTensor {
  spec: ParamSpec;
  path: string; // the safetensors file holding it
  entry: SafetensorsEntry;
}

export interface HfWeights {
  tensors: HfTensor[]; // one per parameter, in paramSpecs order
  shards: string[]; // the safetensors files, in index order (one when unsharded)
  index: string | undefined; // the index file, when sharded
  dtypes: string[]; // the distinct dtypes stored, sorted
}

/**
 * Finds every parameter of `config` in the folder `dir` and checks its shape, reading headers
 * only (synchronously: they are small). Throws a CheckpointError naming the file and the cause
 * for a missing file or shard, a missing tensor, a shape that disagrees with config.json, an
 * unreadable dtype or a tensor the model has no place for.
 */
export function locateHfWeights(dir: string, config: ModelConfig): HfWeights {
  const { stored, shards, index } = storedTensors(dir);
  const tensors: HfTensor[] = [];
  for (const spec of paramSpecs(config)) {
    const found = stored.get(spec.name);
    if (found === undefined) {
      const hint = spec.name === 'lm_head.weight' ? ' (config.json has tie_word_embeddings false)' : '';
      throw new CheckpointError(index ?? shards[0], `tensor '${spec.name}' is missing; config.json's model needs it with shape ${JSON.stringify(spec.shape)}${hint}`);
    }
    stored.delete(spec.name);
    if (!sameShape(found.entry.shape, spec.shape)) {
      throw new CheckpointError(found.path, `tensor '${spec.name}' has shape ${JSON.stringify(found.entry.shape)} but config.json gives ${JSON.stringify(spec.shape)} = ${shapeFields(spec.name)}`);
    }
    tensors.push({ spec, ...found });
  }
  for (const [name, { path }] of stored) {
    // A tied model's LM head is its embedding, whatever is stored.
    if (isRopeBuffer(name) || (name === 'lm_head.weight' && config.tiedEmbeddings)) continue;
    throw new CheckpointError(path, `holds tensor '${name}', which the model config.json describes does not have`);
  }
  const dtypes = [...new Set(tensors.map((tensor) => tensor.entry.dtype))].sort();
  return { tensors, shards, index, dtypes };
}

/** The folder's weights in the flat parameter array `flat` (a new one by default), checked first as locateHfWeights does. */
export async function readHfWeights(dir: string, config: ModelConfig, flat: Float32Array = new Float32Array(paramCount(config))): Promise<Float32Array> {
  checkFlatLength(config, flat);
  const { tensors, shards } = locateHfWeights(dir, config);
  for (const shard of shards) {
    const file = await SafetensorsFile.open(shard);
    try {
      for (const { spec, path, entry } of tensors) {
        if (path === shard) await file.read(flat.subarray(spec.offset, spec.offset + spec.length), entry);
      }
    } finally {
      await file.close();
    }
  }
  return flat;
}

/** Every tensor the folder stores, by name, with the file that holds it. */
function storedTensors(dir: string): { stored: Map<string, { path: string; entry: SafetensorsEntry }>; shards: string[]; index: string | undefined } {
  const single = join(dir, HF_FILES.weights);
  const indexPath = join(dir, HF_FILES.index);
  const hasSingle = isFile(single), hasIndex = isFile(indexPath);
  if (hasSingle && hasIndex) {
    throw new CheckpointError(dir, `holds both ${HF_FILES.weights} and ${HF_FILES.index}; it is unclear which weights are meant, so remove the stale one`);
  }
  const stored = new Map<string, { path: string; entry: SafetensorsEntry }>();
  if (!hasIndex) {
    if (!hasSingle) {
      const legacy = isFile(join(dir, 'pytorch_model.bin')) ? ' (pytorch_model.bin is not read: save the model with safe_serialization=True)' : '';
      throw new CheckpointError(dir, `has neither ${HF_FILES.weights} nor ${HF_FILES.index}${legacy}`);
    }
    for (const entry of readSafetensorsHeader(single).entries) stored.set(entry.name, { path: single, entry });
    return { stored, shards: [single], index: undefined };
  }

  const weightMap = readJsonObject(indexPath).weight_map;
  if (!isObject(weightMap)) throw new CheckpointError(indexPath, 'field "weight_map" is missing or not an object');
  const byShard = new Map<string, string[]>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file !== basename(file) || file === '..' || file === '.') {
      throw new CheckpointError(indexPath, `field "weight_map" places tensor '${name}' in ${JSON.stringify(file)}, which is not a file name in the folder`);
    }
    byShard.set(file, [...(byShard.get(file) ?? []), name]);
  }
  const headers = new Map<string, Map<string, SafetensorsEntry>>();
  for (const [file, names] of byShard) {
    const shard = join(dir, file);
    if (!isFile(shard)) {
      const others = names.length > 1 ? ` and ${names.length - 1} more` : '';
      throw new CheckpointError(indexPath, `field "weight_map" places tensor '${names[0]}'${others} in shard ${file}, which does not exist`);
    }
    headers.set(shard, new Map(readSafetensorsHeader(shard).entries.map((entry) => [entry.name, entry])));
  }
  // Every listed tensor where the index says, before any tensor the index does not list: a
  // tensor placed in the wrong shard is reported as that.
  for (const [file, names] of byShard) {
    const shard = join(dir, file);
    const entries = headers.get(shard)!;
    for (const name of names) {
      const entry = entries.get(name);
      if (entry === undefined) throw new CheckpointError(shard, `has no tensor '${name}', which ${HF_FILES.index} places in it`);
      entries.delete(name);
      stored.set(name, { path: shard, entry });
    }
  }
  for (const [shard, entries] of headers) {
    const stray = [...entries.keys()].find((name) => !isRopeBuffer(name));
    if (stray !== undefined) throw new CheckpointError(shard, `holds tensor '${stray}', which ${HF_FILES.index} does not list`);
  }
  const shards = [...headers.keys()];
  return { stored, shards, index: indexPath };
}

/** The config.json fields that give a parameter's shape, e.g. [num_key_value_heads * head_dim, hidden_size]. */
function shapeFields(name: string): string {
  const rules: [RegExp, string][] = [
    [/embed_tokens\.weight$|^lm_head\.weight$/, '[vocab_size, hidden_size]'],
    [/q_proj\.weight$/, '[num_attention_heads * head_dim, hidden_size]'],
    [/q_proj\.bias$/, '[num_attention_heads * head_dim]'],
    [/[kv]_proj\.weight$/, '[num_key_value_heads * head_dim, hidden_size]'],
    [/[kv]_proj\.bias$/, '[num_key_value_heads * head_dim]'],
    [/o_proj\.weight$/, '[hidden_size, num_attention_heads * head_dim]'],
    [/[qk]_norm\.weight$/, '[head_dim]'],
    [/(gate|up)_proj\.weight$/, '[intermediate_size, hidden_size]'],
    [/down_proj\.weight$/, '[hidden_size, intermediate_size]'],
  ];
  return rules.find(([pattern]) => pattern.test(name))?.[1] ?? '[hidden_size]';
}

/** RoPE's frequencies, which older checkpoints store; they are recomputed, not learned. */
function isRopeBuffer(name: string): boolean {
  return name.endsWith('.rotary_emb.inv_freq');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

// generation_config.json: the token ids generation starts and stops at, and the sampling defaults
// the model's authors chose. Without the file, transformers builds one from config.json's ids.

import { CheckpointError } from '../checkpoint/error.ts';
import { booleanField, integerField, present, tokenIdsField, type JsonObject } from './json-file.ts';

export interface HfGenerationConfig {
  bosTokenId: number | undefined;
  eosTokenIds: number[]; // generation stops at any of them
  padTokenId: number | undefined;
  // Sampling defaults, each undefined unless the file states it (transformers then uses
  // do_sample false, temperature 1, top_p 1, top_k 50).
  doSample: boolean | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  topK: number | undefined;
}

/** The generation config of `json` read from `path`; `fallback` gives the ids the file leaves out. */
export function parseGenerationConfig(path: string, json: JsonObject, fallback: { bosTokenId?: number; eosTokenIds: number[] }): HfGenerationConfig {
  const one = (field: string): number | undefined => {
    const ids = tokenIdsField(path, json, field);
    if (ids.length > 1) throw new CheckpointError(path, `field "${field}" is ${JSON.stringify(ids)}; it must be one token id`);
    return ids[0];
  };
  const eos = tokenIdsField(path, json, 'eos_token_id');
  const temperature = present(json, 'temperature');
  if (temperature !== undefined && !(typeof temperature === 'number' && temperature >= 0 && Number.isFinite(temperature))) {
    throw new CheckpointError(path, `field "temperature" is ${JSON.stringify(temperature)}; it must be a number >= 0`);
  }
  const topP = present(json, 'top_p');
  if (topP !== undefined && !(typeof topP === 'number' && topP > 0 && topP <= 1)) {
    throw new CheckpointError(path, `field "top_p" is ${JSON.stringify(topP)}; it must be a number in (0, 1]`);
  }
  return {
    bosTokenId: one('bos_token_id') ?? fallback.bosTokenId,
    eosTokenIds: eos.length > 0 ? eos : fallback.eosTokenIds,
    padTokenId: one('pad_token_id'),
    doSample: present(json, 'do_sample') === undefined ? undefined : booleanField(path, json, 'do_sample', false),
    temperature: temperature as number | undefined,
    topP: topP as number | undefined,
    topK: present(json, 'top_k') === undefined ? undefined : integerField(path, json, 'top_k', 0),
  };
}

/** What transformers assumes without a generation_config.json: config.json's ids, no sampling defaults. */
export function defaultGenerationConfig(ids: { bosTokenId?: number; eosTokenIds: number[] }): HfGenerationConfig {
  return {
    bosTokenId: ids.bosTokenId,
    eosTokenIds: ids.eosTokenIds,
    padTokenId: undefined,
    doSample: undefined,
    temperature: undefined,
    topP: undefined,
    topK: undefined,
  };
}

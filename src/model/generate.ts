// Batched autoregressive sampling through the KV cache. A response is written in phases (e.g.
// a thought ended by </think>, then an answer ended by an end token), each with its own stop
// tokens and token budget. Every sequence draws from its own seeded generator, so a rollout is
// reproducible from its seed whatever else shares the batch.

import { sampleFromLogits, type SamplingSettings } from '../sampling/sample.ts';
import { Random } from '../util/random.ts';
import { Decoder } from './infer.ts';
import type { Transformer } from './transformer.ts';

export interface GenerationPhase {
  maxNewTokens: number; // the phase ends after this many tokens if no stop token came first
  stopTokens: readonly number[]; // a sampled stop token ends the phase and is kept in the output
}

export interface GenerateRequest {
  prompts: readonly Int32Array[]; // each non-empty
  seeds: readonly number[]; // one per prompt
  phases: readonly GenerationPhase[];
  sampling: SamplingSettings;
}

export interface Generation {
  tokens: Int32Array; // the new tokens, stop tokens included
  phaseEnds: number[]; // for each phase finished, the number of tokens written by its end
  finish: 'stop' | 'length' | 'context'; // how the last phase reached ended: stop token, its budget, or the model's context
}

export async function generate(model: Transformer, request: GenerateRequest): Promise<Generation[]> {
  const { prompts, seeds, phases, sampling } = request;
  const B = prompts.length, V = model.config.vocabSize;
  if (seeds.length !== B) throw new Error(`${B} prompts need ${B} seeds, got ${seeds.length}`);
  if (phases.length === 0 || phases.some((phase) => !(Number.isInteger(phase.maxNewTokens) && phase.maxNewTokens >= 1))) {
    throw new Error('generation needs at least one phase, each allowing at least one token');
  }
  const longestPrompt = Math.max(...prompts.map((prompt) => prompt.length));
  const budget = phases.reduce((total, phase) => total + phase.maxNewTokens, 0);
  const Tmax = Math.min(model.config.context, longestPrompt + budget);

  const rngs = seeds.map((seed) => new Random(seed));
  const sequences = prompts.map((prompt) => ({
    tokens: [] as number[], phaseEnds: [] as number[], phase: 0, inPhase: 0,
    position: prompt.length, // where the next sampled token goes
    finish: undefined as Generation['finish'] | undefined,
  }));
  const decoder = new Decoder(model, B, Tmax);
  try {
    let logits = await decoder.prefill(prompts);
    const next = new Int32Array(B), positions = new Int32Array(B);
    for (;;) {
      sampleFromLogits(next, logits, V, rngs, sampling);
      for (let b = 0; b < B; b++) {
        const s = sequences[b];
        if (s.finish !== undefined) continue;
        const token = next[b], phase = phases[s.phase];
        s.tokens.push(token);
        s.position += 1;
        s.inPhase += 1;
        const stopped = phase.stopTokens.includes(token);
        if (stopped || s.inPhase === phase.maxNewTokens) {
          s.phaseEnds.push(s.tokens.length);
          s.phase += 1;
          s.inPhase = 0;
          if (s.phase === phases.length) s.finish = stopped ? 'stop' : 'length';
        }
        if (s.finish === undefined && s.position >= Tmax) s.finish = 'context';
      }
      if (sequences.every((s) => s.finish !== undefined)) break;
      // Finished sequences go along with their last token; nothing reads what they compute.
      sequences.forEach((s, b) => (positions[b] = s.position - 1));
      logits = await decoder.step(next, positions);
    }
  } finally {
    decoder.release();
  }
  return sequences.map((s) => ({ tokens: Int32Array.from(s.tokens), phaseEnds: s.phaseEnds, finish: s.finish! }));
}

// The data feeder of the RPT graph (runtime/rpt-graph.ts): it holds the train side's tokens and
// the filter's kept positions, so that the thread that drives the loop holds neither, and hands
// out the contexts at the indices the loop drew (each a document prefix and the true
// continuation after it), packed into two transferred buffers.

import { keptContext } from '../src/rl/context.ts';
import { loadKeptPositions, type FilterResult } from '../src/stages/filter.ts';
import { loadSplit, type DataResult, type TokenizedSplit } from '../src/stages/token-data.ts';
import type { ActorBehaviour } from './actor.ts';

/** The actor's `data`: the stage results to read, and how much ground truth follows a position. */
export interface FeederData {
  data: DataResult;
  filter: FilterResult;
  windowTokens: number;
}

/**
 * The reply to `contexts`, context i being tokens[ends[2i-1] .. ends[2i]) (ends[-1] = 0) and its
 * continuation tokens[ends[2i] .. ends[2i+1]).
 */
export interface ContextsReply {
  documents: number[];
  offsets: number[];
  tokens: ArrayBuffer; // Int32
  ends: number[];
}

let source: { split: TokenizedSplit; kept: Int32Array } | undefined;

async function keptPositions(data: FeederData): Promise<{ split: TokenizedSplit; kept: Int32Array }> {
  source ??= { split: await loadSplit(data.data, 'train'), kept: await loadKeptPositions(data.filter) };
  return source;
}

const feeder: ActorBehaviour<'feeder'> = {
  role: 'feeder',
  async handle(message, self) {
    const data = self.data as FeederData;
    const { split, kept } = await keptPositions(data);
    const count = kept.length / 2;
    if (message.type === 'count') return { value: count };
    const contexts = message.indices.map((index) => {
      if (index >= count) throw new Error(`context ${index} asked for; the filter kept ${count}`);
      return keptContext(split, kept, index, data.windowTokens);
    });
    const ends: number[] = [];
    let length = 0;
    for (const { context, continuation } of contexts) ends.push((length += context.length), (length += continuation.length));
    const tokens = new Int32Array(length);
    contexts.forEach(({ context, continuation }, i) => {
      tokens.set(context, i === 0 ? 0 : ends[2 * i - 1]);
      tokens.set(continuation, ends[2 * i]);
    });
    const reply: ContextsReply = { documents: contexts.map((c) => c.document), offsets: contexts.map((c) => c.offset), tokens: tokens.buffer, ends };
    return { value: reply, transfer: [reply.tokens] };
  },
};
export default feeder;

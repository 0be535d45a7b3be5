import { describe, expect, it } from 'vitest';
import { MessageError, validateMessage } from '../runtime/protocol.ts';
import { rolloutBatch } from './fixtures/runtime/rollout-batch.ts';

const context = () => new Uint8Array([1, 2, 3]).buffer;
const GRPO = { clipLow: 0.2, clipHigh: 0.28, aggregation: 'token_mean', klCoefficient: 0, updates: 1 };

/** Rows of groups of the given sizes, each row a 2-token prompt and a 3-token response. */
function learnerRows(groups: number[]) {
  const rows = groups.reduce((total, n) => total + n, 0);
  const ends = (length: number) => Array.from({ length: rows }, (_, r) => (r + 1) * length);
  return {
    prompts: new Int32Array(2 * rows).buffer, promptEnds: ends(2),
    responses: new Int32Array(3 * rows).buffer, oldLogp: new Float32Array(3 * rows).buffer, responseEnds: ends(3),
    advantages: Array.from({ length: rows }, (_, r) => r - 1), groups,
  };
}

describe('message protocol', () => {
  it('accepts a well-formed message of each role', () => {
    const sample = { type: 'sample', item: { id: 'batch-1', attempt: 0, payload: rolloutBatch([context()]) } };
    expect(validateMessage('sampler', 'sampler#0', sample)).toEqual(sample);
    const update = { type: 'update', rows: learnerRows([2, 1]), settings: GRPO, lr: 1e-4 };
    expect(validateMessage('learner', 'learner', update)).toEqual(update);
    expect(validateMessage('feeder', 'feeder', { type: 'contexts', indices: [4, 0, 4] })).toEqual({ type: 'contexts', indices: [4, 0, 4] });
    expect(validateMessage('evaluator', 'evaluator', { type: 'evaluate', item: { id: 'step-10', attempt: 0, payload: { checkpoint: '/runs/x/step-10', step: 10 } } }).type).toBe('evaluate');
  });

  it('rejects an unknown message type, naming the actor, its role and the types it takes', () => {
    expect(() => validateMessage('sampler', 'sampler#1', { type: 'train' })).toThrow(
      new MessageError("sampler#1 (sampler) rejected a message with type 'train': expected one of sample, configure"),
    );
    expect(() => validateMessage('learner', 'learner', 42)).toThrow("learner (learner) rejected a message with no string type: expected one of start, restore, update, save");
  });

  it('rejects a malformed message with the path of each problem', () => {
    const bad = { type: 'sample', item: { id: '', attempt: -1, payload: { ...rolloutBatch([]), prompts: [[1, 2, 3]], seeds: [1, 2] } } };
    let error: unknown;
    try {
      validateMessage('sampler', 'sampler#0', bad);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MessageError);
    const message = (error as Error).message;
    expect(message).toMatch(/^sampler#0 \(sampler\) rejected 'sample': /);
    expect(message).toContain('item.id: ');
    expect(message).toContain('item.attempt: ');
    expect(message).toContain('item.payload.prompts.0: ');
  });

  it('rejects learner rows whose groups do not add up to the rows, and a negative context index', () => {
    const update = { type: 'update', rows: { ...learnerRows([2, 1]), groups: [2, 2] }, settings: GRPO, lr: 1e-4 };
    expect(() => validateMessage('learner', 'learner', update)).toThrow("learner (learner) rejected 'update': rows: needs a prompt end, a response end and an advantage per row, and groups that add up to the rows");
    expect(() => validateMessage('feeder', 'feeder', { type: 'contexts', indices: [-1] })).toThrow(/^feeder \(feeder\) rejected 'contexts': indices\.0: /);
  });

  it('rejects a rollout batch without one seed per rollout', () => {
    const sample = { type: 'sample', item: { id: 'batch-1', attempt: 0, payload: { ...rolloutBatch([context(), context()]), seeds: [1] } } };
    expect(() => validateMessage('sampler', 'sampler#0', sample)).toThrow("sampler#0 (sampler) rejected 'sample': item.payload.seeds: needs one seed per rollout (prompts x groupSize)");
  });
});

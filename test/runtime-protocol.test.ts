import { describe, expect, it } from 'vitest';
import { MessageError, validateMessage } from '../runtime/protocol.ts';
import { rolloutBatch } from './fixtures/runtime/rollout-batch.ts';

const context = () => new Uint8Array([1, 2, 3]).buffer;

describe('message protocol', () => {
  it('accepts a well-formed message of each role', () => {
    const sample = { type: 'sample', item: { id: 'batch-1', attempt: 0, payload: rolloutBatch([context()]) } };
    expect(validateMessage('sampler', 'sampler#0', sample)).toEqual(sample);
    expect(validateMessage('learner', 'learner', { type: 'configure', configVersion: 2, settings: { lr: 3e-4 } }).type).toBe('configure');
    expect(validateMessage('feeder', 'feeder', { type: 'next', count: 8 })).toEqual({ type: 'next', count: 8 });
  });

  it('rejects an unknown message type, naming the actor, its role and the types it takes', () => {
    expect(() => validateMessage('sampler', 'sampler#1', { type: 'train' })).toThrow(
      new MessageError("sampler#1 (sampler) rejected a message with type 'train': expected one of sample, configure"),
    );
    expect(() => validateMessage('learner', 'learner', 42)).toThrow("learner (learner) rejected a message with no string type: expected one of rollouts, configure");
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

  it('rejects a rollout batch without one seed per rollout', () => {
    const sample = { type: 'sample', item: { id: 'batch-1', attempt: 0, payload: { ...rolloutBatch([context(), context()]), seeds: [1] } } };
    expect(() => validateMessage('sampler', 'sampler#0', sample)).toThrow("sampler#0 (sampler) rejected 'sample': item.payload.seeds: needs one seed per rollout (prompts x groupSize)");
  });
});

// The built-in rewards on hand-worked byte strings. The true continuation " café au" is three
// tokens: " caf" (4 bytes), "é" (2 bytes: C3 A9) and " au" (3 bytes), so its token boundaries
// are 4, 6 and 9 bytes.

import { describe, expect, test } from 'vitest';
import { denseReward } from '../src/rl/rewards/dense.ts';
import { firstTokenReward } from '../src/rl/rewards/first-token.ts';
import { prefixMatchReward } from '../src/rl/rewards/prefix-match.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const CONTINUATION = bytes(' café au');
const BOUNDARIES = [4, 6, 9];

describe('prefix_match', () => {
  const reward = (prediction: Uint8Array | string) => prefixMatchReward(typeof prediction === 'string' ? bytes(prediction) : prediction, CONTINUATION, BOUNDARIES);

  test('exactly the next token, the next two, or all three: right', () => {
    expect(reward(' caf')).toBe(1);
    expect(reward(' café')).toBe(1);
    expect(reward(' café au')).toBe(1);
  });

  test('a prediction that ends inside a token is wrong, even on a character boundary', () => {
    expect(reward(' ca')).toBe(0);
    expect(reward(' café a')).toBe(0);
    expect(reward(Uint8Array.of(0x20, 0x63, 0x61, 0x66, 0xc3))).toBe(0); // stops inside é's two bytes
  });

  test('a prediction that overshoots the continuation, or runs into a wrong byte, is wrong', () => {
    expect(reward(' café au lait')).toBe(0);
    expect(reward(' café ou')).toBe(0);
    expect(reward(' cafe')).toBe(0); // e for é: same length as a token boundary would need, wrong bytes
  });

  test('the empty prediction is wrong', () => {
    expect(reward('')).toBe(0);
  });

  test('a leading-space token must be predicted with its space', () => {
    expect(reward('caf')).toBe(0);
    expect(reward(' caf')).toBe(1);
    expect(reward('café')).toBe(0);
  });

  test('a token of several multi-byte characters is matched only whole', () => {
    const continuation = bytes('日本語'); // one token "日本" (6 bytes), then "語" (3 bytes)
    expect(prefixMatchReward(bytes('日'), continuation, [6, 9])).toBe(0);
    expect(prefixMatchReward(bytes('日本'), continuation, [6, 9])).toBe(1);
    expect(prefixMatchReward(bytes('日本語'), continuation, [6, 9])).toBe(1);
  });
});

describe('first_token', () => {
  const reward = (prediction: string) => firstTokenReward(bytes(prediction), CONTINUATION, BOUNDARIES);

  test('right when the prediction starts with the next token, whatever follows', () => {
    expect(reward(' caf')).toBe(1);
    expect(reward(' café au')).toBe(1);
    expect(reward(' café au lait')).toBe(1);
    expect(reward(' cafés')).toBe(1);
  });

  test('wrong when the next token is cut short or differs', () => {
    expect(reward(' ca')).toBe(0);
    expect(reward('caf')).toBe(0);
    expect(reward(' cof')).toBe(0);
    expect(reward('')).toBe(0);
  });
});

describe('dense', () => {
  test('1 when prefix matching says right, whatever the guess probability', () => {
    expect(denseReward(bytes(' café'), CONTINUATION, BOUNDARIES, Math.log(0.01))).toBe(1);
  });

  test('the probability of the wrong guess otherwise', () => {
    expect(denseReward(bytes(' ca'), CONTINUATION, BOUNDARIES, Math.log(0.25))).toBeCloseTo(0.25, 12);
    expect(denseReward(bytes(' tea'), CONTINUATION, BOUNDARIES, Math.log(0.5) + Math.log(0.1))).toBeCloseTo(0.05, 12);
  });
});

// Logits of the fixture checkpoints on the engine against the reference written from Hugging
// Face's modeling code (test/fixtures/hf/make.py, float64 on the stored weights). The engine
// computes in f32; bf16 and f16 weights widen exactly, so every fixture has the one tolerance.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineLogits, expectedLogits, HF_FIXTURE_NAMES, HF_FIXTURES, LOGIT_TOLERANCE, maxAbsDifference } from './support/hf-fixtures.ts';

describe('logits against the Hugging Face reference', () => {
  for (const name of HF_FIXTURE_NAMES) {
    it(name, async () => {
      const dir = join(HF_FIXTURES, name);
      const expected = await expectedLogits(dir);
      const logits = await engineLogits(dir, expected.tokens);
      expect(logits.length).toBe(expected.tokens.length * expected.logits[0].length);
      expect(maxAbsDifference(logits, expected.logits)).toBeLessThan(LOGIT_TOLERANCE);
    });
  }
});

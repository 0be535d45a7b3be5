import { describe, expect, it } from 'vitest';
import { DEFAULT_ARITHMETIC, generateArithmetic, type ArithmeticOptions } from '../src/data/arithmetic.ts';
import type { Document } from '../src/data/document.ts';

const OPTIONS: ArithmeticOptions = { ...DEFAULT_ARITHMETIC, seed: 11, problems: 3000, minDigits: 1, maxDigits: 5, maxOperands: 5, algebraFraction: 0.25 };

async function generate(options: ArithmeticOptions): Promise<Document[]> {
  const documents: Document[] = [];
  for await (const document of generateArithmetic(options)) documents.push(document);
  return documents;
}

// An evaluator written apart from the generator: precedence climbing over + - * and parentheses.
function evaluateExpression(text: string): bigint {
  let position = 0;
  const primary = (): bigint => {
    if (text[position] === '(') {
      position++;
      const value = sum();
      expect(text[position]).toBe(')');
      position++;
      return value;
    }
    const digits = /^-?\d+/.exec(text.slice(position))![0];
    position += digits.length;
    return BigInt(digits);
  };
  const product = (): bigint => {
    let value = primary();
    while (text[position] === '*') {
      position++;
      value *= primary();
    }
    return value;
  };
  const sum = (): bigint => {
    let value = product();
    while (text[position] === '+' || text[position] === '-') {
      const operator = text[position++];
      const right = product();
      value = operator === '+' ? value + right : value - right;
    }
    return value;
  };
  const value = sum();
  expect(position).toBe(text.length);
  return value;
}

// A problem's text and, for a traced one, its worked steps as a thought on the answer's span.
const FORMAT = /^Q: (.+=)(-?\d+)$/;

/** [question, trace or undefined, answer] of a document, checking where its thought lies. */
function parts({ id, text, thoughts = [] }: Document): [string, string | undefined, string] {
  const match = FORMAT.exec(text);
  expect(match, `${id}: ${text}`).not.toBeNull();
  const [, questionWithEquals, answer] = match!;
  expect(thoughts.length, id).toBeLessThanOrEqual(1);
  if (thoughts.length === 1) expect([thoughts[0].start, thoughts[0].end], id).toEqual([text.length - answer.length, text.length]);
  return [questionWithEquals.slice(0, -1), thoughts[0]?.text, answer];
}
const EQUATION = /^(\d+)\*x([+-])(\d+)=(-?\d+); x$/;

describe('generated arithmetic corpus', () => {
  it('gives the same bytes for the same seed and others for another seed', async () => {
    const first = (await generate(OPTIONS)).map((d) => `${d.id}\t${d.text}`).join('\n');
    const again = (await generate(OPTIONS)).map((d) => `${d.id}\t${d.text}`).join('\n');
    const other = (await generate({ ...OPTIONS, seed: 12 })).map((d) => `${d.id}\t${d.text}`).join('\n');
    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });

  it('states problems whose answers and worked steps are exact', async () => {
    let traced = 0;
    let equations = 0;
    for (const document of await generate(OPTIONS)) {
      const { id, text } = document;
      const [question, trace, answerText] = parts(document);
      const answer = BigInt(answerText);
      const equation = EQUATION.exec(question);
      if (equation) {
        equations++;
        const [, a, sign, b, c] = equation;
        const x = answer;
        expect(BigInt(a) * x + (sign === '+' ? BigInt(b) : -BigInt(b)), text).toBe(BigInt(c));
      } else {
        expect(evaluateExpression(question), text).toBe(answer);
        expect((question.match(/\d+/g) ?? []).length).toBeGreaterThanOrEqual(2);
      }
      if (trace === undefined) continue;
      traced++;
      const steps = trace.split('; ');
      for (const step of steps) {
        const parts = /^(-?\d+)([-+*/])(-?\d+)=(-?\d+)$/.exec(step);
        expect(parts, `${id}: ${step}`).not.toBeNull();
        const [, left, operator, right, result] = parts!;
        const l = BigInt(left);
        const r = BigInt(right);
        const expected = operator === '+' ? l + r : operator === '-' ? l - r : operator === '*' ? l * r : l / r;
        if (operator === '/') expect(l % r).toBe(0n);
        expect(BigInt(result), `${id}: ${step}`).toBe(expected);
      }
      expect(steps.at(-1)!.split('=').at(-1)).toBe(answerText);
    }
    expect(traced / OPTIONS.problems).toBeGreaterThan(0.45);
    expect(traced / OPTIONS.problems).toBeLessThan(0.55);
    expect(equations / OPTIONS.problems).toBeGreaterThan(0.2);
    expect(equations / OPTIONS.problems).toBeLessThan(0.3);
  });

  it('needs several steps for expressions of several operands', async () => {
    const documents = await generate({ ...OPTIONS, minOperands: 4, maxOperands: 4, traceFraction: 1, algebraFraction: 0 });
    for (const document of documents) expect(parts(document)[1]!.split('; ').length).toBe(3);
  });

  it('keeps numbers within the digit range', async () => {
    const documents = await generate({ ...OPTIONS, minDigits: 3, maxDigits: 3, algebraFraction: 0 });
    for (const document of documents) {
      for (const number of parts(document)[0].match(/\d+/g)!) expect(number.length).toBe(3);
    }
  });

  it('rejects options out of range', async () => {
    await expect(generate({ ...OPTIONS, maxDigits: 10 })).rejects.toThrow('arithmetic: digits must be a range within 1..9, got 1..10');
    await expect(generate({ ...OPTIONS, minOperands: 1 })).rejects.toThrow('operands must be a range starting at 2');
    await expect(generate({ ...OPTIONS, traceFraction: 2 })).rejects.toThrow('arithmetic: traces fraction must be in [0, 1], got 2');
  });
});

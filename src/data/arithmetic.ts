import { Random } from '../util/random.ts';
import { hashString } from '../util/hash.ts';
import type { Document } from './document.ts';

// A generated math corpus, one problem per document, reproducible from its seed:
//   Q: 47*23+18=1099      thought on the answer `1099`: 47*23=1081; 1081+18=1099
//   Q: 7*x-12=23; x=5     thought on the answer `5`: 23+12=35; 35/7=5
// The worked trace of a problem that has one is a thought beside the text, on the answer's span,
// not inline: the text's next token after `=` is the answer itself, as next-token prediction
// and RPT's reward see it, and the trace is what a model may think before predicting it.
export interface ArithmeticOptions {
  seed: number;
  problems: number;
  minDigits: number; // digits of each number, 1..9
  maxDigits: number;
  minOperands: number; // operands of an arithmetic expression, >= 2
  maxOperands: number;
  traceFraction: number; // share of problems with a worked trace, 0..1
  algebraFraction: number; // share of problems that solve a*x+b=c for an integer x, 0..1
}

export const DEFAULT_ARITHMETIC: Omit<ArithmeticOptions, 'seed' | 'problems'> = {
  minDigits: 1,
  maxDigits: 3,
  minOperands: 2,
  maxOperands: 4,
  traceFraction: 0.5,
  algebraFraction: 0,
};

export async function* generateArithmetic(options: ArithmeticOptions): AsyncGenerator<Document> {
  checkOptions(options);
  for (let index = 0; index < options.problems; index++) yield arithmeticProblem(index, options);
}

// Problem `index` depends only on (seed, index), so any problem can be regenerated on its own.
function arithmeticProblem(index: number, options: ArithmeticOptions): Document {
  const random = new Random(hashString(`arithmetic/${index}`, options.seed));
  const withTrace = random.float() < options.traceFraction;
  const problem = random.float() < options.algebraFraction ? linearEquation(random, options) : expression(random, options);
  const question = `Q: ${problem.question}`;
  const text = `${question}${problem.answer}`;
  const thoughts = withTrace ? [{ start: question.length, end: text.length, text: problem.steps.join('; ') }] : [];
  return { id: `arithmetic/${index}`, text, thoughts };
}

interface Problem {
  question: string;
  steps: string[]; // each `left op right=result`, in the order a person would compute them
  answer: bigint;
}

type Operator = '+' | '-' | '*';
type Expression = { value: bigint } | { left: Expression; operator: Operator; right: Expression };

const PRECEDENCE: Record<Operator, number> = { '+': 1, '-': 1, '*': 2 };

function expression(random: Random, options: ArithmeticOptions): Problem {
  const tree = randomTree(random, random.int(options.minOperands, options.maxOperands), options);
  const steps: string[] = [];
  const answer = evaluate(tree, steps);
  return { question: `${format(tree)}=`, steps, answer };
}

function randomTree(random: Random, operands: number, options: ArithmeticOptions): Expression {
  if (operands === 1) return { value: randomNumber(random, options) };
  const leftOperands = random.int(1, operands - 1);
  return {
    left: randomTree(random, leftOperands, options),
    operator: random.pick(['+', '-', '*'] as const),
    right: randomTree(random, operands - leftOperands, options),
  };
}

function randomNumber(random: Random, options: ArithmeticOptions): bigint {
  const digits = random.int(options.minDigits, options.maxDigits);
  return BigInt(random.int(digits === 1 ? 0 : 10 ** (digits - 1), 10 ** digits - 1));
}

function evaluate(node: Expression, steps: string[]): bigint {
  if ('value' in node) return node.value;
  const left = evaluate(node.left, steps);
  const right = evaluate(node.right, steps);
  const result = node.operator === '+' ? left + right : node.operator === '-' ? left - right : left * right;
  steps.push(`${left}${node.operator}${right}=${result}`);
  return result;
}

// Parenthesised exactly where left-to-right precedence parsing would otherwise build another
// tree, so the question reads back as the tree whose steps the trace lists.
function format(node: Expression): string {
  if ('value' in node) return `${node.value}`;
  const precedence = PRECEDENCE[node.operator];
  const left = format(node.left);
  const right = format(node.right);
  const leftText = 'operator' in node.left && PRECEDENCE[node.left.operator] < precedence ? `(${left})` : left;
  const rightText = 'operator' in node.right && PRECEDENCE[node.right.operator] <= precedence ? `(${right})` : right;
  return `${leftText}${node.operator}${rightText}`;
}

function linearEquation(random: Random, options: ArithmeticOptions): Problem {
  const a = BigInt(Math.max(2, Number(randomNumber(random, options))));
  const x = randomNumber(random, options);
  const b = randomNumber(random, options);
  if (random.float() < 0.5) {
    const c = a * x + b;
    return { question: `${a}*x+${b}=${c}; x=`, steps: [`${c}-${b}=${c - b}`, `${c - b}/${a}=${x}`], answer: x };
  }
  const c = a * x - b;
  return { question: `${a}*x-${b}=${c}; x=`, steps: [`${c}+${b}=${c + b}`, `${c + b}/${a}=${x}`], answer: x };
}

function checkOptions(options: ArithmeticOptions): void {
  const { problems, minDigits, maxDigits, minOperands, maxOperands, traceFraction, algebraFraction } = options;
  if (!Number.isInteger(options.seed)) throw new Error(`arithmetic: seed must be an integer, got ${options.seed}`);
  if (!Number.isInteger(problems) || problems < 0) throw new Error(`arithmetic: problems must be a count >= 0, got ${problems}`);
  if (!Number.isInteger(minDigits) || !Number.isInteger(maxDigits) || minDigits < 1 || maxDigits > 9 || minDigits > maxDigits) {
    throw new Error(`arithmetic: digits must be a range within 1..9, got ${minDigits}..${maxDigits}`);
  }
  if (!Number.isInteger(minOperands) || !Number.isInteger(maxOperands) || minOperands < 2 || minOperands > maxOperands) {
    throw new Error(`arithmetic: operands must be a range starting at 2 or more, got ${minOperands}..${maxOperands}`);
  }
  for (const [name, value] of [['traces', traceFraction], ['algebra', algebraFraction]] as const) {
    if (!(value >= 0 && value <= 1)) throw new Error(`arithmetic: ${name} fraction must be in [0, 1], got ${value}`);
  }
}

// Front-end throughput on a generated 10,000-line experiment (a thousand ten-line model blocks
// around a small experiment): lexing, parsing, the whole check (lower, validate, cross-file
// checks) and compiling the graph plan.
import { buildAst } from '../dsl/ast.ts';
import { checkSource } from '../dsl/check.ts';
import { compileGraph } from '../dsl/graph.ts';
import { lex } from '../dsl/lexer.ts';
import { parse } from '../dsl/parser.ts';
import { makeSource } from '../dsl/source.ts';
import { printFigures } from './report.ts';

const TARGET_LINES = 10_000;
const REPEATS = 7;

function generate(): string {
  const head = [
    'experiment bench {',
    '  corpus { generate arithmetic { digits 2..4, problems 20k, traces 50% }, tokenizer bpe { vocab 320 } }',
    '  policy { init m0, think up to 32 tokens, answer up to 4 tokens }',
    '  learner grpo { rollouts 8, batch 64, lr 1e-4, steps 300 }',
  ];
  const models: string[] = [];
  for (let i = 0; head.length + models.length + 10 + 1 <= TARGET_LINES; i++) {
    models.push(
      `  model m${i} {`,
      '    # a model block of ten lines',
      '    transformer {',
      `      layers ${1 + (i % 8)}, dim 128, heads 4`,
      '      context 96 tokens, tied on',
      '    }',
      '    pretrain {',
      `      steps ${100 + i}, batch 32, lr 3e-3, warmup 10 steps`,
      '    }',
      '  }',
    );
  }
  const padding = Array.from({ length: TARGET_LINES - head.length - models.length - 1 }, () => '  # padding');
  return [...head, ...models, ...padding, '}'].join('\n');
}

function median(samples: number[]): number {
  return [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

function timeMs(work: () => void): number {
  work();
  const samples: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const start = performance.now();
    work();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

export async function main(args: string[]): Promise<void> {
  const text = generate();
  const source = makeSource('bench.rpt', text);
  const lines = source.lineStarts.length;
  const check = checkSource(source);
  if (!check.ir) throw new Error(`the generated file does not check: ${check.diagnostics[0]?.message}`);

  const lexMs = timeMs(() => lex(source));
  const tokens = lex(source).tokens;
  const parseMs = timeMs(() => buildAst(source, parse(source, tokens).cst));
  const checkMs = timeMs(() => checkSource(source, { baseDir: '.' }));
  const totalMs = timeMs(() => compileGraph(checkSource(source, { baseDir: '.' }).ir!));

  printFigures(
    [
      { name: 'dsl.lines', value: lines, unit: 'lines' },
      { name: 'dsl.bytes', value: text.length, unit: 'bytes' },
      { name: 'dsl.lex', value: lexMs, unit: 'ms' },
      { name: 'dsl.parse', value: parseMs, unit: 'ms' },
      { name: 'dsl.check', value: checkMs, unit: 'ms' },
      { name: 'dsl.check_and_compile', value: totalMs, unit: 'ms' },
      { name: 'dsl.throughput', value: lines / (totalMs / 1000), unit: 'lines/s' },
      { name: 'dsl.throughput_bytes', value: text.length / 1e6 / (totalMs / 1000), unit: 'MB/s' },
    ],
    args,
  );
}

import type { CstNode, IToken } from 'chevrotain';
import { diagnostic, type Diagnostic } from './diagnostics.ts';
import { tokenSpan } from './lexer.ts';
import type { Source, Span } from './source.ts';

// The syntax tree: entries with their arguments and blocks, values already decoded (escapes
// resolved, `k`/`M` multiplied out) but not yet interpreted.

// `unit` keeps what the writer said: a suffix (`%`, `s`, `ms`) or a unit word (`tokens`, `steps`).
export interface NumberValue {
  kind: 'number';
  value: number;
  unit: string | null;
  span: Span;
}
export interface RangeValue {
  kind: 'range';
  from: NumberValue;
  to: NumberValue;
  unit: string | null;
  span: Span;
}
export interface WordValue {
  kind: 'word';
  name: string;
  span: Span;
}
export interface StringValue {
  kind: 'string';
  value: string;
  span: Span;
}
export interface ListValue {
  kind: 'list';
  items: Value[];
  span: Span;
}
export type Value = NumberValue | RangeValue | WordValue | StringValue | ListValue;

export interface Entry {
  key: string;
  keySpan: Span;
  args: Value[];
  block: Block | null;
  span: Span;
}
export interface Block {
  entries: Entry[];
  span: Span;
}

interface Children {
  [name: string]: (CstNode | IToken)[] | undefined;
}

function children(node: CstNode): Children {
  return node.children as Children;
}
function nodes(node: CstNode, name: string): CstNode[] {
  return (children(node)[name] ?? []) as CstNode[];
}
function tokens(node: CstNode, name: string): IToken[] {
  return (children(node)[name] ?? []) as IToken[];
}
function join(a: Span, b: Span): Span {
  return { start: a.start, end: b.end };
}

// Builds the tree from the parser's output. Decoding problems (a bad escape) are collected, not
// thrown, so one pass reports all of them.
export function buildAst(source: Source, file: CstNode): { entries: Entry[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const entries = nodes(file, 'entry').map((node) => buildEntry(node));
  return { entries, diagnostics };

  function buildEntry(node: CstNode): Entry {
    const key = tokens(node, 'key')[0];
    const args = nodes(node, 'argument').map(buildArgument);
    const blockNode = nodes(node, 'block')[0];
    const block = blockNode ? buildBlock(blockNode) : null;
    const keySpan = tokenSpan(key);
    const last = block?.span ?? args.at(-1)?.span ?? keySpan;
    return { key: key.image, keySpan, args, block, span: join(keySpan, last) };
  }

  function buildBlock(node: CstNode): Block {
    const open = tokens(node, 'LBrace')[0];
    const close = tokens(node, 'RBrace')[0];
    const span = close && !Number.isNaN(close.startOffset) ? join(tokenSpan(open), tokenSpan(close)) : tokenSpan(open);
    return { entries: nodes(node, 'entry').map(buildEntry), span };
  }

  function buildArgument(node: CstNode): Value {
    const number = nodes(node, 'number')[0];
    if (number) return buildNumberOrRange(number);
    const list = nodes(node, 'list')[0];
    if (list) {
      const open = tokens(list, 'LBracket')[0];
      const close = tokens(list, 'RBracket')[0];
      const span = close && !Number.isNaN(close.startOffset) ? join(tokenSpan(open), tokenSpan(close)) : tokenSpan(open);
      return { kind: 'list', items: nodes(list, 'argument').map(buildArgument), span };
    }
    const string = tokens(node, 'string')[0];
    if (string) return { kind: 'string', value: decodeString(string), span: tokenSpan(string) };
    const word = tokens(node, 'word')[0];
    return { kind: 'word', name: word.image, span: tokenSpan(word) };
  }

  function buildNumberOrRange(node: CstNode): NumberValue | RangeValue {
    const unitToken = tokens(node, 'unit')[0];
    const unitWord = unitToken?.image ?? null;
    const from = decodeNumber(tokens(node, 'from')[0], unitWord);
    const toToken = tokens(node, 'to')[0];
    const end = unitToken ? tokenSpan(unitToken) : toToken ? tokenSpan(toToken) : from.span;
    if (!toToken) return { ...from, span: join(from.span, end) };
    const to = decodeNumber(toToken, unitWord);
    return { kind: 'range', from, to, unit: to.unit, span: join(from.span, end) };
  }

  function decodeString(token: IToken): string {
    const body = token.image.slice(1, -1);
    return body.replace(/\\(u\{[0-9A-Fa-f]{1,6}\}|.)/g, (escape, code: string, offset: number) => {
      if (code in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[code];
      const point = code.startsWith('u{') ? parseInt(code.slice(2, -1), 16) : NaN;
      if (point <= 0x10ffff) return String.fromCodePoint(point);
      const start = token.startOffset + 1 + offset;
      diagnostics.push(diagnostic(source, { start, end: start + escape.length }, `unknown escape \`${escape}\` in string`, {
        expected: '\\n, \\t, \\r, \\", \\\\ or \\u{hex}',
      }));
      return escape;
    });
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };

const SUFFIX_SCALE: Record<string, number> = { k: 1e3, M: 1e6 };

function decodeNumber(token: IToken, unitWord: string | null): NumberValue {
  const match = /^(-?[\d.]+(?:[eE][+-]?\d+)?)(%|ms|s|k|M)?$/.exec(token.image)!;
  const suffix = match[2] ?? null;
  const scale = suffix ? SUFFIX_SCALE[suffix] ?? 1 : 1;
  const unit = suffix && !(suffix in SUFFIX_SCALE) ? suffix : unitWord;
  return { kind: 'number', value: Number(match[1]) * scale, unit, span: tokenSpan(token) };
}

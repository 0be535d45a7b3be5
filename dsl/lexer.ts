import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import { diagnostic, type Diagnostic } from './diagnostics.ts';
import type { Source, Span } from './source.ts';

// Tokens of the experiment language. Newlines are tokens because a newline (or a comma) ends
// an entry; spaces and `#` comments are skipped.
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
// Unit words follow a number (`32 tokens`, `50 steps`); anywhere else they are plain names, so
// `steps 300` is still the key `steps`.
export const UnitWord = createToken({
  name: 'UnitWord',
  pattern: /(?:tokens|token|steps|step|documents|positions)(?![A-Za-z0-9_])/,
  longer_alt: Identifier,
  categories: [Identifier],
});
// 3, 0.8, 3e-4, 5% (a percent), 20k / 1M (thousands / millions), 2s / 500ms (durations).
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:%|ms|s|k|M)?(?![A-Za-z0-9_])/,
  start_chars_hint: ['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
});
// Digits run into letters (`12abc`): one error for the whole word, not one per character.
export const MalformedNumber = createToken({ name: 'MalformedNumber', pattern: /-?\d[A-Za-z0-9_.]*/ });
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\n\r]|\\.)*"/ });
export const UnterminatedString = createToken({ name: 'UnterminatedString', pattern: /"(?:[^"\\\n\r]|\\.)*/ });
export const DotDot = createToken({ name: 'DotDot', pattern: /\.\./ });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/, label: '`{`' });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: '`}`' });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: '`[`' });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: '`]`' });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: '`,`' });
export const Newline = createToken({ name: 'Newline', pattern: /\n/, label: 'a newline' });
const Spaces = createToken({ name: 'Spaces', pattern: /[ \t\r\uFEFF]+/, group: Lexer.SKIPPED });
const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });

export const allTokens: TokenType[] = [
  Spaces, Comment, Newline, NumberLiteral, MalformedNumber, StringLiteral, UnterminatedString, DotDot,
  LBrace, RBrace, LBracket, RBracket, Comma, UnitWord, Identifier,
];

const lexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: true });

// Blocks nested deeper than this are refused before parsing: no real experiment comes close, and
// the recursive-descent parser must never run out of stack on hostile input.
export const MAX_NESTING = 32;
// Past this many lexical errors the rest of the file is noise (binary data, say).
const MAX_LEX_ERRORS = 20;

export interface LexResult {
  tokens: IToken[];
  diagnostics: Diagnostic[];
  // False when braces or brackets do not pair up: parsing would only repeat that error.
  balanced: boolean;
}

export function lex(source: Source): LexResult {
  const result = lexer.tokenize(source.text);
  const diagnostics: Diagnostic[] = [];
  for (const error of result.errors) {
    const char = source.text.codePointAt(error.offset) ?? 0;
    diagnostics.push(diagnostic(source, { start: error.offset, end: error.offset + error.length }, `unexpected character ${describeChar(char)}`, {
      expected: 'a name, a number, a string, `{`, `}`, `[`, `]`, `,` or `..`',
    }));
  }
  const tokens: IToken[] = [];
  const open: IToken[] = [];
  let balanced = true;
  for (const token of result.tokens) {
    const span = tokenSpan(token);
    if (token.tokenType === UnterminatedString) {
      diagnostics.push(diagnostic(source, span, 'unterminated string', { expected: 'a closing `"` on the same line' }));
      continue;
    }
    if (token.tokenType === MalformedNumber) {
      diagnostics.push(diagnostic(source, span, `malformed number \`${token.image}\``, {
        expected: 'digits with an optional fraction, exponent and one suffix: %, k, M, s, ms (e.g. 3e-4, 5%, 20k, 2s)',
      }));
      continue;
    }
    tokens.push(token);
    if (token.tokenType === LBrace || token.tokenType === LBracket) {
      open.push(token);
      if (open.length > MAX_NESTING) {
        diagnostics.push(diagnostic(source, span, `blocks and lists nested more than ${MAX_NESTING} deep`));
        return { tokens: [], diagnostics, balanced: false };
      }
    }
    if (token.tokenType === RBrace || token.tokenType === RBracket) {
      const opener = open.pop();
      const wanted = token.tokenType === RBrace ? LBrace : LBracket;
      if (!opener || opener.tokenType !== wanted) balanced = false;
      if (!opener) {
        diagnostics.push(diagnostic(source, span, `\`${token.image}\` closes nothing`, { expected: 'an entry, or the end of the file' }));
      } else if (opener.tokenType !== wanted) {
        diagnostics.push(diagnostic(source, span, `\`${token.image}\` does not match the \`${opener.image}\` at ${opener.startLine}:${opener.startColumn}`, {
          expected: opener.tokenType === LBrace ? '`}`' : '`]`',
        }));
      }
    }
    if (diagnostics.length >= MAX_LEX_ERRORS) {
      balanced = false;
      break;
    }
  }
  if (open.length > 0) balanced = false;
  for (const opener of open.slice(0, MAX_LEX_ERRORS)) {
    diagnostics.push(diagnostic(source, tokenSpan(opener), `\`${opener.image}\` is never closed`, {
      expected: opener.tokenType === LBrace ? 'a matching `}`' : 'a matching `]`',
    }));
  }
  return { tokens, diagnostics: diagnostics.slice(0, MAX_LEX_ERRORS), balanced };
}

export function tokenSpan(token: IToken): Span {
  return { start: token.startOffset, end: (token.endOffset ?? token.startOffset) + 1 };
}

function describeChar(codePoint: number): string {
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  return codePoint >= 0x20 && codePoint !== 0x7f ? `\`${String.fromCodePoint(codePoint)}\` (${hex})` : hex;
}

import { CstParser, EOF, type CstNode, type IRecognitionException, type IToken } from 'chevrotain';
import { diagnostic, type Diagnostic } from './diagnostics.ts';
import {
  allTokens, Comma, tokenSpan, DotDot, Identifier, LBrace, LBracket, Newline, NumberLiteral, RBrace, RBracket, StringLiteral, UnitWord,
} from './lexer.ts';
import type { Source } from './source.ts';

// The grammar is deliberately generic: a file is entries, an entry is a name, arguments and an
// optional block. What each name means, and which arguments it takes, is decided when the tree is
// lowered (lower.ts), where the error can name the key and suggest the right one.
//
//   file     := (entry | sep)* EOF
//   block    := '{' (entry | sep)* '}'
//   entry    := Identifier argument* block?
//   argument := number | Identifier | String | list
//   number   := Number ('..' Number)? UnitWord?
//   list     := '[' (argument | sep)* ']'
//   sep      := Newline | ','
class ExperimentParser extends CstParser {
  constructor() {
    super(allTokens, { recoveryEnabled: true, maxLookahead: 2 });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.MANY(() => this.OR([{ ALT: () => this.SUBRULE(this.entry) }, { ALT: () => this.SUBRULE(this.separator) }]));
  });

  block = this.RULE('block', () => {
    this.CONSUME(LBrace);
    this.MANY(() => this.OR([{ ALT: () => this.SUBRULE(this.entry) }, { ALT: () => this.SUBRULE(this.separator) }]));
    this.CONSUME(RBrace);
  });

  entry = this.RULE('entry', () => {
    this.CONSUME(Identifier, { LABEL: 'key' });
    this.MANY(() => this.SUBRULE(this.argument));
    this.OPTION(() => this.SUBRULE(this.block));
  });

  argument = this.RULE('argument', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.number) },
      { ALT: () => this.CONSUME(Identifier, { LABEL: 'word' }) },
      { ALT: () => this.CONSUME(StringLiteral, { LABEL: 'string' }) },
      { ALT: () => this.SUBRULE(this.list) },
    ]);
  });

  number = this.RULE('number', () => {
    this.CONSUME(NumberLiteral, { LABEL: 'from' });
    this.OPTION(() => {
      this.CONSUME(DotDot);
      this.CONSUME2(NumberLiteral, { LABEL: 'to' });
    });
    this.OPTION2(() => this.CONSUME(UnitWord, { LABEL: 'unit' }));
  });

  list = this.RULE('list', () => {
    this.CONSUME(LBracket);
    this.MANY(() => this.OR([{ ALT: () => this.SUBRULE(this.argument) }, { ALT: () => this.SUBRULE(this.separator) }]));
    this.CONSUME(RBracket);
  });

  separator = this.RULE('separator', () => {
    this.OR([{ ALT: () => this.CONSUME(Newline) }, { ALT: () => this.CONSUME(Comma) }]);
  });
}

const parser = new ExperimentParser();

// Past this many syntax errors, recovery is guessing; the first ones are what the reader needs.
const MAX_PARSE_ERRORS = 20;

export interface ParseResult {
  cst: CstNode;
  diagnostics: Diagnostic[];
}

export function parse(source: Source, tokens: IToken[]): ParseResult {
  parser.input = tokens;
  const cst = parser.file();
  const diagnostics = parser.errors.slice(0, MAX_PARSE_ERRORS).map((error) => syntaxError(source, error));
  return { cst, diagnostics };
}

function syntaxError(source: Source, error: IRecognitionException): Diagnostic {
  const token = error.token;
  const atEnd = token.tokenType === EOF || Number.isNaN(token.startOffset);
  const span = atEnd ? { start: source.text.length, end: source.text.length } : tokenSpan(token);
  const found = describeToken(token);
  return diagnostic(source, span, atEnd ? "unexpected end of file" : `unexpected ${found}`, { expected: expectedFor(error) });
}

function describeToken(token: IToken): string {
  if (token.tokenType === Newline) return 'end of line';
  return `\`${token.image}\``;
}

// Chevrotain's messages list token names; the reader wants the language's words.
function expectedFor(error: IRecognitionException): string {
  const rule = error.context.ruleStack.at(-1);
  if (error.name === 'MismatchedTokenException') {
    if (/RBrace/.test(error.message)) return '`}` to close the block';
    if (/RBracket/.test(error.message)) return '`]` to close the list';
    if (/Identifier/.test(error.message)) return 'a name';
    if (/NumberLiteral/.test(error.message)) return 'a number after `..`';
  }
  if (error.name === 'NotAllInputParsedException') return 'a name to start an entry';
  if (rule === 'list') return 'a list item (a name, a number or a string), `,` or `]`';
  if (rule === 'argument') return 'a name, a number, a string or a list';
  return 'a name to start an entry, a newline or `,`';
}

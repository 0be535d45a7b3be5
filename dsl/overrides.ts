import { buildAst, type Block, type Entry, type Value } from './ast.ts';
import { diagnostic, type Diagnostic } from './diagnostics.ts';
import { lex } from './lexer.ts';
import { parse } from './parser.ts';
import { makeSource, type Source, type Span } from './source.ts';

// `--set path=value`: the path names entries as the file does (`learner.lr`, `policy.think`,
// `model.base.transformer.dim`, `eval.every`) and the value is written as in the file
// (`3e-4`, `64 tokens`, `[standard]`). An override replaces the arguments of that entry, or adds
// the entry (and any missing blocks on the way) when the file leaves it out. Lowering then
// reads it like any other entry, so it is validated like the file and its errors point into the
// `--set` text.
export interface Override {
  source: Source;
  path: { name: string; span: Span }[];
  value: Entry;
}

const OVERRIDE_SYNTAX = 'path=value, e.g. learner.lr=3e-4';

export function parseOverride(text: string): { override: Override | null; diagnostics: Diagnostic[] } {
  const source = makeSource('--set', text);
  const equals = text.indexOf('=');
  const pathText = equals < 0 ? text : text.slice(0, equals);
  if (equals < 0 || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(pathText)) {
    const span = { start: 0, end: Math.max(1, pathText.length) };
    return { override: null, diagnostics: [diagnostic(source, span, equals < 0 ? 'an override needs `=`' : `\`${pathText}\` is not a path of names`, { expected: OVERRIDE_SYNTAX })] };
  }
  const path: Override['path'] = [];
  let offset = 0;
  for (const name of pathText.split('.')) {
    path.push({ name, span: { start: offset, end: offset + name.length, origin: source } });
    offset += name.length + 1;
  }
  // The value is lexed in place (the path blanked out) so that every span is an offset into the
  // text the user typed; `v` stands in as the entry's key.
  const valueSource = makeSource('--set', `v${' '.repeat(equals)}${text.slice(equals + 1)}`);
  const lexed = lex(valueSource);
  const parsed = lexed.balanced ? parse(valueSource, lexed.tokens) : null;
  const built = parsed ? buildAst(valueSource, parsed.cst) : null;
  const problems = [...lexed.diagnostics, ...(parsed?.diagnostics ?? []), ...(built?.diagnostics ?? [])];
  const value = built?.entries[0];
  if (problems.length === 0 && (!value || built!.entries.length > 1 || (value.args.length === 0 && !value.block))) {
    problems.push(diagnostic(source, { start: equals + 1, end: text.length }, 'an override needs one value', { expected: OVERRIDE_SYNTAX }));
  }
  if (problems.length > 0) return { override: null, diagnostics: problems.map((d) => ({ ...d, source })) };
  stampOrigin(value!, source);
  return { override: { source, path, value: value! }, diagnostics: [] };
}

// Applies overrides to the experiment's top-level entries, in command-line order.
export function applyOverrides(entries: Entry[], overrides: Override[]): void {
  for (const override of overrides) {
    let level = entries;
    const segments = [...override.path];
    while (segments.length > 0) {
      const segment = segments.shift()!;
      // `model.NAME` picks the model declared with that name.
      const name = segment.name === 'model' ? segments.shift() : undefined;
      let entry = level.find((e) => e.key === segment.name && (!name || (e.args[0]?.kind === 'word' && e.args[0].name === name.name)));
      if (!entry) {
        const args: Value[] = name ? [{ kind: 'word', name: name.name, span: name.span }] : [];
        entry = { key: segment.name, keySpan: segment.span, args, block: null, span: segment.span };
        level.push(entry);
      }
      if (segments.length === 0) {
        entry.args = name ? entry.args : override.value.args;
        entry.block = override.value.block ?? entry.block;
      } else {
        entry.block ??= { entries: [], span: segment.span };
        level = entry.block.entries;
      }
    }
  }
}

function stampOrigin(entry: Entry, source: Source): void {
  const mark = (span: Span) => (span.origin = source);
  mark(entry.keySpan);
  mark(entry.span);
  entry.args.forEach((value) => stampValue(value, mark));
  if (entry.block) stampBlock(entry.block, source);
}

function stampBlock(block: Block, source: Source): void {
  block.span.origin = source;
  for (const entry of block.entries) stampOrigin(entry, source);
}

function stampValue(value: Value, mark: (span: Span) => void): void {
  mark(value.span);
  if (value.kind === 'range') {
    mark(value.from.span);
    mark(value.to.span);
  }
  if (value.kind === 'list') value.items.forEach((item) => stampValue(item, mark));
}

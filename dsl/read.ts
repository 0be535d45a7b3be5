import type { Entry, Value } from './ast.ts';
import { diagnostic, type Diagnostic } from './diagnostics.ts';
import { positionOf, type Source, type Span } from './source.ts';
import { closest } from './suggest.ts';

// The pieces lowering is built from: a target object in the raw IR, the spec of each key a block
// accepts, and readers that turn one entry's arguments into a JSON value or report why not.

// Where each IR path came from, and the key the writer used there (for messages).
export interface SourceMapEntry {
  span: Span;
  key: string;
}
export type SourceMap = Map<string, SourceMapEntry>;

export interface Context {
  source: Source;
  diagnostics: Diagnostic[];
  sourceMap: SourceMap;
  // For each IR path a block could hold: the key that writes it and its usage, so that a missing
  // required field is reported in the language's words.
  expected: Map<string, { key: string; usage: string }>;
  // IR paths whose entry was already reported: schema errors under them would only repeat it.
  failed: Set<string>;
}

export interface Target {
  ctx: Context;
  object: Record<string, unknown>;
  path: string;
}

export interface KeySpec {
  usage: string;
  // The IR field the key writes, where it writes one field.
  field?: string;
  // How a missing-field message names the key, when not by the key itself.
  label?: string;
  read(entry: Entry, to: Target): void;
}
export type Keys = Record<string, KeySpec>;

export interface Read {
  value: unknown;
  span: Span;
  // For a list, each item's span, so that an error in one item points at that item.
  itemSpans?: Span[];
}

export function report(ctx: Context, span: Span, message: string, extra: { expected?: string; hint?: string } = {}): void {
  ctx.diagnostics.push(diagnostic(ctx.source, span, message, extra));
}

export function pathOf(to: Target, field: string): string {
  return to.path ? `${to.path}.${field}` : field;
}

export function put(to: Target, field: string, read: Read | undefined, key: string): void {
  const path = pathOf(to, field);
  if (!read) {
    to.ctx.failed.add(path);
    return;
  }
  to.object[field] = read.value;
  to.ctx.sourceMap.set(path, { span: read.span, key });
  read.itemSpans?.forEach((span, i) => to.ctx.sourceMap.set(`${path}.${i}`, { span, key }));
}

// A nested object for a block entry; the entry's key span stands for the whole object.
export function child(to: Target, field: string, entry: Entry, initial: Record<string, unknown> = {}): Target {
  const path = pathOf(to, field);
  to.object[field] = initial;
  to.ctx.sourceMap.set(path, { span: entry.keySpan, key: entry.key });
  return { ctx: to.ctx, object: initial, path };
}

export function readEntries(entries: Entry[], keys: Keys, to: Target, where: string, repeatable: string[] = []): void {
  for (const [key, spec] of Object.entries(keys)) {
    const path = spec.field ? pathOf(to, spec.field) : null;
    if (path && !to.ctx.expected.has(path)) to.ctx.expected.set(path, { key: spec.label ?? `\`${key}\``, usage: spec.usage });
  }
  const seen = new Map<string, Entry>();
  for (const entry of entries) {
    const spec = keys[entry.key];
    if (!spec) {
      const suggestion = closest(entry.key, Object.keys(keys));
      report(to.ctx, entry.keySpan, `unknown key \`${entry.key}\` in ${where}`, {
        expected: Object.keys(keys).join(', '),
        hint: suggestion ? `did you mean \`${suggestion}\`?` : undefined,
      });
      // The key it was probably meant to be is not missing as well: one error, not two.
      const meant = suggestion ? keys[suggestion].field : undefined;
      if (meant) to.ctx.failed.add(pathOf(to, meant));
      continue;
    }
    const first = seen.get(entry.key);
    if (first && !repeatable.includes(entry.key)) {
      const at = positionOf(to.ctx.source, first.keySpan.start);
      report(to.ctx, entry.keySpan, `\`${entry.key}\` is given twice in ${where}`, { hint: `first given at ${at.line}:${at.column}` });
      continue;
    }
    seen.set(entry.key, entry);
    spec.read(entry, to);
  }
}

export function isWord(value: Value | undefined, name: string): boolean {
  return value?.kind === 'word' && value.name === name;
}

// The arguments after optional leading words: `think up to 32 tokens` and `think 32 tokens` both
// give [32 tokens].
export function argsAfter(entry: Entry, words: string[]): Value[] {
  const n = words.length;
  if (n > 0 && words.every((word, i) => isWord(entry.args[i], word))) return entry.args.slice(n);
  return entry.args;
}

export function rejectBlock(to: Target, entry: Entry, usage: string): boolean {
  if (!entry.block) return false;
  report(to.ctx, entry.block.span, `\`${entry.key}\` takes no block`, { expected: usage });
  return true;
}

export function oneArgument(to: Target, entry: Entry, usage: string, words: string[] = []): Value | undefined {
  if (rejectBlock(to, entry, usage)) return undefined;
  const args = argsAfter(entry, words);
  if (args.length === 1) return args[0];
  if (args.length === 0) report(to.ctx, entry.keySpan, `\`${entry.key}\` needs a value`, { expected: usage });
  else {
    report(to.ctx, { start: args[1].span.start, end: args.at(-1)!.span.end, origin: args[1].span.origin }, `\`${entry.key}\` takes one value`, {
      expected: usage,
      hint: 'entries on one line are separated by commas',
    });
  }
  return undefined;
}

// Units a key accepts. A unit word may be singular; `s` is accepted wherever `ms` is.
const UNIT_ALIASES: Record<string, string> = { token: 'tokens', step: 'steps', s: 'ms' };

export function numberOf(to: Target, value: Value, usage: string, units: string[] = []): Read | undefined {
  if (value.kind !== 'number') {
    report(to.ctx, value.span, `expected a number, found ${describe(value)}`, { expected: usage });
    return undefined;
  }
  if (value.unit !== null) {
    const unit = UNIT_ALIASES[value.unit] ?? value.unit;
    if (!units.includes(unit)) {
      report(to.ctx, value.span, `unit \`${value.unit}\` does not fit here`, {
        expected: units.length ? `a number, optionally with ${units.map((u) => `\`${u}\``).join(' or ')}: ${usage}` : `a plain number: ${usage}`,
      });
      return undefined;
    }
  }
  return { value: scaled(value.value, value.unit), span: value.span };
}

// Percent becomes a fraction and seconds become milliseconds, so the IR has one unit per field.
function scaled(value: number, unit: string | null): number {
  if (unit === '%') return value / 100;
  if (unit === 's') return value * 1000;
  return value;
}

export function wordOf(to: Target, value: Value, usage: string): Read | undefined {
  if (value.kind === 'word') return { value: value.name, span: value.span };
  report(to.ctx, value.span, `expected a name, found ${describe(value)}`, { expected: usage });
  return undefined;
}

export function stringOf(to: Target, value: Value, usage: string): Read | undefined {
  if (value.kind === 'string') return { value: value.value, span: value.span };
  report(to.ctx, value.span, `expected a string in double quotes, found ${describe(value)}`, { expected: usage });
  return undefined;
}

const FLAGS: Record<string, boolean> = { on: true, off: false, yes: true, no: false, true: true, false: false };

export function flagOf(to: Target, value: Value, usage: string): Read | undefined {
  if (value.kind === 'word' && value.name in FLAGS) return { value: FLAGS[value.name], span: value.span };
  report(to.ctx, value.span, `expected on or off, found ${describe(value)}`, { expected: usage });
  return undefined;
}

// A list, or a single item standing for a list of one.
export function listOf(to: Target, value: Value, usage: string, item: (to: Target, value: Value, usage: string) => Read | undefined): Read | undefined {
  const items = value.kind === 'list' ? value.items : [value];
  const reads = items.map((v) => item(to, v, usage));
  if (reads.some((r) => r === undefined)) return undefined;
  return { value: reads.map((r) => r!.value), span: value.span, itemSpans: reads.map((r) => r!.span) };
}

// `2..4` or a single number `3` (meaning 3..3); an inverted range is an error at the range.
export function rangeOf(to: Target, value: Value, usage: string): Read | undefined {
  if (value.kind === 'number') return { value: { min: value.value, max: value.value }, span: value.span };
  if (value.kind !== 'range') {
    report(to.ctx, value.span, `expected a range such as 2..4, found ${describe(value)}`, { expected: usage });
    return undefined;
  }
  if (value.unit !== null) {
    report(to.ctx, value.span, `unit \`${value.unit}\` does not fit here`, { expected: usage });
    return undefined;
  }
  if (value.from.value > value.to.value) {
    report(to.ctx, value.span, `range ${value.from.value}..${value.to.value} runs backwards`, { expected: 'the smaller bound first' });
    return undefined;
  }
  return { value: { min: value.from.value, max: value.to.value }, span: value.span };
}

export function describe(value: Value): string {
  switch (value.kind) {
    case 'number':
      return `the number ${value.value}${value.unit ? ` ${value.unit}` : ''}`;
    case 'range':
      return `the range ${value.from.value}..${value.to.value}`;
    case 'word':
      return `\`${value.name}\``;
    case 'string':
      return `the string ${JSON.stringify(value.value)}`;
    case 'list':
      return 'a list';
  }
}

// Specs for the common one-value keys.
export function numberKey(field: string, usage: string, options: { words?: string[]; units?: string[] } = {}): KeySpec {
  return {
    usage,
    field,
    read(entry, to) {
      const value = oneArgument(to, entry, usage, options.words);
      put(to, field, value && numberOf(to, value, usage, options.units), entry.key);
    },
  };
}

export function valueKey(field: string, usage: string, convert: (to: Target, value: Value, usage: string) => Read | undefined): KeySpec {
  return {
    usage,
    field,
    read(entry, to) {
      const value = oneArgument(to, entry, usage);
      put(to, field, value && convert(to, value, usage), entry.key);
    },
  };
}

export function listKey(field: string, usage: string, item: (to: Target, value: Value, usage: string) => Read | undefined): KeySpec {
  return valueKey(field, usage, (to, value) => listOf(to, value, usage, item));
}

// Two numbers, `betas 0.9 0.999`.
export function pairKey(field: string, usage: string): KeySpec {
  return {
    usage,
    field,
    read(entry, to) {
      if (rejectBlock(to, entry, usage)) return put(to, field, undefined, entry.key);
      if (entry.args.length !== 2) {
        report(to.ctx, entry.args.length ? entry.args[0].span : entry.keySpan, `\`${entry.key}\` takes two numbers`, { expected: usage });
        return put(to, field, undefined, entry.key);
      }
      const reads = entry.args.map((value) => numberOf(to, value, usage));
      const span = { start: entry.args[0].span.start, end: entry.args[1].span.end, origin: entry.args[0].span.origin };
      put(to, field, reads.every(Boolean) ? { value: reads.map((r) => r!.value), span } : undefined, entry.key);
    },
  };
}

// The span recorded for the longest prefix of an IR path: a defaulted field falls back to the
// block it belongs to, a list item to its list.
export function locate(ctx: Context, path: string[]): SourceMapEntry {
  for (let n = path.length; n > 0; n--) {
    const entry = ctx.sourceMap.get(path.slice(0, n).join('.'));
    if (entry) return entry;
  }
  return ctx.sourceMap.get('name') ?? { span: { start: 0, end: 0 }, key: 'experiment' };
}

import type { z } from 'zod';
import { diagnostic, type Diagnostic } from './diagnostics.ts';
import { locate, type Context } from './read.ts';
import { didYouMean } from './suggest.ts';

// Schema failures become diagnostics at the line:column of the offending value. A missing field
// points at the block that should hold it and says what to write.
export function schemaDiagnostics(ctx: Context, raw: unknown, issues: z.core.$ZodIssue[]): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String);
    if (path.some((_, i) => ctx.failed.has(path.slice(0, i + 1).join('.')))) continue;
    const value = valueAt(raw, path);
    const { span, key } = locate(ctx, path);
    const field = path.at(-1) ?? '';
    if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) {
      const wanted = ctx.expected.get(path.join('.'));
      const parent = ctx.sourceMap.get(path.slice(0, -1).join('.'))?.key;
      const where = parent ? `\`${parent}\`` : 'the experiment';
      diagnostics.push(diagnostic(ctx.source, span, `${where} is missing ${wanted?.key ?? `\`${field}\``}`, { expected: wanted?.usage }));
      continue;
    }
    diagnostics.push(diagnostic(ctx.source, span, `\`${key}\` ${describeIssue(issue, value)}`, expectation(issue, value)));
  }
  return diagnostics;
}

function valueAt(raw: unknown, path: string[]): unknown {
  let node = raw;
  for (const key of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return node;
}

// Messages the schema sets itself (e.g. "at least 2 rollouts") are kept; zod's generic ones are
// rephrased in the language's terms.
function isZodDefault(message: string): boolean {
  return /^(Too small|Too big|Invalid)/.test(message);
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  const text = describeGeneric(issue, value);
  return isZodDefault(issue.message) ? text : `${text}: ${issue.message}`;
}

function describeGeneric(issue: z.core.$ZodIssue, value: unknown): string {
  const got = ` (got ${JSON.stringify(value)})`;
  switch (issue.code) {
    case 'too_small':
      if (issue.origin === 'array') return `needs at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return 'must not be empty';
      return `must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}${got}`;
    case 'too_big':
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}${got}`;
    case 'invalid_type':
      if (issue.expected === 'int') return `must be a whole number${got}`;
      return `must be ${article(issue.expected)}${got}`;
    case 'invalid_value':
      return `cannot be ${JSON.stringify(value)}`;
    case 'invalid_union':
      return `cannot be ${JSON.stringify(value)}`;
    default:
      return `is invalid: ${issue.message}`;
  }
}

function expectation(issue: z.core.$ZodIssue, value: unknown): { expected?: string; hint?: string } {
  const options = issue.code === 'invalid_value' ? issue.values.map(String) : issue.code === 'invalid_union' ? optionsOf(issue) : null;
  if (!options) return {};
  return { expected: `one of ${options.join(', ')}`, hint: typeof value === 'string' ? didYouMean(value, options) : undefined };
}

function optionsOf(issue: z.core.$ZodIssue): string[] | null {
  const options = (issue as { options?: unknown }).options;
  return Array.isArray(options) ? options.map(String) : null;
}

function article(type: string): string {
  const names: Record<string, string> = { string: 'a string in quotes', number: 'a number', boolean: 'on or off', array: 'a list', object: 'a block' };
  return names[type] ?? type;
}

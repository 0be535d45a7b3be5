import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildAst } from './ast.ts';
import { diagnostic, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { fillDerivedDefaults } from './derived.ts';
import type { ExperimentIR } from './ir.ts';
import { lex } from './lexer.ts';
import { lowerExperiment } from './lower.ts';
import { applyOverrides, parseOverride, type Override } from './overrides.ts';
import { parse } from './parser.ts';
import type { Context, SourceMap } from './read.ts';
import { schemaDiagnostics } from './schema-errors.ts';
import { experimentSchema } from './schema.ts';
import { semanticDiagnostics } from './semantic.ts';
import { makeSource, type Source } from './source.ts';

// The whole front end: text -> tokens -> syntax tree -> raw IR (+ overrides, derived defaults)
// -> validated IR -> cross-file checks. Each phase runs only when the one before it succeeded,
// so every reported error is a real one, and within a phase every error is collected.

export interface CheckResult {
  ir: ExperimentIR | null;
  diagnostics: Diagnostic[];
  // IR path (`learner.lr`, `models.base.transformer.dim`) -> where it was written; a span from
  // a `--set` override carries that override as its `origin`.
  sourceMap: SourceMap;
  source: Source;
}

export interface CheckOptions {
  // `--set` texts, `path=value`.
  overrides?: string[];
  // Folder that relative paths in the file are resolved against (defaults to the file's own).
  baseDir?: string;
}

// Enough for any file a person wrote; a generated or hostile one is cut off here.
const MAX_REPORTED = 50;

export function checkSource(source: Source, options: CheckOptions = {}): CheckResult {
  const sourceMap: SourceMap = new Map();
  const fail = (diagnostics: Diagnostic[]): CheckResult => ({ ir: null, diagnostics: sortDiagnostics(diagnostics).slice(0, MAX_REPORTED), sourceMap, source });

  const lexed = lex(source);
  const parsed = lexed.balanced ? parse(source, lexed.tokens) : null;
  const syntax = [...lexed.diagnostics, ...(parsed?.diagnostics ?? [])];
  if (!parsed || syntax.length > 0) return fail(syntax);
  const ast = buildAst(source, parsed.cst);

  const overrides: Override[] = [];
  const overrideProblems: Diagnostic[] = [];
  for (const text of options.overrides ?? []) {
    const { override, diagnostics } = parseOverride(text);
    if (override) overrides.push(override);
    overrideProblems.push(...diagnostics);
  }
  if (overrideProblems.length > 0) return fail(overrideProblems);

  const ctx: Context = { source, diagnostics: [...ast.diagnostics], sourceMap, expected: new Map(), failed: new Set() };
  const raw = lowerExperiment(ctx, ast.entries, (entries) => applyOverrides(entries, overrides));
  if (!raw) return fail(ctx.diagnostics);
  fillDerivedDefaults(raw, sourceMap, ctx.failed);
  const validated = experimentSchema.safeParse(raw);
  if (!validated.success) ctx.diagnostics.push(...schemaDiagnostics(ctx, raw, validated.error.issues));
  if (!validated.success || ctx.diagnostics.length > 0) return fail(ctx.diagnostics);

  const semantic = semanticDiagnostics(ctx, validated.data, options.baseDir ?? dirname(resolve(source.name)));
  if (semantic.length > 0) return fail(semantic);
  return { ir: validated.data, diagnostics: [], sourceMap, source };
}

// Reads a file, turning every way it can be unreadable into a diagnostic: missing, a folder,
// not UTF-8, binary.
export function checkFile(path: string, options: CheckOptions = {}): CheckResult {
  const unreadable = (message: string, offset?: number, text = ''): CheckResult => {
    const source = makeSource(path, text);
    const span = offset === undefined ? null : { start: offset, end: offset + 1 };
    return { ir: null, diagnostics: [diagnostic(source, span, message)], sourceMap: new Map(), source };
  };
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) return unreadable('is a folder, not an experiment file');
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return unreadable(code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(error)})`);
  }
  const invalid = firstInvalidUtf8(bytes);
  if (invalid !== null) {
    // Point at the bad byte in the text decoded so far, which is valid up to there.
    const before = bytes.subarray(0, invalid).toString('utf8');
    const source = makeSource(path, before + bytes.subarray(invalid).toString('latin1').split('\n')[0]);
    const span = { start: before.length, end: before.length + 1 };
    const message = `invalid UTF-8 (byte 0x${bytes[invalid].toString(16).padStart(2, '0')})`;
    return { ir: null, diagnostics: [diagnostic(source, span, message, { expected: 'a UTF-8 text file' })], sourceMap: new Map(), source };
  }
  const text = bytes.toString('utf8');
  const nul = text.indexOf('\0');
  if (nul >= 0) return unreadable('looks like a binary file (it contains a NUL byte)', nul, text);
  return checkSource(makeSource(path, text), options);
}

function firstInvalidUtf8(bytes: Buffer): number | null {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const decodes = (slice: Buffer) => {
    try {
      strict.decode(slice);
      return true;
    } catch {
      return false;
    }
  };
  if (decodes(bytes)) return null;
  // Walk the sequences to find where the first bad one starts; the decoder itself rules on
  // overlong forms and surrogates within a sequence.
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    if (length > 1 && !decodes(bytes.subarray(i, i + length))) return i;
    i += length;
  }
  return bytes.length;
}

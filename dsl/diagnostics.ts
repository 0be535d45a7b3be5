import { lineText, positionOf, type Source, type Span } from './source.ts';

// One problem found in an experiment file. `span` is absent only when the file itself could not
// be read (there is no line to point at).
export interface Diagnostic {
  source: Source;
  span: Span | null;
  message: string;
  expected?: string;
  hint?: string;
}

export function diagnostic(source: Source, span: Span | null, message: string, extra: { expected?: string; hint?: string } = {}): Diagnostic {
  return { source: span?.origin ?? source, span, message, ...extra };
}

// `file:line:col: error: message`, the source line, a caret under the span, then what was
// expected and any hint. A span that runs past its line is underlined to the line's end.
export function renderDiagnostic(d: Diagnostic): string {
  if (!d.span) return [`${d.source.name}: error: ${d.message}`, ...notes(d)].join('\n');
  const { line, column } = positionOf(d.source, d.span.start);
  const shown = visiblePart(lineText(d.source, line).replace(/\t/g, ' '), column);
  const width = Math.max(1, Math.min(d.span.end - d.span.start, shown.text.length - shown.column + 1));
  const gutter = String(line);
  const pad = ' '.repeat(gutter.length);
  return [
    `${d.source.name}:${line}:${column}: error: ${d.message}`,
    `${gutter} | ${shown.text}`,
    `${pad} | ${' '.repeat(shown.column - 1)}${'^'.repeat(width)}`,
    ...notes(d),
  ].join('\n');
}

// A very long line (minified or hostile input) is cut to a window around the column.
const MAX_SHOWN = 100;
function visiblePart(text: string, column: number): { text: string; column: number } {
  if (text.length <= MAX_SHOWN) return { text, column };
  const from = Math.max(0, Math.min(column - 21, text.length - MAX_SHOWN));
  const head = from > 0 ? '…' : '';
  const tail = from + MAX_SHOWN < text.length ? '…' : '';
  return { text: head + text.slice(from, from + MAX_SHOWN) + tail, column: column - from + head.length };
}

function notes(d: Diagnostic): string[] {
  const lines: string[] = [];
  if (d.expected) lines.push(`  expected: ${d.expected}`);
  if (d.hint) lines.push(`  hint: ${d.hint}`);
  return lines;
}

export interface DiagnosticJson {
  file: string;
  line: number | null;
  column: number | null;
  endLine: number | null;
  endColumn: number | null;
  severity: 'error';
  message: string;
  expected: string | null;
  hint: string | null;
}

export function diagnosticToJson(d: Diagnostic): DiagnosticJson {
  const start = d.span ? positionOf(d.source, d.span.start) : null;
  const end = d.span ? positionOf(d.source, d.span.end) : null;
  return {
    file: d.source.name,
    line: start?.line ?? null,
    column: start?.column ?? null,
    endLine: end?.line ?? null,
    endColumn: end?.column ?? null,
    severity: 'error',
    message: d.message,
    expected: d.expected ?? null,
    hint: d.hint ?? null,
  };
}

// Diagnostics in file order, so a reader meets them top to bottom.
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => (a.span?.start ?? -1) - (b.span?.start ?? -1));
}

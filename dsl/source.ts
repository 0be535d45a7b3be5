// A source text with its name, and the mapping from character offsets to 1-based line:column.
export interface Source {
  name: string;
  text: string;
  lineStarts: number[];
}

// A half-open range [start, end) of character offsets. `origin` names the source when it is not
// the file being checked (a `--set` override on the command line).
export interface Span {
  start: number;
  end: number;
  origin?: Source;
}

export function makeSource(name: string, text: string): Source {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  return { name, text, lineStarts };
}

export function positionOf(source: Source, offset: number): { line: number; column: number } {
  let low = 0;
  let high = source.lineStarts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (source.lineStarts[mid] <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low + 1, column: offset - source.lineStarts[low] + 1 };
}

export function lineText(source: Source, line: number): string {
  const start = source.lineStarts[line - 1];
  const next = source.lineStarts[line];
  const end = next === undefined ? source.text.length : next - 1;
  return source.text.slice(start, end).replace(/\r$/, '');
}

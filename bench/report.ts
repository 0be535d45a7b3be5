// What every benchmark shares: its flags, and its figures printed as `name: value unit` lines or
// one JSON object with --json.
export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export function printFigures(figures: Figure[], args: string[]): void {
  if (args.includes('--json')) {
    console.log(JSON.stringify(Object.fromEntries(figures.map((f) => [f.name, { value: f.value, unit: f.unit }])), null, 2));
    return;
  }
  for (const f of figures) console.log(`${f.name}: ${Number(f.value.toPrecision(4))} ${f.unit}`);
}

/** printFigures's lines after `# fact: value` lines, or its JSON object with the facts under "facts" (as the PyTorch peers write them). */
export function printFiguresWithFacts(figures: Figure[], facts: Record<string, string>, args: string[]): void {
  if (args.includes('--json')) {
    const object = Object.fromEntries(figures.map((f) => [f.name, { value: f.value, unit: f.unit }]));
    console.log(JSON.stringify({ ...object, facts }, null, 2));
    return;
  }
  for (const [key, value] of Object.entries(facts)) console.log(`# ${key}: ${value}`);
  printFigures(figures, args);
}

/** The value after `--name` in args, or `fallback`. */
export function option(args: string[], name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
}

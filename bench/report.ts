// Figures printed by every benchmark: `name: value unit`, or one JSON object with --json.
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

// `npm run bench -- <name> [--json] [args...]` runs bench/<name>.ts, which prints `name: value unit`
// lines (or one JSON object with --json).
import { existsSync, readdirSync } from 'node:fs';

const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(new URL('.', import.meta.url))
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && file !== 'report.ts')
  .map((file) => file.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [--json]\nbenchmarks: ${available.join(', ')}`);
  process.exit(2);
}
const module = new URL(`./${name}.ts`, import.meta.url);
if (!existsSync(module)) throw new Error(`missing ${module.pathname}`);
const { main } = (await import(module.href)) as { main: (args: string[]) => Promise<void> };
await main(rest);

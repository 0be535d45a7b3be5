import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The code a worker thread starts with (for `new Worker(code, { eval: true })`): it registers
 * tsx, so that the thread can import TypeScript (user modules, and its own body when running
 * from source rather than the build), then imports `body`, a module named without extension
 * relative to `base` (an import.meta.url); the extension is the caller's own, .ts from source and
 * .js from the build. `execArgv: ['--import', 'tsx']` does not reach a worker's loader on Node 20.
 */
export function tsxWorkerCode(body: string, base: string): string {
  const bodyUrl = new URL(`${body}${extname(fileURLToPath(base))}`, base);
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(bodyUrl.href)}); })`;
}

import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/** Module `body`, named without extension relative to `base` (an import.meta.url), with base's extension: .ts from source, .js from the build. */
export function siblingModule(body: string, base: string): URL {
  return new URL(`${body}${extname(fileURLToPath(base))}`, base);
}

/**
 * The code a worker thread starts with (for `new Worker(code, { eval: true })`): it registers
 * tsx, so that the thread can import TypeScript (user modules, and its own body when running
 * from source rather than the build), then imports the sibling module `body` of `base`.
 * `execArgv: ['--import', 'tsx']` (a bare specifier) does not reach a worker's loader on Node 20.
 */
export function tsxWorkerCode(body: string, base: string): string {
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(siblingModule(body, base).href)}); })`;
}

/**
 * A piscina pool of `threads` threads whose tasks run the default export of the sibling module
 * `body` of `base`. piscina starts its threads from a file, so a pool running from source gets
 * tsx's loader by its resolved URL in execArgv (none from the build).
 */
export function tsxPiscina(body: string, base: string, threads: number): Piscina {
  const execArgv = extname(fileURLToPath(base)) === '.ts' ? ['--import', import.meta.resolve('tsx')] : [];
  return new Piscina({ filename: siblingModule(body, base).href, minThreads: threads, maxThreads: threads, execArgv });
}

import { parseArgs, type ParseArgsConfig } from 'node:util';

// Command-line parsing with node's own parser; a mistake becomes a usage message, not a throw.
export type Parsed = { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };

export function parseOptions(args: string[], options: ParseArgsConfig['options']): Parsed | { error: string } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

// `--set` may repeat; each is `path=value`.
export const SET_OPTION = { set: { type: 'string', multiple: true } } as const;

/** The one run directory a command takes (`rpt report`, `rpt status`), or the usage error to print. */
export function runDirectoryArgument(command: string, args: string[]): { runDir: string } | { error: string } {
  if (args.length === 1 && !args[0].startsWith('-')) return { runDir: args[0] };
  return { error: `rpt ${command}: ${args.length === 0 ? 'a run directory is needed' : args.length > 1 ? `unexpected argument "${args[1]}"` : `unknown option "${args[0]}"`}` };
}

import { checkFile } from '../../dsl/check.ts';
import { diagnosticToJson, renderDiagnostic } from '../../dsl/diagnostics.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command } from './io.ts';
import { parseOptions, SET_OPTION } from './options.ts';

const usage = `usage: rpt check <files...> [--json] [--ir] [--set path=value]...

Checks experiment files: syntax, schema (types, units, ranges) and the checks across the file.
Exit status 0 when every file is valid, 1 when any is not.
  --json              print {"valid": ..., "files": [{"file", "valid", "diagnostics"}]} on stdout
  --ir                print the validated IR of each file as JSON (defaults filled in)
  --set path=value    override an entry before checking, e.g. --set learner.lr=3e-4`;

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate experiment files and report every error',
  usage,
  run(args, io) {
    const parsed = parseOptions(args, { json: { type: 'boolean' }, ir: { type: 'boolean' }, ...SET_OPTION });
    if ('error' in parsed || parsed.positionals.length === 0) {
      io.err(`${'error' in parsed ? `rpt check: ${parsed.error}\n` : ''}${usage}`);
      return EXIT_USAGE;
    }
    const overrides = (parsed.values.set as string[] | undefined) ?? [];
    const results = parsed.positionals.map((file) => ({ file, ...checkFile(file, { overrides }) }));
    const valid = results.every((r) => r.ir !== null);
    if (parsed.values.json) {
      const files = results.map((r) => ({ file: r.file, valid: r.ir !== null, diagnostics: r.diagnostics.map(diagnosticToJson), ...(parsed.values.ir ? { ir: r.ir } : {}) }));
      io.out(JSON.stringify({ valid, files }, null, 2));
    } else {
      for (const r of results) {
        for (const d of r.diagnostics) io.err(`${renderDiagnostic(d)}\n`);
        if (r.ir && parsed.values.ir) io.out(JSON.stringify(r.ir, null, 2));
        else if (r.ir) io.out(`${r.file}: ok`);
      }
      const errors = results.reduce((n, r) => n + r.diagnostics.length, 0);
      if (!valid) io.err(`${errors} error${errors === 1 ? '' : 's'} in ${results.filter((r) => !r.ir).length} of ${results.length} file${results.length === 1 ? '' : 's'}`);
    }
    return valid ? EXIT_OK : EXIT_INVALID;
  },
};

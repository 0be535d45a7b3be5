import { checkFile } from '../../dsl/check.ts';
import { renderDiagnostic } from '../../dsl/diagnostics.ts';
import { compileGraph } from '../../dsl/graph.ts';
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from '../../dsl/render-graph.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command } from './io.ts';
import { parseOptions, SET_OPTION } from './options.ts';

const usage = `usage: rpt graph <file> [--format ${GRAPH_FORMATS.join('|')}] [--set path=value]...

Compiles an experiment into its graph plan (actors, channels, stage order) and prints it.`;

export const graphCommand: Command = {
  name: 'graph',
  summary: 'print the actor graph an experiment compiles to',
  usage,
  run(args, io) {
    const parsed = parseOptions(args, { format: { type: 'string', default: 'text' }, ...SET_OPTION });
    if ('error' in parsed || parsed.positionals.length !== 1) {
      io.err(`${'error' in parsed ? `rpt graph: ${parsed.error}\n` : ''}${usage}`);
      return EXIT_USAGE;
    }
    const format = parsed.values.format as string;
    if (!(GRAPH_FORMATS as readonly string[]).includes(format)) {
      io.err(`rpt graph: unknown format \`${format}\` (expected ${GRAPH_FORMATS.join(', ')})`);
      return EXIT_USAGE;
    }
    const result = checkFile(parsed.positionals[0], { overrides: (parsed.values.set as string[] | undefined) ?? [] });
    if (!result.ir) {
      for (const d of result.diagnostics) io.err(`${renderDiagnostic(d)}\n`);
      return EXIT_INVALID;
    }
    io.out(renderGraph(compileGraph(result.ir), format as GraphFormat));
    return EXIT_OK;
  },
};

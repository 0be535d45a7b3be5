import { writeReport } from '../report/report.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command } from './io.ts';
import { runDirectoryArgument } from './options.ts';

// `rpt report runs/<name>`: rebuilds report.md and its SVG plots from the run's metrics.jsonl.

const usage = `usage: rpt report <run directory>

Writes report.md and its plots (reward.svg, accuracy-<bucket>.svg, scaling-<bucket>.svg) into
the run directory, from the metrics.jsonl that \`rpt stage\` wrote there.`;

export const reportCommand: Command = {
  name: 'report',
  summary: 'regenerate a run\'s report.md and SVG plots from its metrics',
  usage,
  async run(args, io) {
    const argument = runDirectoryArgument('report', args);
    if ('error' in argument) {
      io.err(`${argument.error}\n${usage}`);
      return EXIT_USAGE;
    }
    try {
      const files = await writeReport(argument.runDir);
      io.out(`${files.report}\n${files.plots.join('\n')}`);
      return EXIT_OK;
    } catch (error) {
      io.err(`rpt report: ${(error as Error).message}`);
      return EXIT_INVALID;
    }
  },
};

import { relative } from 'node:path';
import { stat } from 'node:fs/promises';
import { summariseRun, type MetricsLine } from '../../runtime/run-state.ts';
import { formatStage } from './experiment.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command } from './io.ts';
import { runDirectoryArgument } from './options.ts';

// `rpt status runs/<name>`: what a run directory holds, read from its files alone (run.json,
// stages/*/done.json, checkpoints, metrics.jsonl), so it works while a run goes on, after one
// ended, and after one was killed.

const usage = `usage: rpt status <run directory>

Summarises a run: whether it is running, finished or interrupted; each stage's key results or,
for an unfinished one, its checkpoints; the step it reached; the last RPT metrics; and the
config versions the RPT stage ran under (live edits, docs/runtime.md).`;

export const statusCommand: Command = {
  name: 'status',
  summary: 'summarise a run directory: stages done, current step, last metrics, config versions',
  usage,
  async run(args, io) {
    const argument = runDirectoryArgument('status', args);
    if ('error' in argument) {
      io.err(`${argument.error}\n${usage}`);
      return EXIT_USAGE;
    }
    const { runDir } = argument;
    const isDir = await stat(runDir).then((s) => s.isDirectory(), () => false);
    if (!isDir) {
      io.err(`rpt status: ${runDir}: no such run directory`);
      return EXIT_INVALID;
    }
    try {
      io.out(await formatStatus(runDir));
      return EXIT_OK;
    } catch (error) {
      io.err(`rpt status: ${(error as Error).message}`);
      return EXIT_INVALID;
    }
  },
};

async function formatStatus(runDir: string): Promise<string> {
  const summary = await summariseRun(runDir);
  const lines = [`run: ${runDir}${summary.record ? ` (${summary.record.file})` : ''}`, `state: ${summary.state}: ${summary.why}`];
  if (summary.current) lines.push(`last step recorded: ${summary.current.stage} step ${summary.current.step}`);
  lines.push('', 'stages:');
  if (summary.stages.length === 0) lines.push('  none yet');
  for (const stage of summary.stages) {
    const checkpoints = stage.checkpoints.length > 0 ? `checkpoints at steps ${stage.checkpoints.join(', ')}` : 'no checkpoint';
    if (stage.done) lines.push(...formatStage(stage.done).flatMap((line) => line.split('\n')).map((line) => `  ${line}`));
    else if (stage.name === 'entropy') lines.push(`  entropy scores: ${stage.folder}`);
    else lines.push(`  ${stage.name}: unfinished (${stage.folder}), ${checkpoints}`);
    if (stage.done && stage.checkpoints.length > 1) lines.push(`    ${checkpoints}`);
  }
  if (summary.report) lines.push(`  report: ${summary.report}`);
  if (summary.lastRpt) lines.push('', `last RPT step: ${formatRptLine(summary.lastRpt)}`);
  if (summary.configVersions.length > 0) {
    lines.push('', 'config versions of the RPT stage:');
    for (const c of summary.configVersions) lines.push(`  ${c.version} from step ${c.step}: ${formatValues(c.values)}`);
  }
  if (summary.brokenMetricsLines.length > 0) lines.push('', `metrics.jsonl: lines ${summary.brokenMetricsLines.join(', ')} are not JSON and were skipped`);
  if (summary.state === 'interrupted') lines.push('', `resume with: rpt run ${summary.record ? relativeOrAbsolute(summary.record.file) : '<file.rpt>'}`);
  return lines.join('\n');
}

function formatRptLine(line: MetricsLine): string {
  const number = (value: unknown, digits: number) => (typeof value === 'number' ? value.toFixed(digits) : 'n/a');
  return `step ${line.step}, mean reward ${number(line.mean_reward, 3)}, loss ${number(line.loss, 4)}, config version ${line.config_version}, weight version ${line.weight_version}, ${line.time}`;
}

function formatValues(values: MetricsLine): string {
  return Object.entries(values).map(([key, value]) => `${key} ${JSON.stringify(value)}`).join(', ');
}

function relativeOrAbsolute(path: string): string {
  const short = relative(process.cwd(), path);
  return short.startsWith('..') ? path : short;
}

#!/usr/bin/env node
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCommand } from './check.ts';
import { exportCommand } from './export.ts';
import { graphCommand } from './graph.ts';
import { reportCommand } from './report.ts';
import { runCommand } from './run.ts';
import { sampleCommand } from './sample.ts';
import { stageCommand } from './stages.ts';
import { statusCommand } from './status.ts';
import { EXIT_OK, EXIT_USAGE, processIo, type Command, type Io } from './io.ts';

// `rpt <command> ...`. Each command is one file; a new one is added to this list.
const commands: Command[] = [runCommand, statusCommand, checkCommand, graphCommand, stageCommand, reportCommand, sampleCommand, exportCommand];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'rpt: Reinforcement Pre-Training experiments',
    '',
    'usage: rpt <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'options:',
    '  --help, -h     this text (after a command: that command\'s usage)',
    '  --version, -v  the version',
  ].join('\n');
}

// The package's version, from the package.json above this file (source or built).
function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(help());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    io.out(version());
    return EXIT_OK;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`rpt: unknown command \`${name}\`\n\n${help()}`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return EXIT_OK;
  }
  return command.run(rest, io);
}

// Run when executed (directly or through the npm bin link), not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}

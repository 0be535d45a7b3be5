// Where a command writes. The real CLI writes to the process streams; tests capture the text.
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

// Exit statuses shared by every command.
export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

// A command of the `rpt` CLI; each lives in its own file and is listed in main.ts. A command
// that runs work (training, evaluation) returns a promise of its exit status.
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], io: Io): number | Promise<number>;
}

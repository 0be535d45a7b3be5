/** A checkpoint file or directory that cannot be read or written; the message starts with its path. */
export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

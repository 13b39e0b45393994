/** Exit codes of the maro CLI. */
export const EXIT = {
  OK: 0,
  /** Something failed (the master refused, a daemon did not start, the job failed). */
  FAILED: 1,
  /** Bad usage or a bad file: nothing was started. */
  USAGE: 2,
  /** `job start --wait`: the job was killed. */
  KILLED: 3,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
  ) {
    super(message);
    this.name = "CliError";
  }
}

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

/** What to do about a master error code, added to the master's own message. */
const MASTER_ERROR_HINTS: Readonly<Record<string, string>> = {
  NODE_NOT_FOUND: "see `maro grass node list <cluster>` for the cluster's nodes",
  SCHEDULE_NOT_FOUND: "a schedule is named by the `name` field of its schedule file",
  JOB_NOT_FOUND: "see `maro grass job list <cluster>` for the cluster's jobs",
};

/**
 * The CLI's message for an error the master returned: its own message, a hint
 * for codes that have one (unless the message names a command already), and the code. UNIMPLEMENTED (also gRPC's own, from
 * a master that predates the method) says to upgrade the master.
 */
export function masterErrorMessage(code: string | undefined, details: string, address: string): string {
  if (code === undefined) return details;
  if (code === "UNIMPLEMENTED") {
    const what = details ? ` (${details})` : "";
    return `the master at ${address} does not support this command${what}; upgrade the cluster's master to this CLI's version [UNIMPLEMENTED]`;
  }
  // The master may already say which command to run; one hint is enough.
  const hint = details.includes("`maro ") ? undefined : MASTER_ERROR_HINTS[code];
  return hint ? `${details}; ${hint} [${code}]` : `${details} [${code}]`;
}

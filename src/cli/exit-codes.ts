// The client's exit codes (one table, docs/cli.md repeats it) and the errors that carry them.
import { constants } from 'node:os';

/**
 * Exit codes of `cc-executor run|status|control`. Besides these, `run` and `status --follow` exit with
 * the command's own code, or 128+n when a signal n ended it. Chosen after `docker run` (125/126/127)
 * and `ssh` (255), so scripts that know those tools read ours the same way.
 */
export const EXIT = {
  OK: 0,
  /** Our own Ctrl-C before the command started, or when we gave up waiting (like a shell's 128+SIGINT). */
  INTERRUPTED: 130,
  /** Usage error, or the server refused the request (unknown or ambiguous id, invalid cwd, limit, bad state). */
  REFUSED: 125,
  /** The command could not be started (not executable, permission denied...). */
  CANNOT_EXECUTE: 126,
  /** The command was not found (argv mode; in shell mode the shell itself exits 127). */
  COMMAND_NOT_FOUND: 127,
  /** The server could not be reached, refused the connection (HTTP 401/403/404/503), or the connection was lost. */
  UNREACHABLE: 255,
} as const;

/** An error that ends the client with a given exit code; the message is printed as is. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
    /** Stable machine-readable code for --json output. */
    readonly code: string = 'CLIENT_ERROR',
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, EXIT.REFUSED, 'USAGE');
  }
}

/** Cannot connect, or the connection dropped. `retryable` is false when the server said no (auth, path). */
export class ConnectionError extends CliError {
  override name = 'ConnectionError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message, EXIT.UNREACHABLE, 'UNREACHABLE');
  }
}

/** A tool answered with an error result; `code` is the server's ERROR_CODES key. */
export class ToolError extends CliError {
  override name = 'ToolError';
  constructor(
    message: string,
    code: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message, ToolError.exitCodeFor(code, details), code);
  }

  private static exitCodeFor(code: string, details: Record<string, unknown> | undefined): number {
    if (code !== 'SPAWN_FAILED') return EXIT.REFUSED;
    return details?.errno === 'ENOENT' ? EXIT.COMMAND_NOT_FOUND : EXIT.CANNOT_EXECUTE;
  }
}

/** The exit status a shell would report: the code, or 128+n for signal n. */
export function exitStatusOf(outcome: { exitCode: number | null; signal: string | null }): number {
  if (outcome.signal) {
    const n = (constants.signals as Record<string, number | undefined>)[outcome.signal];
    return n === undefined ? EXIT.UNREACHABLE : 128 + n;
  }
  return outcome.exitCode ?? EXIT.UNREACHABLE;
}

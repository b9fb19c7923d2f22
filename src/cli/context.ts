// What a client subcommand gets from the process: where to write, the environment, the working directory, stdin.
import type { EndingSignal } from './die-by-signal.js';
import type { Terminal } from './terminal.js';

export interface CliContext {
  term: Terminal;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdin: NodeJS.ReadableStream;
  /** Set by a command that was interrupted by a signal: main() ends the process by it after cleaning up. */
  endedBy?: EndingSignal;
}

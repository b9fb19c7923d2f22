// What a client subcommand gets from the process: where to write, the environment, the working directory, stdin.
import type { Terminal } from './terminal.js';

export interface CliContext {
  term: Terminal;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdin: NodeJS.ReadableStream;
}

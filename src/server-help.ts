// `cc-executor --help`: the commands and the server's options, printed without loading the server itself.
import { COMMANDS_USAGE } from './cli/commands.js';
import { ConfigError, loadConfig } from './config.js';

/**
 * Print what `serve` prints for these arguments when they ask for help (the options table needs only the
 * config schema, not the 170 modules and 30 packages of the server) and exit 0; a bad argument gets the same
 * one-line error and exit 2 as `serve`. Returns false, printing nothing, when the arguments are not a help request.
 */
export function printServerHelp(argv: string[]): boolean {
  try {
    const result = loadConfig({ argv, env: process.env });
    if (result.kind !== 'help') return false;
    process.stdout.write(`${COMMANDS_USAGE}\n${result.text}\n`);
    process.exit(0);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`cc-executor: ${e.message}\n`);
    process.exit(2);
  }
}

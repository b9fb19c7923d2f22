#!/usr/bin/env node
// The bin: dispatches to the client (run/status/control/help) or the server, loading only what the subcommand needs.
// Static imports here are kept to two tiny modules: the server graph and the MCP client load on demand.
import { isClientCommand } from './cli/commands.js';
import { VERSION } from './version.js';

function fail(code: number): (err: unknown) => never {
  return (err) => {
    process.stderr.write(`cc-executor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(code);
  };
}

const [subcommand, ...rest] = process.argv.slice(2);
const serverArgs = subcommand === 'serve' ? rest : process.argv.slice(2);
if (isClientCommand(subcommand)) {
  import('./cli/index.js')
    .then((cli) => cli.main(subcommand, rest))
    .catch(fail(125));
} else if (serverArgs.length === 1 && serverArgs[0] === '--version') {
  // The common case answered without loading the config schema (zod) or the server.
  process.stdout.write(`${VERSION}\n`);
} else {
  import('./serve.js').then((server) => server.serve(serverArgs)).catch(fail(1));
}

#!/usr/bin/env -S node --max-semi-space-size=8
// The bin: dispatches to the client (run/status/control/help) or the server, loading only what the subcommand needs.
// Static imports here are kept to two tiny modules: the server graph and the MCP client load on demand (help too).
// The shebang passes --max-semi-space-size=8: V8 (Node 24 most of all) grows the young generation up to
// 128 MiB while a slow client holds output strings, and v8.setFlagsFromString() cannot shrink it at run time.
import { clientInvocation } from './cli/commands.js';
import { VERSION } from './version.js';

function fail(code: number): (err: unknown) => never {
  return (err) => {
    process.stderr.write(`cc-executor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(code);
  };
}

const [subcommand, ...rest] = process.argv.slice(2);
const serverArgs = subcommand === 'serve' ? rest : process.argv.slice(2);
// Client options may precede the subcommand (`cc-executor --cwd X run ...`).
const client = clientInvocation(process.argv.slice(2));
if (client) {
  import('./cli/index.js').then((cli) => cli.main(client.command, client.args)).catch(fail(125));
} else if (serverArgs.length === 1 && serverArgs[0] === '--version') {
  // The common case answered without loading the config schema (zod) or the server.
  process.stdout.write(`${VERSION}\n`);
} else if (serverArgs.includes('--help')) {
  // Help needs the config schema (its options table), not the server graph: 173 modules and 30 packages took
  // --help to 7.7x `node -e 0` (1.9 s at load 7).
  import('./server-help.js')
    .then(async (help) => {
      if (!help.printServerHelp(serverArgs)) await import('./serve.js').then((server) => server.serve(serverArgs));
    })
    .catch(fail(1));
} else {
  import('./serve.js').then((server) => server.serve(serverArgs)).catch(fail(1));
}

// `cc-executor mcp-config`: prints an MCP client entry with absolute paths, so it works from any project directory.
import { fileURLToPath } from 'node:url';
import { parseOptions } from './args.js';
import { DEFAULT_URL } from './connect.js';
import type { CliContext } from './context.js';
import { EXIT, UsageError } from './exit-codes.js';

const MCP_CONFIG_OPTIONS = {
  ws: { type: 'boolean' },
  url: { type: 'string' },
  all: { type: 'boolean' },
  name: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const MCP_CONFIG_HELP = `Usage: cc-executor mcp-config [--ws [--url URL]] [--all [--name NAME]] [-- SERVER_FLAGS...]

Print the entry an MCP client (Claude Code's .mcp.json, claude mcp add-json) needs to start or reach this
server, with absolute paths, so it works whatever directory the client starts in.
  (default)      stdio: {"type":"stdio","command":"<node>","args":["<this checkout>/dist/src/main.js","--stdio"]}
  --ws           WebSocket: {"type":"ws","url":...,"headers":{"Authorization":"Bearer \${CC_EXECUTOR_TOKEN:-}"},...}
  --url URL      The WebSocket URL for --ws [CC_EXECUTOR_URL, default ${DEFAULT_URL}]
  --all          Both, as a whole .mcp.json object {"mcpServers":{NAME:..., NAME-ws:...}}
  --name NAME    Server name for --all [cc-executor]
  -- FLAGS...    Server flags appended to the stdio entry (--default-timeout-ms 5000, --data-dir DIR...)

Claude Code, every project:  claude mcp add-json --scope user cc-executor "$(cc-executor mcp-config)"`;

/** The stdio entry: this Node and this build's main.js, both absolute. */
export function stdioEntry(serverFlags: string[] = []): Record<string, unknown> {
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  return { type: 'stdio', command: process.execPath, args: [main, '--stdio', ...serverFlags] };
}

/** The WebSocket entry Claude Code reads: the token comes from the client's environment, and one hour of timeout. */
export function wsEntry(url: string): Record<string, unknown> {
  return { type: 'ws', url, headers: { Authorization: 'Bearer ${CC_EXECUTOR_TOKEN:-}' }, timeout: 3_600_000 };
}

export function runMcpConfig(args: string[], ctx: CliContext): number {
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  const serverFlags = end === -1 ? [] : args.slice(end + 1);
  const { values, positionals } = parseOptions(own, MCP_CONFIG_OPTIONS, false);
  if (values.help === true) {
    ctx.term.print(MCP_CONFIG_HELP);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.ws === true && values.all === true) throw new UsageError('--ws and --all exclude each other');
  if (values.ws === true && serverFlags.length > 0)
    throw new UsageError('server flags go to the stdio entry; start the WebSocket server with them');
  const url = (values.url as string | undefined) ?? ctx.env.CC_EXECUTOR_URL ?? DEFAULT_URL;
  let out: unknown;
  if (values.all === true) {
    const name = (values.name as string | undefined) ?? 'cc-executor';
    out = { mcpServers: { [name]: stdioEntry(serverFlags), [`${name}-ws`]: wsEntry(url) } };
  } else {
    out = values.ws === true ? wsEntry(url) : stdioEntry(serverFlags);
  }
  ctx.term.print(JSON.stringify(out, null, values.all === true ? 2 : undefined));
  return EXIT.OK;
}

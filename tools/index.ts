// Registers the tools on one McpServer.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerControlTool } from './control.js';
import type { ToolDeps } from './deps.js';
import { registerExecuteTool } from './execute.js';
import { registerStatusTool } from './status.js';
import { registerTerminalApp, terminalAppToolMeta } from './terminal-app.js';
import { registerWriteStdinTool } from './write-stdin.js';

export type { ToolDeps } from './deps.js';

export function registerTools(server: McpServer, deps: ToolDeps): void {
  // Hosts that render MCP Apps show execute results in the terminal view (when it was built).
  const app = registerTerminalApp(server);
  registerExecuteTool(server, deps, app ? { _meta: terminalAppToolMeta() } : {});
  registerControlTool(server, deps);
  registerStatusTool(server, deps);
  registerWriteStdinTool(server, deps);
}

// createServer: one McpServer per session (the SDK allows one transport per server), sharing the engine.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerTools, type ToolDeps } from '../tools/index.js';
import { registerExecutionResources } from '../tools/resources.js';
import { SERVICE_NAME, VERSION } from './version.js';

export type ServerDeps = ToolDeps;

export function createServer(deps: ServerDeps): McpServer {
  const server = new McpServer(
    { name: SERVICE_NAME, version: VERSION },
    {
      capabilities: { tools: {}, resources: { subscribe: true, listChanged: true } },
      instructions:
        'cc-executor runs shell commands. `execute` streams output as progress and returns exit code and output; ' +
        'use background/waitMs for long jobs, `status` with sinceSeq to follow output, `control` to pause/resume/cancel.',
    },
  );
  registerTools(server, deps);
  const cleanup = registerExecutionResources(server, deps);
  const previous = server.server.onclose;
  server.server.onclose = () => {
    cleanup();
    previous?.();
  };
  return server;
}

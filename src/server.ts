// createServer: one McpServer per session (the SDK allows one transport per server), sharing the engine.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerTools, type ToolDeps } from '../tools/index.js';
import { registerExecutionResources } from '../tools/resources.js';
import { SERVICE_NAME, VERSION } from './version.js';

export type ServerDeps = ToolDeps;

/** One session's MCP server and the names of the tools it has (the SDK has no public way to list them). */
export interface SessionServer {
  readonly mcp: McpServer;
  readonly toolNames: ReadonlySet<string>;
}

export function createServer(deps: ServerDeps): SessionServer {
  const server = new McpServer(
    { name: SERVICE_NAME, version: VERSION },
    {
      capabilities: { tools: {}, resources: { subscribe: true, listChanged: true } },
      instructions:
        'cc-executor runs shell commands. `execute` streams output as progress and returns exit code and output; ' +
        'use background/waitMs for long jobs, `status` with sinceSeq to follow output, `control` to pause/resume/cancel.',
    },
  );
  const toolNames = new Set<string>();
  const register = server.registerTool.bind(server);
  server.registerTool = ((name: string, ...rest: unknown[]) => {
    toolNames.add(name);
    return (register as (...args: unknown[]) => unknown)(name, ...rest);
  }) as typeof server.registerTool;
  registerTools(server, deps);
  const cleanup = registerExecutionResources(server, deps);
  const previous = server.server.onclose;
  server.server.onclose = () => {
    cleanup();
    previous?.();
  };
  return { mcp: server, toolNames };
}

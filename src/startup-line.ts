// The one log line that says a server is up: every endpoint it serves, where its data goes, how it runs commands.
import type { Config } from './config.js';
import { VERSION } from './version.js';

/** What the network front listens on (NetworkServer's URLs). */
export interface ListeningUrls {
  /** ws://host:port<wsPath> */
  url: string;
  /** http://host:port<mcpPath> */
  httpUrl: string;
  /** http://host:port */
  baseUrl: string;
}

/** How this server runs commands: the containment in effect (not the configured wish) and the sandbox mode. */
export interface ExecutionModes {
  containment: string;
  sandbox: string;
}

export interface StartupLine {
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * The start line: `listening on <ws url>` (scripts and tests find the URL there) or `serving MCP on stdio`, with the
 * endpoints, the data directory and the execution modes as fields.
 */
export function describeStartup(config: Config, modes: ExecutionModes, net?: ListeningUrls): StartupLine {
  const common = { version: VERSION, dataDir: config.dataDir, containment: modes.containment, sandbox: modes.sandbox };
  const where = `data in ${config.dataDir}; containment ${modes.containment}, sandbox ${modes.sandbox}`;
  if (!net) return { fields: common, msg: `serving MCP on stdio (${where})` };
  const endpoints = {
    websocket: net.url,
    mcp: net.httpUrl,
    health: `${net.baseUrl}/health`,
    healthz: `${net.baseUrl}/healthz`,
    metrics: `${net.baseUrl}/metrics`,
    ...(config.console ? { console: `${net.baseUrl}/console` } : {}),
  };
  return {
    fields: { ...common, url: net.url, endpoints, auth: config.authToken !== undefined ? 'token' : 'none' },
    msg: `listening on ${net.url} (${where})`,
  };
}

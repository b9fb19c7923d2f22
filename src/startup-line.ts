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

export interface StartupLine {
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * The start line: `listening on <ws url>` (scripts and tests find the URL there) or `serving MCP on stdio`, with the
 * endpoints, the data directory and the execution modes as fields.
 */
export function describeStartup(config: Config, net?: ListeningUrls): StartupLine {
  const common = { version: VERSION, dataDir: config.dataDir };
  if (!net) return { fields: common, msg: `serving MCP on stdio (data in ${config.dataDir})` };
  const endpoints = {
    websocket: net.url,
    mcp: net.httpUrl,
    health: `${net.baseUrl}/health`,
    healthz: `${net.baseUrl}/healthz`,
    metrics: `${net.baseUrl}/metrics`,
  };
  return {
    fields: { ...common, url: net.url, endpoints, auth: config.authToken !== undefined ? 'token' : 'none' },
    msg: `listening on ${net.url} (data in ${config.dataDir})`,
  };
}

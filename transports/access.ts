// The one place where every HTTP endpoint's access is decided (the WebSocket upgrade, /mcp, /health, /metrics).
import type { IncomingMessage } from 'node:http';
import type { Config } from '../src/config.js';

/** What a request wants to reach: the MCP endpoints, the health probes, or the metrics. */
export type Endpoint = 'mcp' | 'health' | 'metrics';

export interface AccessDenial {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * Returns a denial to send, or undefined to let the request through. There is no authentication yet,
 * so nothing is denied today. The token check goes here, for every endpoint, except `health` when
 * `publicHealth` is set (probes from a load balancer or orchestrator carry no token).
 */
export function checkAccess(config: Config, _req: IncomingMessage, endpoint: Endpoint): AccessDenial | undefined {
  if (endpoint === 'health' && config.publicHealth) return undefined;
  return undefined;
}

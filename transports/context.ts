// The shared objects a transport needs to turn a connection into a session with its own McpServer.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Engine } from '../src/engine.js';
import { createServer } from '../src/server.js';
import type { Session } from '../src/sessions/session-registry.js';

export type { Engine } from '../src/engine.js';

export function createSessionServer(engine: Engine, session: Session): McpServer {
  return createServer({ ...engine, session });
}

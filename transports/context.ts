// The shared objects a transport needs to turn a connection into a session with its own McpServer.
import type { Engine } from '../src/engine.js';
import { createServer, type SessionServer } from '../src/server.js';
import type { Session } from '../src/sessions/session-registry.js';

export type { Engine } from '../src/engine.js';

export function createSessionServer(engine: Engine, session: Session): SessionServer {
  return createServer({ ...engine, session });
}

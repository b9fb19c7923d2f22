// The shared objects a transport needs to turn a connection into a session with its own McpServer.
import type { Config } from '../src/config.js';
import type { Logger } from '../src/logger.js';
import type { Metrics } from '../src/metrics.js';
import type { ExecutionRegistry } from '../src/processes/execution-registry.js';
import type { RecordStore } from '../src/records/record-store.js';
import { createServer, type SessionServer } from '../src/server.js';
import type { Session, SessionRegistry } from '../src/sessions/session-registry.js';
import type { LoadMonitor } from '../src/system/load-monitor.js';

export interface Engine {
  config: Config;
  logger: Logger;
  executions: ExecutionRegistry;
  sessions: SessionRegistry;
  load: LoadMonitor;
  records: RecordStore;
  metrics: Metrics;
  serverStartedAt: number;
}

export function createSessionServer(engine: Engine, session: Session): SessionServer {
  return createServer({ ...engine, session });
}

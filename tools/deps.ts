// What every tool receives: shared engine objects plus the calling session.
import type { Config } from '../src/config.js';
import type { Logger } from '../src/logger.js';
import type { ExecutionRegistry } from '../src/processes/execution-registry.js';
import type { RecordStore } from '../src/records/record-store.js';
import type { Session, SessionRegistry } from '../src/sessions/session-registry.js';
import type { LoadMonitor } from '../src/system/load-monitor.js';

export interface ToolDeps {
  config: Config;
  logger: Logger;
  executions: ExecutionRegistry;
  sessions: SessionRegistry;
  load: LoadMonitor;
  records: RecordStore;
  session: Session;
  serverStartedAt: number;
}

// A RecordStore on a data dir as the server builds one (local backend, journal), for tests of the store alone.
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import { localServerIdentity } from '../../src/backends/local/server-identity.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { ExecutionJournal } from '../../src/records/execution-journal.js';
import { RecordStore } from '../../src/records/record-store.js';

/** A store keeping `maxRecords` (default 1,000), with no retention grace, logging to `logger` (default silent). */
export function testRecordStore(dataDir: string, opts: { maxRecords?: number; logger?: Logger } = {}): RecordStore {
  return new RecordStore(
    dataDir,
    {
      maxRecords: opts.maxRecords ?? 1000,
      maxLogBytes: 1 << 30,
      graceMs: 300,
      retentionProtectMs: 0,
      backend: new LocalBackend({ shell: '/bin/sh' }),
      identity: localServerIdentity(),
      journal: new ExecutionJournal(dataDir),
    },
    opts.logger ?? createLogger('silent'),
  );
}

// The record format: what an execution's JSON record holds, its summary, its file name, and secret redaction.
import type { HandleDescription } from '../backends/backend.js';
import type { ProcessIdentity } from '../backends/local/server-identity.js';
import type { ExecutionSnapshot } from '../processes/execution.js';
import type { OutputPaths } from './output-files.js';

export type RecordState = ExecutionSnapshot['state'] | 'lost';

export interface ExecutionRecord extends Omit<ExecutionSnapshot, 'state'> {
  version: 1;
  state: RecordState;
  lostReason?: string;
  transport: string;
  /** Variables the request set; values of secret-looking names are "[redacted]". */
  env: Record<string, string>;
  pgidStartTicks: number | null;
  /** What the backend needs to find (and stop) what the execution started; absent in records of older versions. */
  handle?: HandleDescription;
  server: ProcessIdentity & { version: string };
  loadAtStart: unknown;
  stdout: string;
  stderr: string;
  truncated: boolean;
  logs: OutputPaths;
  /** What could not be saved (disk full, unwritable directory...). */
  saveErrors: string[];
  [extra: string]: unknown;
}

export interface RecordSummary {
  id: string;
  command: string;
  state: RecordState;
  exitCode: number | null;
  signal: string | null;
  terminationReason: string | null;
  durationMs: number;
  startedAt: string;
}

/** Extra fields an execution's record carries that the snapshot does not (transport, request env, load). */
export interface RecordMeta {
  transport: string;
  env: Record<string, string>;
  loadAtStart: unknown;
}

const SECRET_NAME = /TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL/i;
/** Records are `<base>.json`; their output files share the base. */
export const RECORD_SUFFIX = '.json';

export function redactEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, SECRET_NAME.test(k) ? '[redacted]' : v]));
}

/** `20261124T060231.123Z`: sortable, and safe in every file system. */
export function compactTimestamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

export function summarise(r: ExecutionRecord): RecordSummary {
  return {
    id: r.id,
    command: r.command ?? r.argv?.join(' ') ?? '',
    state: r.state,
    exitCode: r.exitCode,
    signal: r.signal,
    terminationReason: r.terminationReason,
    durationMs: r.durationMs,
    startedAt: r.startedAt,
  };
}

/** The backend's description of a record's processes; records of older versions only carry the local pid/pgid/start time. */
export function handleOf(record: ExecutionRecord): HandleDescription {
  return record.handle ?? { backend: 'local', pid: record.pid, pgid: record.pgid, startTicks: record.pgidStartTicks };
}

// The shapes the page reads from the `status` tool (fields it does not use are left out).

/** One row of `status` without id: live executions carry more fields than history records. */
export interface ExecutionEntry {
  id: string;
  command: string;
  /** running, paused, exited or lost (more may come: shown as given). */
  state: string;
  exitCode: number | null;
  signal: string | null;
  terminationReason: string | null;
  durationMs: number;
  startedAt: string;
  background?: boolean;
  sessionId?: string;
  transport?: string;
  cwd?: string;
  pid?: number;
  pgid?: number;
  lastSeq?: number;
  stdoutBytes?: number;
  stderrBytes?: number;
  /** Interactive executions: a process is blocked reading stdin (where the server can tell). */
  waitingForInput?: boolean | null;
  /** stdin is open for write_stdin (interactive or PTY executions). */
  interactive?: boolean;
  /** The terminal size of a PTY execution, else null. */
  pty?: { cols: number; rows: number } | null;
  usage?: { cpuMs: number | null; memoryPeakBytes: number | null; memoryBytes?: number | null } | null;
  containment?: unknown;
  sandbox?: unknown;
  [extra: string]: unknown;
}

export interface SessionInfo {
  id: string;
  transport: string;
  createdAt: string;
  idleMs: number;
  running: number;
}

export interface ServerFacts {
  version: string;
  uptimeSeconds: number;
  sessions: number;
  executions: { running: number; paused: number; background: number; total: number };
  load: { cpu: number | null; gpu: number | null; sampledAt: string | null; multiplier: number };
  session: { id: string; transport: string };
  sessionList?: SessionInfo[];
  hooks: { count: number } | null;
  [extra: string]: unknown;
}

export interface StatusList {
  executions: ExecutionEntry[];
  server: ServerFacts;
}

export interface OutputChunk {
  seq: number;
  stream: 'stdout' | 'stderr';
  data: string;
}

export interface OutputWindow {
  chunks: OutputChunk[];
  nextSeq: number;
  firstSeq: number;
  evicted: boolean;
  more: boolean;
  earlier?: boolean;
}

/** `status` with id: the execution's snapshot (or record) plus output. */
export interface ExecutionStatus extends ExecutionEntry {
  output: OutputWindow;
  groupAlive: boolean;
}

// The execution-backend seam: where a command runs (local process group or cgroup, a sandbox, later a pod) is
// behind these two interfaces. Nothing above a backend imports execa, reads /proc or signals a pgid.
import type { Readable, Writable } from 'node:stream';

/** Terminal size of a PTY execution. */
export interface PtySize {
  cols: number;
  rows: number;
}

/** Largest terminal a request may ask for: a bigger one is bad input, not a huge allocation in every full-screen program. */
export const MAX_PTY_COLS = 1_000;
export const MAX_PTY_ROWS = 500;

/** Resource limits; a backend refuses (ServerError INVALID_INPUT) what it cannot enforce. */
export interface ResourceLimits {
  memoryMaxBytes?: number;
  pidsMax?: number;
  /** cgroup `cpu.max` syntax: "<quota> <period>" in microseconds, e.g. "50000 100000" for half a CPU. */
  cpuMax?: string;
}

/** Sandbox settings of one execution (already merged with the server's; only ever tighter). */
export interface SandboxSpec {
  network: 'none' | 'host';
  /** Absolute paths writable inside the sandbox (plus a private /tmp). */
  writableRoots: string[];
  /** Absolute paths made unreadable inside the sandbox. */
  hide: string[];
}

/**
 * A validated, machine-independent description of what to run. The engine builds it (validation, policy,
 * hooks); the backend turns it into a launch on its machine.
 */
export interface LaunchPlan {
  id: string;
  /** Exactly one of command (run by the backend's shell) / argv (run without a shell). */
  command?: string;
  argv?: string[];
  /** As requested (absolute or relative to the backend's working directory); undefined = the default. */
  cwd?: string;
  /** Variables the request (or a preExecute hook) set; null removes a variable. */
  env: Record<string, string | null>;
  /** Text written to stdin, then closed. Without it (and not interactive) stdin is empty, never inherited. */
  stdin?: string;
  /** Keep stdin open as a pipe for later writes. */
  interactive?: boolean;
  /** Run on a pseudo-terminal of this size (implies interactive). */
  pty?: PtySize | null;
  sandbox?: SandboxSpec | null;
  limits?: ResourceLimits;
}

/** What a backend resolved for a plan on its machine: the program, its arguments, cwd and full environment. */
export interface Launch {
  plan: LaunchPlan;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

export type ContainmentMode = 'cgroup' | 'process-group' | 'pid-namespace' | 'remote';

export interface BackendCapabilities {
  stdin: boolean;
  pty: boolean;
  pause: boolean;
  signals: boolean;
  /** How "everything the command started" is held, and why this mode (for status and /health). */
  containment: { mode: ContainmentMode; reason: string };
  sandbox: boolean;
  /** Limits this backend can enforce. */
  limits: Array<keyof ResourceLimits>;
}

/** The leader's end: an exit code or the signal that ended it. */
export interface HandleExit {
  exitCode: number | null;
  signal: string | null;
}

/**
 * What goes in the record so that a later server can find (and stop) what this handle started.
 * Local: pid, pgid, start ticks, cgroup path. Remote: a pod name. Backends add their own fields.
 */
export interface HandleDescription {
  backend: string;
  pid: number | null;
  pgid: number | null;
  [field: string]: unknown;
}

/** Resource use so far, where the backend can measure it. */
export interface HandleUsage {
  cpuMs: number | null;
  memoryPeakBytes: number | null;
}

/** One running command. */
export interface ProcessHandle {
  /** Output streams: two pipes, or one terminal reported as stdout (stderr null). Pausing them is back-pressure. */
  readonly stdout: Readable;
  readonly stderr: Readable | null;
  /** Open stdin for interactive executions and PTYs; null otherwise. */
  readonly stdin: Writable | null;
  /** Resolves when the leader exits (others it started may live on: see isAlive). */
  readonly exit: Promise<HandleExit>;
  readonly pty: PtySize | null;
  /** Send a signal to everything the command started. False when nothing is left to receive it. */
  signal(sig: NodeJS.Signals): boolean;
  /** Stop / continue everything the command started (SIGSTOP/SIGCONT or a cgroup freeze). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** TERM (and CONT), wait graceMs, then KILL; resolves when everything it started is gone (or `false` if some could not be killed). */
  terminate(graceMs: number): Promise<boolean>;
  /** Synchronous KILL of everything (safe in a process 'exit' handler). */
  kill(): void;
  /** True while anything the command started is alive (the leader, or members it left behind). */
  isAlive(): boolean;
  /** Resolves true once nothing is alive, false if timeoutMs passes first. */
  waitGone(timeoutMs?: number): Promise<boolean>;
  /** Live member count (0 when gone); for `status` lingering members. */
  memberCount(): number;
  /** PTY only: change the terminal size. */
  resize?(size: PtySize): void;
  /**
   * True when a member is blocked reading the command's stdin or terminal (where the backend can tell). `ignore`:
   * pids that hold the input without being the command (a sandbox's bwrap processes poll it forever); with only
   * those left the answer is false.
   */
  waitingForInput?(ignore?: ReadonlySet<number>): boolean | null;
  usage?(): HandleUsage;
  describe(): HandleDescription;
}

/**
 * Recovery also gets descriptions from the crash journal: `executionId` (always) and, for an execution a
 * server died before spawning or noting, `sinceTicks` (no process of it started earlier) with pid/pgid null.
 */

/** What recovery did with one record left `running` by a server that died. */
export interface RecoveryResult {
  /** True when something of it was still alive and has been killed now. */
  killed: boolean;
}

export interface ExecutionBackend {
  readonly name: string;
  capabilities(): BackendCapabilities;
  /** Resolve a plan on this machine (shell, cwd, env, executable). Throws ServerError (INVALID_CWD, INVALID_INPUT, ...). */
  prepare(plan: LaunchPlan): Launch;
  /** Start it. Throws ServerError SPAWN_FAILED (or LIMIT_REACHED on resource exhaustion) when it could not. */
  spawn(launch: Launch): Promise<ProcessHandle>;
  /** Kill whatever a dead server's execution left, from its record's description. Never kills a stranger. */
  recover(description: HandleDescription, graceMs: number): Promise<RecoveryResult>;
  /**
   * At start, before records are read: stop what dead predecessors left that the backend itself can find
   * (local cgroup mode: leftover execution cgroups). Ids of executions found, and of those that still had processes.
   */
  sweep?(graceMs: number): Promise<{ leftovers: string[]; killed: string[] }>;
  /** Synchronous SIGKILL of everything every handle holds (a process 'exit' handler's last resort). */
  killAllNow?(): void;
  /** Called once at engine close, after every handle is gone. */
  close(): Promise<void>;
}

// The server's file-descriptor budget: the limit, how many are open, and a refusal before a spawn would hit EMFILE.
import { readdirSync, readFileSync } from 'node:fs';
import { ServerError } from '../errors.js';

/** Descriptors one execution holds in this process: stdout and stderr pipes, two log files, stdin or a PTY master. */
export const FDS_PER_EXECUTION = 5;
/** What a spawn may need at once: the execution's own, plus the transient pipe libuv opens to report exec errors. */
const FDS_PER_SPAWN = FDS_PER_EXECUTION + 3;
/**
 * Kept free by the pre-spawn check: new connections, record writes, hook runs and the /proc reads of the
 * server itself must still find a descriptor when executions have taken the rest.
 */
export const FD_HEADROOM = 24;
/** Descriptors the derived maxExecutions leaves to the server itself (Node, logs, records), besides one per session. */
const FD_BASE_RESERVE = 64;
/** The output log files an execution opens (stdout, stderr, index) asynchronously, on the thread pool, after its spawn. */
const LOG_FDS = 3;
/** How long the log files' part of a reservation outlives the spawn: until they show in /proc/self/fd. */
const RESERVATION_SETTLE_MS = 250;
/**
 * How far below the limit a recent count must be for a start to be admitted without counting again: more than
 * a burst of connections could open between two counts. Nearer the limit every start counts.
 */
const FAR_FROM_LIMIT_FDS = 1024;
/** How long a count stays recent enough to admit starts far from the limit without reading /proc/self/fd. */
const COUNT_FRESH_MS = 1_000;
/** The historical default: the derived maxExecutions never exceeds it. */
export const MAX_EXECUTIONS_CEILING = 256;

export interface FdLimits {
  /** The soft RLIMIT_NOFILE: what EMFILE is measured against. Node raises it to the hard limit at start. */
  soft: number;
  hard: number;
}

/** What /health shows: the limit, how many are open now, and how many the server keeps free. */
export interface FdReport {
  limit: number | null;
  hardLimit: number | null;
  inUse: number | null;
  headroom: number;
  perExecution: number;
}

/** RLIMIT_NOFILE of this process from /proc/self/limits ("unlimited" as Infinity); null where /proc has none. */
export function readFdLimits(path = '/proc/self/limits'): FdLimits | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!m) return null;
  const num = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: num(m[1]!), hard: num(m[2]!) };
}

/**
 * Descriptors open in this process now (/proc/self/fd, less the one that reads it); null where /proc has
 * none. Reading the directory needs a descriptor itself: EMFILE here means none is left.
 */
export function countOpenFds(dir = '/proc/self/fd'): number | null {
  try {
    return readdirSync(dir).length - 1;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE') return Infinity;
    return null;
  }
}

/**
 * A safe maxExecutions for this descriptor limit: what is left after the server's own share and one
 * descriptor per session, at FDS_PER_EXECUTION each, never above the historical 256 nor below 1.
 */
export function deriveMaxExecutions(softLimit: number, maxSessions: number): number {
  if (!Number.isFinite(softLimit)) return MAX_EXECUTIONS_CEILING;
  const spare = softLimit - FD_BASE_RESERVE - maxSessions;
  return Math.max(1, Math.min(MAX_EXECUTIONS_CEILING, Math.floor(spare / FDS_PER_EXECUTION)));
}

/** Whether an error from spawning a child means this process ran out of file descriptors. */
export function isFdExhaustion(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException | undefined;
  return err?.code === 'EMFILE' || err?.code === 'ENFILE';
}

/** The refusal a request gets when descriptors are short: one stable code, with the figures. */
export function fdExhaustedError(report: Pick<FdReport, 'limit' | 'inUse'>): ServerError {
  const figures =
    report.limit !== null && report.inUse !== null && Number.isFinite(report.inUse) ? ` (${report.inUse} of ${report.limit} open)` : '';
  return new ServerError(
    'RESOURCE_EXHAUSTED',
    `the server is out of file descriptors${figures}; wait for executions to end, or raise the limit (ulimit -n)`,
    {
      resource: 'fileDescriptors',
      limit: report.limit,
      inUse: report.inUse !== null && Number.isFinite(report.inUse) ? report.inUse : null,
    },
  );
}

/** The budget of this process: the limit read once (it does not change after start), the count read on demand. */
export class FdBudget {
  readonly limits: FdLimits | null;
  /** Descriptors of starts admitted that may not show in /proc/self/fd yet (hooks running, spawn, log files opening). */
  private reserved = 0;
  /** The last count of /proc/self/fd and when it was read (performance.now()): reused while far from the limit. */
  private lastCount: { inUse: number; at: number } | undefined;

  constructor(
    limits: FdLimits | null = readFdLimits(),
    /** Counts the descriptors open now (injectable so a test can count the reads). */
    private readonly count: () => number | null = countOpenFds,
  ) {
    this.limits = limits;
  }

  report(): FdReport {
    return {
      limit: this.limits && Number.isFinite(this.limits.soft) ? this.limits.soft : null,
      hardLimit: this.limits && Number.isFinite(this.limits.hard) ? this.limits.hard : null,
      inUse: countOpenFds(),
      headroom: FD_HEADROOM,
      perExecution: FDS_PER_EXECUTION,
    };
  }

  /** Whether a start would be refused now (what /health calls degraded). */
  refusesSpawn(report: FdReport = this.report()): boolean {
    if (report.limit === null || report.inUse === null) return false;
    return report.inUse + this.reserved + FDS_PER_SPAWN + FD_HEADROOM > report.limit;
  }

  /**
   * Throws RESOURCE_EXHAUSTED when one more execution would leave less than the headroom, counting starts
   * admitted but not settled as already holding theirs. Returns the release of this start's reservation,
   * to call once its spawn has settled. Something else spawning meanwhile (a hook) can still meet EMFILE,
   * which the backend maps to the same code.
   *
   * Reading /proc/self/fd costs ~0.3 ms, on the path of every execute: a count less than a second old is
   * reused while it is more than FAR_FROM_LIMIT_FDS below the limit (what a start needs included); nearer
   * the limit, or when it is older, every start counts again.
   */
  checkSpawn(): () => void {
    const soft = this.limits?.soft;
    if (soft === undefined || !Number.isFinite(soft)) return () => undefined;
    const now = performance.now();
    const recent = this.lastCount !== undefined && now - this.lastCount.at < COUNT_FRESH_MS ? this.lastCount.inUse : undefined;
    const far = recent !== undefined && recent + this.reserved + FDS_PER_SPAWN + FD_HEADROOM + FAR_FROM_LIMIT_FDS <= soft;
    const inUse = far ? recent : this.count();
    if (inUse === null) return () => undefined;
    if (!far) this.lastCount = Number.isFinite(inUse) ? { inUse, at: now } : undefined;
    if (inUse + this.reserved + FDS_PER_SPAWN + FD_HEADROOM > soft) throw fdExhaustedError({ limit: soft, inUse });
    this.reserved += FDS_PER_SPAWN;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The pipes show in /proc/self/fd once spawn() returned; the log files a moment later.
      this.reserved -= FDS_PER_SPAWN - LOG_FDS;
      setTimeout(() => (this.reserved -= LOG_FDS), RESERVATION_SETTLE_MS).unref();
    };
  }
}

// Hook failures: the reason in words, and the running totals and recent failures that `status` shows.
import type { Logger } from '../logger.js';
import type { HookStage } from './hook-config.js';
import type { HookProcessResult } from './hook-process.js';
import type { HookRun } from './hook-run.js';

/** Recent hook failures kept for `status`. */
const RECENT_FAILURES = 20;
/** Stderr gives the reason a failure is worth reading: keep its start. */
const REASON_STDERR_CHARS = 300;

export interface HookFailure {
  at: string;
  stage: HookStage;
  index: number;
  command: string;
  executionId: string;
  reason: string;
}

/** Why the hook process itself failed (not started, timed out, cancelled, killed), or null when it exited. */
export function processFailureReason(proc: HookProcessResult, timeoutMs: number): string | null {
  if (proc.spawnError !== null) return proc.spawnError;
  if (proc.timedOut) return `timed out after ${timeoutMs} ms (its process group was killed)`;
  if (proc.aborted) return 'stopped: the request was cancelled or the server is shutting down';
  if (proc.exitCode === null) return `killed by ${proc.signal ?? 'a signal'}`;
  return null;
}

/** A non-zero exit in words, with the start of the hook's stderr. */
export function exitFailureReason(proc: HookProcessResult): string {
  const stderr = proc.stderr.text().trim();
  const said = stderr.length > REASON_STDERR_CHARS ? `${stderr.slice(0, REASON_STDERR_CHARS)}...` : stderr;
  return `exited with code ${proc.exitCode}${said ? `: ${said}` : ''}`;
}

/** Counts hook runs, failures and blocks, and keeps the last failures (each one logged as it happens). */
export class HookLedger {
  private readonly failures: HookFailure[] = [];
  private readonly totals = { runs: 0, failures: 0, blocks: 0 };

  constructor(private readonly logger: Logger) {}

  countRun(): void {
    this.totals.runs++;
  }

  countBlock(): void {
    this.totals.blocks++;
  }

  recordFailure(run: HookRun, executionId: string): void {
    this.totals.failures++;
    this.failures.push({
      at: new Date().toISOString(),
      stage: run.stage,
      index: run.index,
      command: run.command,
      executionId,
      reason: run.reason ?? '',
    });
    if (this.failures.length > RECENT_FAILURES) this.failures.shift();
    this.logger.warn({ execution: executionId.slice(0, 8), stage: run.stage, hook: run.index, reason: run.reason }, 'hook failed');
  }

  /** Copies: totals so far, and the recent failures (newest last). */
  snapshot(): { totals: { runs: number; failures: number; blocks: number }; recentFailures: HookFailure[] } {
    return { totals: { ...this.totals }, recentFailures: [...this.failures] };
  }
}

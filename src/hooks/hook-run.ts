// One hook run as an execution keeps it (snapshot, record, status): built from a finished hook process, or a skip.
import type { HookStage, PostHookConfig, PreHookConfig } from './hook-config.js';
import type { HookProcessResult } from './hook-process.js';
import type { HookChanges } from './pre-hook-output.js';

/** Bytes of each hook stream kept in the record. */
export const HOOK_OUTPUT_HEAD_BYTES = 4 * 1024;

export type HookOutcome = 'ok' | 'blocked' | 'failed' | 'skipped';

/** A configured hook of either stage. */
export type HookEntry = (PreHookConfig | PostHookConfig) & { failClosed?: boolean };

/** One hook run, as kept on the Execution (and so in its snapshot, record and status). */
export interface HookRun {
  stage: HookStage;
  index: number;
  command: string;
  outcome: HookOutcome;
  /** Why it blocked (the hook's stderr), failed, or was skipped. */
  reason: string | null;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  startedAt: string;
  durationMs: number;
  stdoutHead: string;
  stdoutBytes: number;
  stderrHead: string;
  stderrBytes: number;
  /** The fields a preExecute hook changed, before and after (null when it changed nothing). */
  changes: { before: HookChanges; after: HookChanges } | null;
}

/** The hook as people read it: its command line, or its argv joined. */
export function describeHookEntry(entry: HookEntry): string {
  return entry.command ?? entry.argv!.join(' ');
}

/** The run of a hook process that ended, with the outcome the runner judged. */
export function toHookRun(
  stage: HookStage,
  index: number,
  entry: HookEntry,
  proc: HookProcessResult,
  outcome: HookOutcome,
  reason: string | null,
  changes: HookRun['changes'],
): HookRun {
  return {
    stage,
    index,
    command: describeHookEntry(entry),
    outcome,
    reason,
    pid: proc.pid,
    exitCode: proc.exitCode,
    signal: proc.signal,
    timedOut: proc.timedOut,
    startedAt: proc.startedAt.toISOString(),
    durationMs: proc.durationMs,
    stdoutHead: proc.stdout.text(HOOK_OUTPUT_HEAD_BYTES),
    stdoutBytes: proc.stdout.bytes,
    stderrHead: proc.stderr.text(HOOK_OUTPUT_HEAD_BYTES),
    stderrBytes: proc.stderr.bytes,
    changes,
  };
}

/** The run of a hook that did not start (its match did not match, or the server is shutting down). */
export function skippedHookRun(stage: HookStage, index: number, entry: HookEntry, reason: string): HookRun {
  return {
    stage,
    index,
    command: describeHookEntry(entry),
    outcome: 'skipped',
    reason,
    pid: null,
    exitCode: null,
    signal: null,
    timedOut: false,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    stdoutHead: '',
    stdoutBytes: 0,
    stderrHead: '',
    stderrBytes: 0,
    changes: null,
  };
}

// Runs the configured preExecute/postExecute hooks in order: JSON in, decisions and changes out, failures remembered.
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ServerError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ProcessHandle } from '../backends/backend.js';
import type { HooksConfig, HookStage, PostHookConfig, PreHookConfig } from './hook-config.js';
import { runHookProcess, type HookProcessResult, type HookSpawner } from './hook-process.js';

/** Bytes of each hook stream kept in the record. */
export const HOOK_OUTPUT_HEAD_BYTES = 4 * 1024;
/** Largest JSON a preExecute hook may print on stdout. */
export const PRE_HOOK_MAX_STDOUT_BYTES = 1024 * 1024;
/** Recent hook failures kept for `status`. */
const RECENT_FAILURES = 20;
/** SIGTERM -> SIGKILL grace for a hook being stopped: hooks are small scripts, no need to wait long. */
const HOOK_GRACE_MS = 1_000;

/** The fields of an execution a preExecute hook may change. */
export interface HookChanges {
  command?: string;
  argv?: string[];
  cwd?: string;
  /** A null value removes the variable from the command's environment. */
  env?: Record<string, string | null>;
  timeoutMs?: number;
}

/** What preExecute hooks see, in order, each after the changes of the ones before. */
export interface PreHookRequest {
  executionId: string;
  sessionId: string;
  command?: string;
  argv?: string[];
  cwd: string;
  env: Record<string, string | null>;
  timeoutMs: number;
}

export type HookOutcome = 'ok' | 'blocked' | 'failed' | 'skipped';

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

export interface HookFailure {
  at: string;
  stage: HookStage;
  index: number;
  command: string;
  executionId: string;
  reason: string;
}

export interface PreHooksResult {
  request: PreHookRequest;
  runs: HookRun[];
  warnings: string[];
}

const noNul = (s: string) => !s.includes('\0');
const envName = z.string().refine((k) => k !== '' && !k.includes('=') && noNul(k), 'invalid environment variable name');

const HookOutputSchema = z
  .object({
    command: z.string().refine((s) => s.trim() !== '' && noNul(s), 'command must be a non-empty string without NUL bytes'),
    argv: z
      .array(z.string().refine(noNul, 'argv strings cannot contain NUL bytes'))
      .min(1)
      .refine((a) => a[0] !== '', 'argv[0] is empty'),
    cwd: z.string().min(1),
    env: z.record(envName, z.string().refine(noNul, 'env values cannot contain NUL bytes').nullable()),
    timeoutMs: z.number().int().positive(),
  })
  .partial()
  .strict()
  .refine((o) => o.command === undefined || o.argv === undefined, 'give at most one of command or argv');

type Entry = (PreHookConfig | PostHookConfig) & { failClosed?: boolean };

function describeEntry(entry: Entry): string {
  return entry.command ?? entry.argv!.join(' ');
}

function matchTarget(x: { command?: string | null | undefined; argv?: string[] | null | undefined }): string {
  return x.command ?? x.argv?.[0] ?? '';
}

export interface HookRunnerOptions {
  /** Shell for `command` hooks (the one executions use). */
  shell: string;
  /** Deadlines a hook sets are clamped to this. */
  maxTimeoutMs: number;
  /** The server's environment for hooks, secrets withheld. */
  baseEnv: () => Record<string, string>;
  /** Starts one hook process (own process group, pipes) on the server's machine. */
  spawn: HookSpawner;
}

export class HookRunner {
  private readonly pre: PreHookConfig[];
  private readonly post: PostHookConfig[];
  private readonly regexes = new Map<Entry, RegExp>();
  private readonly groups = new Set<ProcessHandle>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly failures: HookFailure[] = [];
  private readonly shutdownAc = new AbortController();
  private readonly totals = { runs: 0, failures: 0, blocks: 0 };

  constructor(
    config: HooksConfig,
    private readonly opts: HookRunnerOptions,
    private readonly logger: Logger,
  ) {
    // A relative program path means the server's directory, not the execution's cwd the hook runs in.
    const fix = <T extends Entry>(e: T): T =>
      e.argv && e.argv[0]!.includes('/') && !isAbsolute(e.argv[0]!) ? { ...e, argv: [resolve(e.argv[0]!), ...e.argv.slice(1)] } : e;
    this.pre = config.preExecute.map(fix);
    this.post = config.postExecute.map(fix);
    for (const e of [...this.pre, ...this.post]) if (e.match !== undefined) this.regexes.set(e, new RegExp(e.match));
  }

  get hasPre(): boolean {
    return this.pre.length > 0;
  }

  get hasPost(): boolean {
    return this.post.length > 0;
  }

  /** For `status`: what is configured, totals, and the last failures (newest last). */
  describe() {
    const list = (entries: Entry[]) =>
      entries.map((e, index) => ({
        index,
        command: describeEntry(e),
        match: e.match ?? null,
        timeoutMs: e.timeoutMs,
        ...(e.failClosed !== undefined ? { failClosed: e.failClosed } : {}),
      }));
    return {
      preExecute: list(this.pre),
      postExecute: list(this.post),
      count: this.pre.length + this.post.length,
      totals: { ...this.totals },
      recentFailures: [...this.failures],
    };
  }

  /**
   * Run the preExecute hooks in order. Returns the (possibly changed) request, every run, and warnings for
   * hooks that failed open. Throws ServerError BLOCKED_BY_HOOK when a hook exits 2, or fails with failClosed.
   */
  async runPre(request: PreHookRequest, signal?: AbortSignal): Promise<PreHooksResult> {
    let current = { ...request, env: { ...request.env } };
    const runs: HookRun[] = [];
    const warnings: string[] = [];
    for (const [index, entry] of this.pre.entries()) {
      if (signal?.aborted) break;
      const skipped = this.skipReason(entry, current);
      if (skipped !== null) {
        runs.push(skippedRun('preExecute', index, entry, skipped));
        continue;
      }
      const { executionId, sessionId, cwd, env, timeoutMs } = current;
      const input = {
        hook: 'preExecute',
        executionId,
        sessionId,
        ...(current.command !== undefined ? { command: current.command } : { argv: current.argv }),
        cwd,
        env,
        timeoutMs,
      };
      const proc = await this.spawn(entry, 'preExecute', executionId, cwd, JSON.stringify(input), PRE_HOOK_MAX_STDOUT_BYTES, signal);
      let outcome: HookOutcome;
      let reason: string | null = null;
      let changes: HookRun['changes'] = null;
      const failure = processFailure(proc, entry);
      if (failure !== null) {
        outcome = 'failed';
        reason = failure;
      } else if (proc.exitCode === 2) {
        outcome = 'blocked';
        reason = proc.stderr.text().trim() || '(the hook gave no reason on stderr)';
      } else if (proc.exitCode !== 0) {
        outcome = 'failed';
        reason = exitFailure(proc);
      } else {
        const applied = this.applyOutput(current, proc);
        if (typeof applied === 'string') {
          outcome = 'failed';
          reason = applied;
        } else {
          outcome = 'ok';
          changes = applied.changes;
          current = applied.next;
        }
      }
      const run = toRun('preExecute', index, entry, proc, outcome, reason, changes);
      runs.push(run);
      // Cancelled request or shutdown: not the hook's fault, and the registry will not start the command.
      if (proc.aborted) break;
      this.totals.runs++;
      if (outcome === 'failed') this.recordFailure(run, executionId);
      if (outcome === 'blocked' || (outcome === 'failed' && entry.failClosed)) {
        this.totals.blocks++;
        const why = outcome === 'blocked' ? reason! : `the hook failed and is failClosed: ${reason}`;
        this.logger.info({ execution: executionId.slice(0, 8), hook: index, reason: why }, 'execution blocked by preExecute hook');
        throw new ServerError('BLOCKED_BY_HOOK', `blocked by preExecute hook #${index} (${run.command}): ${why}`, {
          stage: 'preExecute',
          index,
          command: run.command,
          reason: why,
          hooks: runs,
        });
      }
      if (outcome === 'failed') warnings.push(`preExecute hook #${index} (${run.command}) failed: ${reason}; the execution went on`);
    }
    return { request: current, runs, warnings };
  }

  /**
   * Run the postExecute hooks in order with the final record on stdin. `onRun` receives each run as it ends
   * (with a warning when it failed). Never throws.
   */
  async runPost(
    record: { id: string; command: string | null; argv: string[] | null; cwd: string } & Record<string, unknown>,
    onRun: (run: HookRun, warning: string | null) => void,
  ): Promise<void> {
    // The command may have removed its own cwd; the hook still has to start somewhere.
    const cwd = isDirectory(record.cwd) ? record.cwd : process.cwd();
    const input = JSON.stringify({ hook: 'postExecute', executionId: record.id, ...record });
    for (const [index, entry] of this.post.entries()) {
      const skipped = this.shutdownAc.signal.aborted ? 'the server is shutting down' : this.skipReason(entry, record);
      if (skipped !== null) {
        onRun(skippedRun('postExecute', index, entry, skipped), null);
        continue;
      }
      const proc = await this.spawn(entry, 'postExecute', record.id, cwd, input, HOOK_OUTPUT_HEAD_BYTES);
      const failure = processFailure(proc, entry) ?? (proc.exitCode !== 0 ? exitFailure(proc) : null);
      const run = toRun('postExecute', index, entry, proc, failure === null ? 'ok' : 'failed', failure, null);
      this.totals.runs++;
      if (failure !== null && !proc.aborted) this.recordFailure(run, record.id);
      onRun(run, failure === null ? null : `postExecute hook #${index} (${run.command}) failed: ${failure}`);
    }
  }

  /** Stop every running hook (TERM, grace, KILL) and start no more post hooks. */
  async shutdown(): Promise<void> {
    this.shutdownAc.abort();
    await Promise.all([...this.inFlight]);
  }

  /** Synchronous SIGKILL to every hook group still running (process 'exit' handler). */
  killAllNow(): void {
    for (const g of this.groups) g.kill();
  }

  private skipReason(entry: Entry, target: { command?: string | null; argv?: string[] | null }): string | null {
    const re = this.regexes.get(entry);
    if (re === undefined) return null;
    return re.test(matchTarget(target)) ? null : `match /${entry.match}/ does not match`;
  }

  private async spawn(
    entry: Entry,
    stage: HookStage,
    executionId: string,
    cwd: string,
    stdin: string,
    stdoutLimitBytes: number,
    signal?: AbortSignal,
  ): Promise<HookProcessResult> {
    const env = { ...this.opts.baseEnv(), CC_EXECUTOR_HOOK: stage, CC_EXECUTOR_EXECUTION_ID: executionId };
    const run = runHookProcess({
      file: entry.command !== undefined ? this.opts.shell : entry.argv![0]!,
      args: entry.command !== undefined ? ['-c', entry.command] : entry.argv!.slice(1),
      cwd,
      env,
      stdin,
      spawn: this.opts.spawn,
      timeoutMs: entry.timeoutMs,
      graceMs: HOOK_GRACE_MS,
      stdoutLimitBytes,
      stderrLimitBytes: HOOK_OUTPUT_HEAD_BYTES,
      signals: signal ? [signal, this.shutdownAc.signal] : [this.shutdownAc.signal],
      track: (group, live) => (live ? this.groups.add(group) : this.groups.delete(group)),
    });
    this.inFlight.add(run);
    try {
      return await run;
    } finally {
      this.inFlight.delete(run);
    }
  }

  /** Parse and apply a preExecute hook's stdout. Returns the failure reason as a string when it is unusable. */
  private applyOutput(current: PreHookRequest, proc: HookProcessResult): string | { next: PreHookRequest; changes: HookRun['changes'] } {
    if (proc.stdout.truncated) return `stdout is over ${PRE_HOOK_MAX_STDOUT_BYTES} bytes (${proc.stdout.bytes})`;
    const text = proc.stdout.text().trim();
    if (text === '') return { next: current, changes: null };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return `stdout is not valid JSON: ${(e as Error).message}`;
    }
    const parsed = HookOutputSchema.safeParse(json);
    if (!parsed.success) {
      return `stdout is not a valid change object: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
    }
    const out = parsed.data;
    const next: PreHookRequest = { ...current, env: { ...current.env } };
    if (out.command !== undefined) {
      next.command = out.command;
      delete next.argv;
    }
    if (out.argv !== undefined) {
      next.argv = out.argv;
      delete next.command;
    }
    if (out.cwd !== undefined) {
      next.cwd = isAbsolute(out.cwd) ? out.cwd : resolve(current.cwd, out.cwd);
      if (!isDirectory(next.cwd)) return `cwd ${next.cwd} is not a directory`;
    }
    if (out.env !== undefined) Object.assign(next.env, out.env);
    if (out.timeoutMs !== undefined) next.timeoutMs = Math.min(out.timeoutMs, this.opts.maxTimeoutMs);

    const before: HookChanges = {};
    const after: HookChanges = {};
    const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
    if (differs(current.command, next.command) || differs(current.argv, next.argv)) {
      Object.assign(before, current.command !== undefined ? { command: current.command } : { argv: current.argv });
      Object.assign(after, next.command !== undefined ? { command: next.command } : { argv: next.argv });
    }
    for (const key of ['cwd', 'env', 'timeoutMs'] as const) {
      if (!differs(current[key], next[key])) continue;
      Object.assign(before, { [key]: current[key] });
      Object.assign(after, { [key]: next[key] });
    }
    return { next, changes: Object.keys(after).length > 0 ? { before, after } : null };
  }

  private recordFailure(run: HookRun, executionId: string): void {
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
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Why the hook process itself failed (not started, timed out, cancelled, killed), or null when it exited. */
function processFailure(proc: HookProcessResult, entry: Entry): string | null {
  if (proc.spawnError !== null) return proc.spawnError;
  if (proc.timedOut) return `timed out after ${entry.timeoutMs} ms (its process group was killed)`;
  if (proc.aborted) return 'stopped: the request was cancelled or the server is shutting down';
  if (proc.exitCode === null) return `killed by ${proc.signal ?? 'a signal'}`;
  return null;
}

/** Stderr gives the reason a failure is worth reading: keep its start. */
const REASON_STDERR_CHARS = 300;

function exitFailure(proc: HookProcessResult): string {
  const stderr = proc.stderr.text().trim();
  const said = stderr.length > REASON_STDERR_CHARS ? `${stderr.slice(0, REASON_STDERR_CHARS)}...` : stderr;
  return `exited with code ${proc.exitCode}${said ? `: ${said}` : ''}`;
}

function toRun(
  stage: HookStage,
  index: number,
  entry: Entry,
  proc: HookProcessResult,
  outcome: HookOutcome,
  reason: string | null,
  changes: HookRun['changes'],
): HookRun {
  return {
    stage,
    index,
    command: describeEntry(entry),
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

function skippedRun(stage: HookStage, index: number, entry: Entry, reason: string): HookRun {
  return {
    stage,
    index,
    command: describeEntry(entry),
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

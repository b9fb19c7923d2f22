// Runs the configured preExecute/postExecute hooks in order: which apply, each one started, its outcome judged, block or warn.
import { isAbsolute, resolve } from 'node:path';
import { ServerError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ProcessHandle } from '../backends/backend.js';
import type { HooksConfig, HookStage, PostHookConfig, PreHookConfig } from './hook-config.js';
import { exitFailureReason, HookLedger, processFailureReason } from './hook-failures.js';
import { runHookProcess, type HookProcessResult, type HookSpawner } from './hook-process.js';
import {
  describeHookEntry,
  HOOK_OUTPUT_HEAD_BYTES,
  skippedHookRun,
  toHookRun,
  type HookEntry,
  type HookOutcome,
  type HookRun,
} from './hook-run.js';
import { applyPreHookOutput, isDirectory, PRE_HOOK_MAX_STDOUT_BYTES, type PreHookRequest } from './pre-hook-output.js';

/** SIGTERM -> SIGKILL grace for a hook being stopped: hooks are small scripts, no need to wait long. */
const HOOK_GRACE_MS = 1_000;

export interface PreHooksResult {
  request: PreHookRequest;
  runs: HookRun[];
  warnings: string[];
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
  private readonly regexes = new Map<HookEntry, RegExp>();
  private readonly groups = new Set<ProcessHandle>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly shutdownAc = new AbortController();
  private readonly ledger: HookLedger;

  constructor(
    config: HooksConfig,
    private readonly opts: HookRunnerOptions,
    private readonly logger: Logger,
  ) {
    this.ledger = new HookLedger(logger);
    // A relative program path means the server's directory, not the execution's cwd the hook runs in.
    const fix = <T extends HookEntry>(e: T): T =>
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
    const list = (entries: HookEntry[]) =>
      entries.map((e, index) => ({
        index,
        command: describeHookEntry(e),
        match: e.match ?? null,
        timeoutMs: e.timeoutMs,
        ...(e.failClosed !== undefined ? { failClosed: e.failClosed } : {}),
      }));
    return {
      preExecute: list(this.pre),
      postExecute: list(this.post),
      count: this.pre.length + this.post.length,
      ...this.ledger.snapshot(),
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
        runs.push(skippedHookRun('preExecute', index, entry, skipped));
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
      const failure = processFailureReason(proc, entry.timeoutMs);
      if (failure !== null) {
        outcome = 'failed';
        reason = failure;
      } else if (proc.exitCode === 2) {
        outcome = 'blocked';
        reason = proc.stderr.text().trim() || '(the hook gave no reason on stderr)';
      } else if (proc.exitCode !== 0) {
        outcome = 'failed';
        reason = exitFailureReason(proc);
      } else {
        const applied = applyPreHookOutput(current, proc, this.opts.maxTimeoutMs);
        if (typeof applied === 'string') {
          outcome = 'failed';
          reason = applied;
        } else {
          outcome = 'ok';
          changes = applied.changes;
          current = applied.next;
        }
      }
      const run = toHookRun('preExecute', index, entry, proc, outcome, reason, changes);
      runs.push(run);
      // Cancelled request or shutdown: not the hook's fault, and the registry will not start the command.
      if (proc.aborted) break;
      this.ledger.countRun();
      if (outcome === 'failed') this.ledger.recordFailure(run, executionId);
      if (outcome === 'blocked' || (outcome === 'failed' && entry.failClosed)) {
        this.ledger.countBlock();
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
        onRun(skippedHookRun('postExecute', index, entry, skipped), null);
        continue;
      }
      const proc = await this.spawn(entry, 'postExecute', record.id, cwd, input, HOOK_OUTPUT_HEAD_BYTES);
      const failure = processFailureReason(proc, entry.timeoutMs) ?? (proc.exitCode !== 0 ? exitFailureReason(proc) : null);
      const run = toHookRun('postExecute', index, entry, proc, failure === null ? 'ok' : 'failed', failure, null);
      this.ledger.countRun();
      if (failure !== null && !proc.aborted) this.ledger.recordFailure(run, record.id);
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

  private skipReason(entry: HookEntry, target: { command?: string | null; argv?: string[] | null }): string | null {
    const re = this.regexes.get(entry);
    if (re === undefined) return null;
    return re.test(matchTarget(target)) ? null : `match /${entry.match}/ does not match`;
  }

  private async spawn(
    entry: HookEntry,
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
}

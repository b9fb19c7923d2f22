// Creates executions, enforces limits, finds them by id or unique prefix, and shuts them all down.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ExecutionBackend, Launch, LaunchPlan } from '../backends/backend.js';
import type { Config } from '../config.js';
import { ServerError } from '../errors.js';
import type { HookRunner, PreHookRequest } from '../hooks/hook-runner.js';
import type { Logger } from '../logger.js';
import { CommandPolicy } from '../policy/command-policy.js';
import type { LoadMonitor } from '../system/load-monitor.js';
import { normaliseCommand, type DurationHistory } from './duration-history.js';
import { Execution, type TerminationReason } from './execution.js';

export interface ExecuteRequest {
  sessionId: string;
  /** Which transport the request came through (for the record). */
  transport?: string;
  command?: string;
  argv?: string[];
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  background?: boolean;
  /** The caller gave up (request cancelled, session closed): preExecute hooks stop and nothing is spawned. */
  signal?: AbortSignal;
}

/** Exited executions kept in memory for `status` (records on disk keep the rest). */
const MAX_EXITED_IN_MEMORY = 500;
const MIN_PREFIX_CHARS = 4;
/** At shutdown, how long running postExecute hooks may take before they are stopped (main.ts has a hard stop). */
const SHUTDOWN_POST_HOOKS_MS = 2_000;

export interface RegistryLimits {
  maxExecutions: number;
  maxExecutionsPerSession: number;
}

/** Lifecycle events for observers (metrics, records): 'started' after spawn, 'exited' once all output is in. */
export type RegistryEvents = { started: [Execution]; exited: [Execution] };

export class ExecutionRegistry extends EventEmitter<RegistryEvents> {
  private readonly executions = new Map<string, Execution>();
  private readonly policy: CommandPolicy;
  private closing = false;

  constructor(
    private readonly config: Config,
    /** Where commands run: the only way the registry reaches a process. */
    private readonly backend: ExecutionBackend,
    private readonly load: LoadMonitor,
    private readonly logger: Logger,
    private readonly limits: RegistryLimits = { maxExecutions: 256, maxExecutionsPerSession: 32 },
    private readonly history?: DurationHistory,
    private readonly hooks?: HookRunner,
  ) {
    super();
    this.policy = new CommandPolicy(config);
    for (const problem of this.policy.problems()) logger.warn(problem);
  }

  /** The hooks every execution passes through (for `status`). */
  get hookRunner(): HookRunner | undefined {
    return this.hooks;
  }

  async start(req: ExecuteRequest): Promise<Execution> {
    if (this.closing) throw new ServerError('SHUTTING_DOWN', 'the server is shutting down');
    const hasCommand = req.command !== undefined;
    const hasArgv = req.argv !== undefined;
    if (hasCommand === hasArgv) {
      throw new ServerError('INVALID_INPUT', 'give exactly one of `command` (a shell string) or `argv` (an array run without a shell)');
    }
    if (hasCommand && req.command!.trim() === '') throw new ServerError('INVALID_INPUT', '`command` is empty');
    if (hasArgv && (req.argv!.length === 0 || req.argv![0] === ''))
      throw new ServerError('INVALID_INPUT', '`argv` needs at least a program name');
    for (const s of [req.command, ...(req.argv ?? [])]) {
      if (s?.includes('\0')) throw new ServerError('INVALID_INPUT', 'command strings cannot contain NUL bytes');
    }
    // The backend resolves cwd and environment on its machine (INVALID_CWD, INVALID_INPUT) before anything else.
    // The id exists before the preExecute hooks run: they receive it.
    const id = randomUUID();
    let launch = this.backend.prepare(launchPlan(id, req, req));
    const cwd = launch.cwd;
    this.checkLimits(req.sessionId);
    // Refused before any hook runs; counts towards the per-minute rate.
    let allowed = this.policy.check(req, cwd);

    let requested = req.timeoutMs ?? this.config.defaultTimeoutMs;
    // History learns the command as requested: hook rewrites (a venv prefix) would blur its key.
    const historyKey = normaliseCommand(req.command, req.argv);
    let timeoutRequested = req.timeoutMs !== undefined;
    let plan: PreHookRequest = {
      executionId: id,
      sessionId: req.sessionId,
      ...(hasCommand ? { command: req.command! } : { argv: req.argv! }),
      cwd,
      env: { ...req.env },
      timeoutMs: Math.min(requested, this.config.maxTimeoutMs),
    };
    const pre = this.hooks?.hasPre ? await this.hooks.runPre(plan, req.signal) : undefined;
    if (pre) {
      // Hooks take time: the world may have changed meanwhile.
      if (this.closing) throw new ServerError('SHUTTING_DOWN', 'the server is shutting down');
      if (req.signal?.aborted) throw new ServerError('INVALID_STATE', 'the request was cancelled before the command started');
      if (pre.request.timeoutMs !== plan.timeoutMs) {
        requested = pre.request.timeoutMs;
        timeoutRequested = true;
      }
      plan = pre.request;
      launch = this.backend.prepare(launchPlan(id, plan, req));
      this.checkLimits(req.sessionId);
      // Hooks are configuration, but what finally runs must still obey the policy.
      allowed = this.policy.check({ ...plan, sessionId: req.sessionId }, launch.cwd, { countRate: false });
    }
    const timeoutMs = Math.min(requested, this.config.maxTimeoutMs);
    const shellMode = plan.command !== undefined;
    // What the policy vouched for runs: the checked executable path and the checked (real) directory.
    const final: Launch = { ...launch, cwd: allowed.cwd, ...(shellMode ? {} : { file: allowed.file! }) };
    const handle = await this.backend.spawn(final);
    const execution = new Execution(
      {
        id,
        sessionId: req.sessionId,
        ...(shellMode ? { command: plan.command! } : { argv: plan.argv! }),
        cwd: final.cwd,
        timeoutMs,
        timeoutClamped: requested > timeoutMs,
        ...(pre ? { hooks: pre.runs, hookWarnings: pre.warnings } : {}),
        ...(this.hooks?.hasPost ? { postHooks: (e: Execution) => this.runPostHooks(e, this.hooks!) } : {}),
        idleTimeoutMs: req.idleTimeoutMs ?? this.config.idleTimeoutMs,
        graceMs: this.config.graceMs,
        background: req.background ?? false,
        outputBufferBytes: this.config.outputBufferBytes,
        maxOutputBytes: this.config.maxOutputBytes,
        inlineOutputChars: this.config.inlineOutputChars,
        load: this.load,
        historyKey,
        expectedMs: this.history?.expectedMs(historyKey),
        timeoutRequested,
        meta: { transport: req.transport ?? 'internal', env: { ...(req.env ?? {}) }, loadAtStart: this.load.current() },
      },
      handle,
    );
    this.executions.set(id, execution);
    this.emit('started', execution);
    this.logger.info({ execution: shortId(id), session: shortId(req.sessionId), pid: handle.describe().pid }, 'execution started');
    void execution.done.then(() => {
      const s = execution.snapshot();
      this.logger.info(
        { execution: shortId(id), exitCode: s.exitCode, signal: s.signal, reason: s.terminationReason, durationMs: s.durationMs },
        'execution exited',
      );
      // Only runs that ended by themselves say how long this kind of command takes.
      if (s.terminationReason === null) this.history?.record(execution.historyKey, s.durationMs);
      this.emit('exited', execution);
      this.prune();
    });
    return execution;
  }

  private runPostHooks(execution: Execution, hooks: HookRunner): Promise<void> {
    const stdout = execution.log.inlineOutput('stdout');
    const stderr = execution.log.inlineOutput('stderr');
    const record = {
      ...execution.snapshot(),
      stdout: stdout.text,
      stderr: stderr.text,
      outputTruncated: stdout.truncated || stderr.truncated,
    };
    return hooks.runPost(record, (run, warning) => execution.addHookRun(run, warning));
  }

  private checkLimits(sessionId: string): void {
    let running = 0;
    let mine = 0;
    for (const e of this.executions.values()) {
      if (e.state === 'exited') continue;
      running++;
      if (e.sessionId === sessionId) mine++;
    }
    if (running >= this.limits.maxExecutions) {
      throw new ServerError('LIMIT_REACHED', `maxExecutions (${this.limits.maxExecutions}) executions are already running`, {
        limit: 'maxExecutions',
      });
    }
    if (mine >= this.limits.maxExecutionsPerSession) {
      throw new ServerError(
        'LIMIT_REACHED',
        `maxExecutionsPerSession (${this.limits.maxExecutionsPerSession}) executions are already running in this session`,
        {
          limit: 'maxExecutionsPerSession',
        },
      );
    }
  }

  /** Find by full id or a unique prefix (at least 4 characters). */
  find(idOrPrefix: string): Execution {
    const exact = this.executions.get(idOrPrefix);
    if (exact) return exact;
    if (idOrPrefix.length >= MIN_PREFIX_CHARS) {
      const matches = [...this.executions.values()].filter((e) => e.id.startsWith(idOrPrefix));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) {
        throw new ServerError('AMBIGUOUS_ID', `id prefix ${idOrPrefix} matches ${matches.length} executions; give more characters`, {
          matches: matches.map((m) => m.id),
        });
      }
    }
    throw new ServerError('NOT_FOUND', `no execution with id ${idOrPrefix}`);
  }

  list(filter: { sessionId?: string } = {}): Execution[] {
    return [...this.executions.values()].filter((e) => filter.sessionId === undefined || e.sessionId === filter.sessionId);
  }

  counts(): { running: number; paused: number; background: number; total: number } {
    let running = 0;
    let paused = 0;
    let background = 0;
    for (const e of this.executions.values()) {
      if (e.state === 'running') running++;
      if (e.state === 'paused') paused++;
      if (e.background && e.state !== 'exited') background++;
    }
    return { running, paused, background, total: this.executions.size };
  }

  /**
   * A session ended: terminate its executions (background ones stay), including the lingering members
   * of groups whose leader already exited.
   */
  releaseSession(sessionId: string, reason: TerminationReason = 'disconnect'): Promise<void> {
    const owned = this.list({ sessionId }).filter((e) => !e.background);
    return Promise.all(owned.map((e) => e.terminate(reason))).then(() => undefined);
  }

  /**
   * The session that started these background executions is gone: they keep running and recording,
   * but only for `ttlMs` more (0 = until they end or the server stops).
   */
  orphanBackground(sessionId: string, ttlMs: number): void {
    if (ttlMs <= 0) return;
    for (const e of this.list({ sessionId })) {
      if (!e.background || e.state === 'exited') continue;
      const timer = setTimeout(() => void e.terminate('detached_ttl'), ttlMs);
      timer.unref();
      e.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    }
  }

  /** True when the session owns an execution that has not exited. */
  hasLive(sessionId: string): boolean {
    return this.list({ sessionId }).some((e) => e.state !== 'exited');
  }

  /** Terminate everything (TERM, grace, KILL) and refuse new work. */
  async shutdown(graceMs = this.config.graceMs): Promise<void> {
    this.closing = true;
    const all = [...this.executions.values()];
    await Promise.all(all.map((e) => e.terminate('shutdown', graceMs)));
    if (this.hooks) {
      // postExecute hooks get their chance (bounded), then whatever hook still runs is stopped.
      await Promise.race([
        Promise.all(all.map((e) => e.postHooksDone)),
        new Promise((r) => setTimeout(r, Math.min(graceMs, SHUTDOWN_POST_HOOKS_MS)).unref()),
      ]);
      await this.hooks.shutdown();
      // Every hook is stopped now, so this is quick; it lets records finish before the caller flushes them.
      await Promise.all(all.map((e) => e.postHooksDone));
    }
  }

  /** Synchronous SIGKILL to everything we ever started that may still be alive. */
  killAllNow(): void {
    for (const e of this.executions.values()) e.killNow();
    this.hooks?.killAllNow();
  }

  private prune(): void {
    const exited = [...this.executions.values()].filter((e) => e.state === 'exited');
    let excess = exited.length - MAX_EXITED_IN_MEMORY;
    // Oldest first (Map order); an exited execution whose group still has members stays: it is still ours to kill.
    for (const e of exited) {
      if (excess <= 0) break;
      if (e.hasLiveProcesses()) continue;
      this.executions.delete(e.id);
      excess--;
    }
  }
}

/** The id is a capability: logs at info level carry only a prefix. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** The machine-independent plan for the backend: what to run (as the request or the hooks left it), where, with which variables. */
function launchPlan(
  id: string,
  what: { command?: string; argv?: string[]; cwd?: string; env?: Record<string, string | null> },
  req: ExecuteRequest,
): LaunchPlan {
  return {
    id,
    ...(what.command !== undefined ? { command: what.command } : { argv: what.argv! }),
    ...(what.cwd !== undefined ? { cwd: what.cwd } : {}),
    env: { ...what.env },
    ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
  };
}

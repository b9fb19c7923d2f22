// Keeps the executions: starts planned ones, enforces limits, finds them by id or unique prefix, shuts them all down.
import { EventEmitter } from 'node:events';
import type { ExecutionBackend, ProcessHandle, SandboxSpec } from '../backends/backend.js';
import { resolveSandboxSpec, sandboxSettings, type SandboxSettings } from '../policy/sandbox-policy.js';
import type { ExecutionJournal } from '../records/execution-journal.js';
import type { Config } from '../config.js';
import { ServerError } from '../errors.js';
import type { HookRunner } from '../hooks/hook-runner.js';
import type { Logger } from '../logger.js';
import { CommandPolicy } from '../policy/command-policy.js';
import type { LoadMonitor } from '../system/load-monitor.js';
import type { DurationHistory } from './duration-history.js';
import { Execution, type TerminationReason } from './execution.js';
import { viewOf } from './execution-view.js';
import { matchId } from './id-lookup.js';
import { ReadGather } from './read-gather.js';
import { planExecution, type ExecuteRequest } from './plan.js';

export type { ExecuteRequest } from './plan.js';

/** Exited executions kept in memory for `status` (records on disk keep the rest). */
const MAX_EXITED_IN_MEMORY = 500;
/** At shutdown, how long the removal of journal entries may wait for groups that outlive their terminate. */
const SHUTDOWN_JOURNAL_MS = 1_000;
/** At shutdown, how long running postExecute hooks may take before they are stopped (main.ts has a hard stop). */
const SHUTDOWN_POST_HOOKS_MS = 2_000;

export interface RegistryLimits {
  maxExecutions: number;
  maxExecutionsPerSession: number;
  /**
   * A check of resources the limits do not count (file descriptors): throws to refuse the start, or returns
   * a release called once the spawn has settled (what it reserved for this start is then given back).
   */
  beforeSpawn?: () => (() => void) | void;
}

/** Lifecycle events for observers (metrics, records): 'started' after spawn, 'exited' once all output is in. */
export type RegistryEvents = { started: [Execution]; exited: [Execution] };

export class ExecutionRegistry extends EventEmitter<RegistryEvents> {
  private readonly executions = new Map<string, Execution>();
  private readonly policy: CommandPolicy;
  private closing = false;
  /** Journal entries to remove once everything their execution started is gone (shutdown waits for them). */
  private readonly forgetting = new Set<Promise<void>>();
  /** One for the server: its sleeps are bounded per turn of the event loop, whatever the number of floods. */
  readonly readGather: ReadGather;

  constructor(
    private readonly config: Config,
    /** Where commands run: the only way the registry reaches a process. */
    private readonly backend: ExecutionBackend,
    private readonly load: LoadMonitor,
    private readonly logger: Logger,
    private readonly limits: RegistryLimits = { maxExecutions: 256, maxExecutionsPerSession: 32 },
    private readonly history?: DurationHistory,
    private readonly hooks?: HookRunner,
    /** The server's sandbox settings; a request may only tighten them. */
    private readonly sandbox: SandboxSettings = sandboxSettings(config),
    /** Names each execution on disk before its spawn, so a crash at any moment leaves it findable. */
    private readonly journal?: ExecutionJournal,
  ) {
    super();
    this.readGather = new ReadGather(config.readGatherUs);
    this.policy = new CommandPolicy(config);
    for (const problem of this.policy.problems()) logger.warn(problem);
  }

  /** How the backend holds everything a command starts, and why (for `status` and /health). */
  get containment(): { mode: string; reason: string } {
    return this.backend.capabilities().containment;
  }

  /** The hooks every execution passes through (for `status`). */
  get hookRunner(): HookRunner | undefined {
    return this.hooks;
  }

  /** The server's sandbox mode and defaults, for `status` and /health. */
  sandboxSummary(): { mode: SandboxSettings['mode']; network: SandboxSettings['network']; writableRoots: string[] } {
    return { mode: this.sandbox.mode, network: this.sandbox.network, writableRoots: [...this.sandbox.writableRoots] };
  }

  /** The sandbox this request runs in (null: none). Throws INVALID_INPUT / FORBIDDEN (sandbox-policy.ts). */
  private sandboxFor(req: ExecuteRequest, cwd: string): SandboxSpec | null {
    const spec = resolveSandboxSpec(this.sandbox, req.sandbox, cwd);
    if (spec && !this.backend.capabilities().sandbox) {
      throw new ServerError('INVALID_INPUT', `the ${this.backend.name} backend cannot run a command in a sandbox`);
    }
    return spec;
  }

  /** Plan (validation, policy, hooks), spawn through the backend, and keep the execution. */
  async start(req: ExecuteRequest): Promise<Execution> {
    if (this.closing) throw new ServerError('SHUTTING_DOWN', 'the server is shutting down');
    const reservation: { release?: (() => void) | void } = {};
    try {
      // Admitted twice (before and after the preExecute hooks): the second reservation replaces the first.
      return await this.admitAndSpawn(req, (release) => {
        reservation.release?.();
        reservation.release = release;
      });
    } finally {
      reservation.release?.();
    }
  }

  private async admitAndSpawn(req: ExecuteRequest, onReserved: (release: (() => void) | void) => void): Promise<Execution> {
    const plan = await planExecution(req, {
      config: this.config,
      backend: this.backend,
      policy: this.policy,
      hooks: this.hooks,
      history: this.history,
      admit: (sessionId) => {
        if (this.closing) throw new ServerError('SHUTTING_DOWN', 'the server is shutting down');
        onReserved(this.checkLimits(sessionId));
      },
      sandbox: (r, cwd) => this.sandboxFor(r, cwd),
    });
    const id = plan.id;
    const what = plan.launch.plan;
    const entry = this.journal?.intend(id, what.command ?? what.argv?.join(' ') ?? '', this.backend.name);
    let handle: ProcessHandle;
    // Before the spawn: on a loaded machine its promise can resolve long after the command began.
    const startedAt = new Date();
    try {
      handle = await this.backend.spawn(plan.launch);
    } catch (e) {
      void this.journal?.release(id);
      throw e;
    }
    if (entry) {
      this.journal!.spawned(entry, handle.describe());
      // Forgotten only once nothing it started is alive (lingering members included).
      const forgotten = handle.exit.then(() => handle.waitGone()).then(() => this.journal!.release(id));
      this.forgetting.add(forgotten);
      void forgotten.then(() => this.forgetting.delete(forgotten));
    }
    const execution = new Execution(
      {
        id,
        sessionId: req.sessionId,
        startedAt,
        ...(plan.command !== undefined ? { command: plan.command } : { argv: plan.argv! }),
        cwd: plan.launch.cwd,
        sandbox: plan.launch.plan.sandbox
          ? { network: plan.launch.plan.sandbox.network, writableRoots: plan.launch.plan.sandbox.writableRoots }
          : null,
        timeoutMs: plan.timeoutMs,
        timeoutClamped: plan.timeoutClamped,
        ...(plan.hookRuns ? { hooks: plan.hookRuns, hookWarnings: plan.hookWarnings ?? [] } : {}),
        ...(this.hooks?.hasPost ? { postHooks: (e: Execution) => this.runPostHooks(e, this.hooks!) } : {}),
        idleTimeoutMs: req.idleTimeoutMs ?? this.config.idleTimeoutMs,
        graceMs: this.config.graceMs,
        background: req.background ?? false,
        outputBufferBytes: this.config.outputBufferBytes,
        maxOutputBytes: this.config.maxOutputBytes,
        inlineOutputChars: this.config.inlineOutputChars,
        maxChunkBytes: this.config.progressChunkBytes,
        readGather: this.readGather,
        interactive: req.interactive === true || req.pty !== undefined,
        inputQuietMs: this.config.inputQuietMs,
        load: this.load,
        historyKey: plan.historyKey,
        expectedMs: plan.expectedMs,
        timeoutRequested: plan.timeoutRequested,
        meta: { transport: req.transport ?? 'internal', env: { ...(req.env ?? {}) }, loadAtStart: this.load.current() },
      },
      handle,
    );
    this.executions.set(id, execution);
    this.emit('started', execution);
    this.logger.info({ execution: shortId(id), session: shortId(req.sessionId), pid: handle.describe().pid }, 'execution started');
    void execution.done.then(() => {
      const s = execution.snapshot();
      // Only runs that ended by themselves say how long this kind of command takes.
      if (s.terminationReason === null) this.history?.record(execution.historyKey, s.durationMs);
      // First: the final record, which execute's answer waits for.
      this.emit('exited', execution);
      // The line is a synchronous write to stderr: after the answer (which goes out in this turn's promise
      // jobs), not between the exit and it. At shutdown a thousand of these would be a thousand synchronous
      // writes: one summary line instead.
      const level = this.closing ? 'debug' : 'info';
      setImmediate(() =>
        this.logger[level](
          { execution: shortId(id), exitCode: s.exitCode, signal: s.signal, reason: s.terminationReason, durationMs: s.durationMs },
          'execution exited',
        ),
      );
      this.prune();
    });
    return execution;
  }

  private runPostHooks(execution: Execution, hooks: HookRunner): Promise<void> {
    const { truncated, ...view } = viewOf(execution);
    // Hooks have always read `outputTruncated`: the public name stays.
    const record = { ...view, outputTruncated: truncated };
    return hooks.runPost(record, (run, warning) => execution.addHookRun(run, warning));
  }

  private checkLimits(sessionId: string): (() => void) | void {
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
    return this.limits.beforeSpawn?.();
  }

  /** The execution in memory with this full id or unique prefix; undefined when none (AMBIGUOUS_ID when several). */
  lookup(idOrPrefix: string): Execution | undefined {
    return matchId(this.executions.values(), idOrPrefix, this.executions.get(idOrPrefix));
  }

  /** Like lookup, but NOT_FOUND when no execution in memory matches. */
  find(idOrPrefix: string): Execution {
    const found = this.lookup(idOrPrefix);
    if (!found) throw new ServerError('NOT_FOUND', `no execution with id ${idOrPrefix}`);
    return found;
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
      // An exited one counts while members it left behind live: they are released with the TTL too.
      if (!e.background || (e.state === 'exited' && !e.hasLiveProcesses())) continue;
      // Not cleared when the leader exits: members it leaves behind are released by this timer too
      // (terminate on an exited execution with nothing alive does nothing).
      const timer = setTimeout(() => void e.terminate('detached_ttl'), ttlMs);
      timer.unref();
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
    // Journal entries go once their groups are gone: bounded, as a member that survived SIGKILL never goes.
    await Promise.race([Promise.all([...this.forgetting]), new Promise((r) => setTimeout(r, SHUTDOWN_JOURNAL_MS).unref())]);
    await this.journal?.settled();
    if (all.length > 0) this.logger.info({ executions: all.length }, `shutdown: ${all.length} execution(s) ended`);
  }

  /** Synchronous SIGKILL to everything we ever started that may still be alive. */
  killAllNow(): void {
    for (const e of this.executions.values()) e.killNow();
    this.backend.killAllNow?.();
    this.hooks?.killAllNow();
  }

  private prune(): void {
    // Called at every exit: a thousand executions ending at shutdown must not scan the map a thousand times.
    if (this.executions.size <= MAX_EXITED_IN_MEMORY) return;
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

// The engine: one object holding the shared parts (backend, executions, records, sessions...), the one lookup of
// an execution (live or past), the one reader of its output, and close(). main.ts and the tests build it alike.
import { join } from 'node:path';
import type { ExecutionBackend } from './backends/backend.js';
import { createBackend } from './backends/create-backend.js';
import { baseChildEnv } from './backends/local/child-env.js';
import { spawnGroupHandle } from './backends/local/group-handle.js';
import { localServerIdentity } from './backends/local/server-identity.js';
import { resolveShell } from './backends/local/shell.js';
import { ConfigError, type Config } from './config.js';
import { probeBubblewrap } from './backends/local/bubblewrap-probe.js';
import { sandboxSettings, type SandboxSettings } from './policy/sandbox-policy.js';
import { ServerError } from './errors.js';
import { HookRunner } from './hooks/hook-runner.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { JsonBytesEscaper } from './processes/json-bytes-escaper.js';
import { DurationHistory } from './processes/duration-history.js';
import type { Execution } from './processes/execution.js';
import { ExecutionRegistry } from './processes/execution-registry.js';
import { viewOf, type ExecutionView } from './processes/execution-view.js';
import type { OutputRead, StreamName } from './processes/output-log.js';
import { ExecutionJournal } from './records/execution-journal.js';
import { readOutput, readOutputBefore, readOutputRange, type OutputSource } from './records/output-reader.js';
import { outputPaths } from './records/output-files.js';
import { RecordStore, type ExecutionRecord } from './records/record-store.js';
import { SessionRegistry } from './sessions/session-registry.js';
import { deriveMaxExecutions, FdBudget } from './system/fd-budget.js';
import { LoadMonitor } from './system/load-monitor.js';

/** An execution named by id or prefix: in memory (`execution`) or known only from its record. */
export interface FoundExecution {
  /** The full id. */
  id: string;
  /** Running, or exited recently enough to still be in memory; undefined for a past execution. */
  execution: Execution | undefined;
}

/** What `status` and the record resource show of one execution: live from memory, past from its record. */
export type ExecutionDetails = ((ExecutionView & { transport: string; saveErrors: string[] }) | ExecutionRecord) & {
  /** True while anything the command started is alive (also after its leader exited). */
  groupAlive: boolean;
};

export interface Engine {
  config: Config;
  logger: Logger;
  /** Where commands run (config.backend). */
  backend: ExecutionBackend;
  load: LoadMonitor;
  executions: ExecutionRegistry;
  hooks: HookRunner;
  sessions: SessionRegistry;
  history: DurationHistory;
  records: RecordStore;
  metrics: Metrics;
  /** This process's file descriptors: the limit, how many are open, the refusal before a spawn would fail. */
  fds: FdBudget;
  /**
   * Escapes output bytes into progress frames (one scratch memory for the whole server: each call is synchronous);
   * undefined where WebAssembly is off (`--jitless`): frames are then escaped with JSON.stringify.
   */
  frameEscaper: JsonBytesEscaper | undefined;
  /** Running executions at most: config.maxExecutions, or what the descriptor limit allows. */
  maxExecutions: number;
  serverStartedAt: number;
  /** The sandbox settings every execution is checked against (mode "off" when none), and bwrap's version. */
  sandbox: SandboxSettings & { bwrap: string | null };
  /** The execution with this full id or unique prefix: in memory first, then the saved records. NOT_FOUND, AMBIGUOUS_ID. */
  find(idOrPrefix: string): FoundExecution;
  /** Like find, but only an execution in memory (control acts on those). */
  findLive(idOrPrefix: string): Execution;
  /** Its snapshot with inline output (live) or its record (past), with `groupAlive`. */
  details(found: FoundExecution): ExecutionDetails;
  /** Output after `sinceSeq`: memory window first, then the log files. */
  readOutput(found: FoundExecution, sinceSeq: number, maxBytes: number): Promise<OutputRead>;
  /** Scrollback: the output just before `beforeSeq` (status `beforeSeq`, the console's earlier windows). */
  readOutputBefore(found: FoundExecution, beforeSeq: number, maxBytes: number): Promise<OutputRead & { earlier: boolean }>;
  /** A byte range of one stream's full log. */
  readOutputRange(
    found: FoundExecution,
    stream: StreamName,
    byteOffset: number,
    length: number,
  ): Promise<{ data: string; bytes: number; eof: boolean }>;
  /** The path of one stream's full log on disk (status grep and lines read it line by line). NOT_FOUND when none is saved. */
  outputLogPath(found: FoundExecution, stream: StreamName): string;
  /**
   * Stop everything: refuse new work, terminate every execution (TERM, grace, KILL), let hooks and records
   * finish, then close the backend. Transports close their sockets after it. Safe to call twice.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
  /**
   * The synchronous last resort before the process exits (hard stop, second signal, fatal error): SIGKILL
   * everything we started, then write every record still open as final. Safe at any time, and more than once.
   */
  stopNow(): void;
}

export interface EngineOptions {
  sampleLoad?: boolean;
  /** The config file the settings came from (absolute): the sandbox hides it. */
  configFile?: string | undefined;
}

/**
 * Build the engine. Throws ConfigError (one line for the operator) when the configuration cannot be honoured,
 * e.g. `sandbox` on where bubblewrap cannot run.
 */
export function createEngine(config: Config, logger: Logger, opts: EngineOptions = {}): Engine {
  const sandbox = { ...sandboxSettings(config, opts.configFile), bwrap: null as string | null };
  let backendExtras = {};
  if (config.sandbox !== 'off') {
    // Refuse to start rather than run commands unconfined that the operator asked to confine.
    const probe = probeBubblewrap();
    if (!probe.ok) throw new ConfigError(`sandbox is "${config.sandbox}" but ${probe.reason}`);
    sandbox.bwrap = probe.tools.version;
    backendExtras = { sandbox: probe.tools };
  }
  const load = new LoadMonitor(
    {
      cpuThreshold: config.loadCpuThreshold,
      gpuThreshold: config.loadGpuThreshold,
      multiplier: config.loadMultiplier,
      cpuSampleMs: config.cpuSampleMs,
      gpuSampleMs: config.gpuSampleMs,
    },
    logger,
  );
  if (opts.sampleLoad ?? true) load.start();
  const history = new DurationHistory(join(config.dataDir, 'history.json'), logger);
  const backend = createBackend(config, backendExtras);
  const containment = backend.capabilities().containment;
  // Once, at start: how commands are held, and (when auto fell back) why not by cgroups.
  if (config.containment === 'auto' && containment.mode !== 'cgroup')
    logger.warn({ containment }, `containment: ${containment.mode}: ${containment.reason}`);
  else logger.info({ containment }, `containment: ${containment.mode}: ${containment.reason}`);
  const journal = new ExecutionJournal(config.dataDir);
  const fds = new FdBudget();
  const fdLimit = fds.limits?.soft ?? Infinity;
  const safeExecutions = deriveMaxExecutions(fdLimit, config.maxSessions);
  const maxExecutions = config.maxExecutions ?? safeExecutions;
  if (config.maxExecutions !== undefined && config.maxExecutions > safeExecutions) {
    logger.warn(
      { maxExecutions: config.maxExecutions, fdLimit, safe: safeExecutions },
      'maxExecutions is more than the file-descriptor limit allows: executions beyond it are refused with RESOURCE_EXHAUSTED',
    );
  }
  // Hooks are the server's own configuration: they always run on the server's machine, whatever the backend.
  const hooks = new HookRunner(
    config.hooks,
    { shell: resolveShell(config.shell), maxTimeoutMs: config.maxTimeoutMs, baseEnv: baseChildEnv, spawn: spawnGroupHandle },
    logger,
  );
  const executions = new ExecutionRegistry(
    config,
    backend,
    load,
    logger,
    { maxExecutions, maxExecutionsPerSession: config.maxExecutionsPerSession, beforeSpawn: () => fds.checkSpawn() },
    history,
    hooks,
    sandbox,
    journal,
  );
  const records = new RecordStore(
    config.dataDir,
    {
      maxRecords: config.maxRecords,
      maxLogBytes: config.maxLogBytes,
      retentionProtectMs: config.retentionProtectMs,
      graceMs: config.graceMs,
      backend,
      identity: localServerIdentity(),
      journal,
    },
    logger,
  );
  executions.on('started', (e) => records.begin(e, e.meta));
  // The record is final once the postExecute hooks have run (their runs are part of it).
  executions.on('exited', (e) => {
    const finished = hooks.hasPost ? e.postHooksDone.then(() => records.finish(e)) : records.finish(e);
    // Record and logs final: the output window leaves memory, reads of this run come from disk (issue 18.3),
    // and once nothing it started is alive, so do its handle and inline output (a member left running keeps
    // them: it is still ours to signal).
    // A macrotask later: the execute call waiting for this record builds its result from memory first
    // (after retire, the inline text is read back from the record).
    void finished.then(() =>
      setImmediate(() => {
        if (!records.complete(e.id)) return;
        if (!e.retire(() => records.savedText(e.id))) e.log.release();
      }),
    );
  });
  const sessions = new SessionRegistry(
    executions,
    {
      maxSessions: config.maxSessions,
      sessionIdleMs: config.sessionIdleMs,
      httpSessionIdleMs: config.httpSessionIdleMs,
      reservedSessions: config.reservedSessions,
      detachedTtlMs: config.detachedTtlMs,
      highWaterBytes: config.highWaterBytes,
      lowWaterBytes: config.lowWaterBytes,
    },
    logger,
  );
  const metrics = createMetrics({ executions, sessions, load });

  const find = (idOrPrefix: string): FoundExecution => {
    const execution = executions.lookup(idOrPrefix);
    if (execution) return { id: execution.id, execution };
    const past = records.lookup(idOrPrefix);
    if (past) return { id: past.summary.id, execution: undefined };
    throw new ServerError('NOT_FOUND', `no execution with id ${idOrPrefix}`);
  };
  const source = (found: FoundExecution): OutputSource => ({
    execution: found.execution,
    base: records.baseOf(found.id),
    written: () => records.outputWritten(found.id),
  });
  let closing: Promise<void> | undefined;

  // A plain object, not a class: tools receive it spread together with their session.
  return {
    config,
    logger,
    backend,
    load,
    executions,
    hooks,
    sessions,
    history,
    records,
    metrics,
    fds,
    frameEscaper: JsonBytesEscaper.create(),
    maxExecutions,
    serverStartedAt: Date.now(),
    sandbox,
    find,
    findLive(idOrPrefix) {
      return executions.find(idOrPrefix);
    },
    details(found) {
      const e = found.execution;
      if (!e) return { ...records.read(found.id), groupAlive: false };
      return { ...viewOf(e), transport: e.meta.transport, groupAlive: e.hasLiveProcesses(), saveErrors: records.saveErrors(e.id) };
    },
    readOutput: (found, sinceSeq, maxBytes) => readOutput(found.id, source(found), sinceSeq, maxBytes),
    readOutputBefore: (found, beforeSeq, maxBytes) => readOutputBefore(found.id, source(found), beforeSeq, maxBytes),
    readOutputRange: (found, stream, byteOffset, length) => readOutputRange(found.id, source(found), stream, byteOffset, length),
    outputLogPath(found, stream) {
      const base = records.baseOf(found.id);
      if (base === undefined) throw new ServerError('NOT_FOUND', `no ${stream} log is saved for ${found.id}`);
      return outputPaths(base)[stream];
    },
    stopNow() {
      executions.killAllNow();
      records.finalizeNow();
    },
    close({ graceMs = config.graceMs } = {}) {
      closing ??= (async () => {
        load.stop();
        sessions.stop();
        // Executions first, so in-flight calls answer with terminationReason 'shutdown' before sockets close.
        await executions.shutdown(graceMs);
        await records.flush();
        metrics.close();
        // No debounced write may recreate the data directory after the caller removed it.
        history.flush();
        await backend.close();
      })();
      return closing;
    },
  };
}

// Builds the shared engine (load monitor, executions, sessions) from a config; main.ts and tests use the same path.
import type { ExecutionBackend } from './backends/backend.js';
import { createBackend } from './backends/create-backend.js';
import { baseChildEnv } from './backends/local/child-env.js';
import { spawnGroupHandle } from './backends/local/group-handle.js';
import { localServerIdentity } from './backends/local/server-identity.js';
import { resolveShell } from './backends/local/shell.js';
import type { Config } from './config.js';
import { HookRunner } from './hooks/hook-runner.js';
import type { Logger } from './logger.js';
import { join } from 'node:path';
import { DurationHistory } from './processes/duration-history.js';
import { RecordStore } from './records/record-store.js';
import { createMetrics, type Metrics } from './metrics.js';
import { ExecutionRegistry } from './processes/execution-registry.js';
import { SessionRegistry } from './sessions/session-registry.js';
import { LoadMonitor } from './system/load-monitor.js';

export interface EngineParts {
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
  serverStartedAt: number;
}

export function createEngine(config: Config, logger: Logger, opts: { sampleLoad?: boolean } = {}): EngineParts {
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
  const backend = createBackend(config);
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
    { maxExecutions: config.maxExecutions, maxExecutionsPerSession: config.maxExecutionsPerSession },
    history,
    hooks,
  );
  const records = new RecordStore(
    config.dataDir,
    {
      maxRecords: config.maxRecords,
      maxLogBytes: config.maxLogBytes,
      graceMs: config.graceMs,
      backend,
      identity: localServerIdentity(),
    },
    logger,
  );
  executions.on('started', (e) => records.begin(e, e.meta));
  // The record is final once the postExecute hooks have run (their runs are part of it).
  executions.on('exited', (e) => void (hooks.hasPost ? e.postHooksDone.then(() => records.finish(e)) : records.finish(e)));
  const sessions = new SessionRegistry(
    executions,
    {
      maxSessions: config.maxSessions,
      sessionIdleMs: config.sessionIdleMs,
      detachedTtlMs: config.detachedTtlMs,
      highWaterBytes: config.highWaterBytes,
      lowWaterBytes: config.lowWaterBytes,
    },
    logger,
  );
  const metrics = createMetrics({ executions, sessions, load });
  return { config, logger, backend, load, executions, hooks, sessions, history, records, metrics, serverStartedAt: Date.now() };
}

// /health: what the service is doing and whether something is really wrong; /healthz: a bare liveness answer.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { FdReport } from '../src/system/fd-budget.js';
import { SERVICE_NAME, VERSION } from '../src/version.js';
import type { Engine } from './context.js';

export interface HealthReport {
  status: 'ok' | 'degraded';
  /** Present only when degraded: one sentence per problem. */
  reasons?: string[];
  service: string;
  version: string;
  uptimeSeconds: number;
  sessions: number;
  maxSessions: number;
  /** Running executions at most (configured, or derived from the descriptor limit). */
  maxExecutions: number;
  executions: { running: number; paused: number; detached: number };
  /** The descriptor budget: soft limit (what EMFILE counts against), hard limit, open now, kept free, per execution. */
  fileDescriptors: FdReport;
  load: { cpu: number | null; gpu: number | null; sampledAt: string | null; multiplier: number };
  /** The sandbox mode ("off", "available", "always") and its network default. */
  sandbox: { mode: string; network: string };
  /** How commands are held (cgroup or process group) and why. */
  containment: { mode: string; reason: string };
}

/**
 * Whether the data directory can be written: it exists and is writable, or it does not exist yet and
 * its nearest existing ancestor is a writable directory (so it can be created). Two or three syscalls.
 */
export async function checkWritableDir(path: string): Promise<string | undefined> {
  let dir = resolve(path);
  for (;;) {
    try {
      const info = await stat(dir);
      if (!info.isDirectory()) return `dataDir ${resolve(path)} is not a directory and cannot be created (${dir} is not a directory)`;
      await access(dir, constants.W_OK);
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(dir) !== dir) {
        dir = dirname(dir);
        continue;
      }
      return `dataDir ${resolve(path)} is not writable (${code ?? (e as Error).message})`;
    }
  }
}

export async function checkHealth(engine: Engine, opts: { shuttingDown?: boolean } = {}): Promise<HealthReport> {
  const { config } = engine;
  const counts = engine.executions.counts();
  const load = engine.load.current();
  const reasons: string[] = [];
  if (opts.shuttingDown) reasons.push('the server is shutting down');
  const dataDirProblem = await checkWritableDir(config.dataDir);
  if (dataDirProblem) reasons.push(dataDirProblem);
  // Idle HTTP sessions are reclaimed for newcomers: only a limit nothing can be freed from refuses anyone.
  if (engine.sessions.refuses('websocket'))
    reasons.push(`sessions at maxSessions (${config.maxSessions}), none idle to reclaim: new connections are refused`);
  if (counts.running + counts.paused >= engine.maxExecutions) {
    reasons.push(`executions at maxExecutions (${engine.maxExecutions}): new executions are refused`);
  }
  const fds = engine.fds.report();
  if (engine.fds.refusesSpawn(fds)) {
    reasons.push(
      `file descriptors nearly exhausted (${Number.isFinite(fds.inUse) ? fds.inUse : 'all'} of ${fds.limit} open): new executions are refused`,
    );
  }
  return {
    status: reasons.length === 0 ? 'ok' : 'degraded',
    ...(reasons.length > 0 ? { reasons } : {}),
    service: SERVICE_NAME,
    version: VERSION,
    uptimeSeconds: Math.round((Date.now() - engine.serverStartedAt) / 1000),
    sessions: engine.sessions.size,
    maxSessions: config.maxSessions,
    maxExecutions: engine.maxExecutions,
    executions: { running: counts.running, paused: counts.paused, detached: counts.background },
    fileDescriptors: { ...fds, inUse: fds.inUse !== null && Number.isFinite(fds.inUse) ? fds.inUse : fds.limit },
    load: { cpu: load.cpu, gpu: load.gpu, sampledAt: load.sampledAt, multiplier: load.multiplier },
    sandbox: (({ mode, network }) => ({ mode, network }))(engine.executions.sandboxSummary()),
    containment: engine.executions.containment,
  };
}

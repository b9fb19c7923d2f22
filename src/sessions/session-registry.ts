// Every transport registers its sessions here: limits, activity, and disconnect -> the session's executions die.
import { randomUUID } from 'node:crypto';
import { ServerError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ExecutionRegistry } from '../processes/execution-registry.js';
import { shortId } from '../processes/execution-registry.js';
import { FlowMeter } from './flow-meter.js';

const IDLE_SWEEP_MAX_MS = 30_000;

/** Every kind of transport a session can come from: a new transport adds its name here (metrics and status follow). */
export const TRANSPORT_KINDS = ['websocket', 'http', 'stdio'] as const;
export type TransportKind = (typeof TRANSPORT_KINDS)[number];

/**
 * Why the server closes a session. Each transport maps the reason onto its own way of closing (a
 * WebSocket close code, ending an HTTP session); the engine knows nothing about frames or codes.
 */
export type SessionCloseReason = 'idle' | 'reclaimed' | 'shutdown' | 'flood';

export interface Session {
  readonly id: string;
  readonly transport: TransportKind;
  readonly createdAt: Date;
  lastActivity: number;
  readonly flow: FlowMeter;
  /** Close the connection from the server side (idle expiry, shutdown...). */
  close(reason: SessionCloseReason): void;
}

export interface SessionOptions {
  maxSessions: number;
  /** Close sessions idle this long with nothing running (0 = never). */
  sessionIdleMs: number;
  detachedTtlMs: number;
  highWaterBytes: number;
  lowWaterBytes: number;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  /** Back-pressure pauses of sessions that have ended (live ones are summed on read). */
  private endedPauses = 0;

  constructor(
    private readonly executions: ExecutionRegistry,
    private readonly options: SessionOptions,
    private readonly logger: Logger,
  ) {
    if (options.sessionIdleMs > 0) {
      const every = Math.max(50, Math.min(options.sessionIdleMs / 4, IDLE_SWEEP_MAX_MS));
      this.sweeper = setInterval(() => this.sweepIdle(), every);
      this.sweeper.unref();
    }
  }

  /** Stop the idle sweep (shutdown, tests). */
  stop(): void {
    clearInterval(this.sweeper);
  }

  /** Record activity (any incoming message). */
  touch(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (s) s.lastActivity = Date.now();
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - this.options.sessionIdleMs;
    for (const s of this.sessions.values()) {
      // stdio is the process's own lifeline: it ends with stdin, not with a timer.
      if (s.transport === 'stdio' || s.lastActivity > cutoff || this.executions.hasLive(s.id)) continue;
      this.logger.info({ session: shortId(s.id), idleMs: Date.now() - s.lastActivity }, 'closing idle session');
      s.close('idle');
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  get atLimit(): boolean {
    return this.sessions.size >= this.options.maxSessions;
  }

  countByTransport(): Record<TransportKind, number> {
    const counts = Object.fromEntries(TRANSPORT_KINDS.map((k) => [k, 0])) as Record<TransportKind, number>;
    for (const s of this.sessions.values()) counts[s.transport]++;
    return counts;
  }

  /** Times any session, open or ended, crossed its high-water mark (a monotonic total for metrics). */
  get backPressurePauses(): number {
    let total = this.endedPauses;
    for (const s of this.sessions.values()) total += s.flow.pauses;
    return total;
  }

  /** Create and register a session; throws LIMIT_REACHED at maxSessions. */
  open(transport: TransportKind, close: Session['close']): Session {
    if (this.atLimit) {
      throw new ServerError('LIMIT_REACHED', `maxSessions (${this.options.maxSessions}) sessions are already open`, {
        limit: 'maxSessions',
      });
    }
    const session: Session = {
      id: randomUUID(),
      transport,
      createdAt: new Date(),
      lastActivity: Date.now(),
      flow: new FlowMeter(this.options.highWaterBytes, this.options.lowWaterBytes),
      close,
    };
    this.sessions.set(session.id, session);
    this.logger.info({ session: shortId(session.id), transport, sessions: this.sessions.size }, 'session opened');
    return session;
  }

  /** Every open session. */
  list(): Session[] {
    return [...this.sessions.values()];
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /**
   * The connection is gone. Synchronously marks the session's executions as terminated by
   * 'disconnect' (before the SDK aborts in-flight handlers, so that reason wins), then waits for them.
   */
  end(sessionId: string): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (!session) return Promise.resolve();
    this.sessions.delete(sessionId);
    this.endedPauses += session.flow.pauses;
    session.flow.close();
    this.logger.info({ session: shortId(sessionId), sessions: this.sessions.size }, 'session closed');
    const released = this.executions.releaseSession(sessionId, 'disconnect');
    this.executions.orphanBackground(sessionId, this.options.detachedTtlMs);
    return released;
  }

  /** Close every connection (shutdown). */
  closeAll(reason: SessionCloseReason = 'shutdown'): void {
    for (const s of [...this.sessions.values()]) s.close(reason);
  }
}

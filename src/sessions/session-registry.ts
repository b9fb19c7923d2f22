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
  /**
   * Whether a client is connected right now. Always true for a WebSocket or stdio session; a Streamable
   * HTTP session is connected only while one of its requests or its SSE stream is open. Between
   * requests it is a promise the client may never keep (no DELETE comes), so it may be reclaimed.
   */
  connected(): boolean;
  /**
   * Write one already serialised JSON-RPC message (UTF-8 JSON, no framing) as it is, metered like any
   * other frame; resolves once written. Only on transports that can (WebSocket, stdio, Streamable HTTP):
   * progress output is then serialised once, straight into a buffer, instead of passing through the SDK as
   * an object. `relatedRequestId` is the request the message belongs to (Streamable HTTP sends it on that
   * request's SSE stream; the others ignore it).
   */
  sendFrame?: (frame: Buffer, relatedRequestId?: string | number) => Promise<void>;
  /**
   * Requests of this session being answered right now (set by its protocol once connected). A session with one
   * in flight is never idle: an `execute` still starting (a preExecute hook, a spawn on a loaded machine) has no
   * execution to count yet, and its session must not be closed under it.
   */
  requestsInFlight?: () => number;
}

/** How a transport describes a new session beyond its kind. */
export interface SessionHooks {
  /** See Session.connected (default: always connected). */
  connected?: () => boolean;
  /** See Session.sendFrame. */
  sendFrame?: (frame: Buffer, relatedRequestId?: string | number) => Promise<void>;
}

export interface SessionOptions {
  maxSessions: number;
  /** Close sessions idle this long with nothing running (0 = never). */
  sessionIdleMs: number;
  /** Close a Streamable HTTP session with nothing open and nothing running after this long (0 = sessionIdleMs applies). */
  httpSessionIdleMs: number;
  /** Slots of maxSessions that Streamable HTTP sessions may not take (capped at maxSessions - 1). */
  reservedSessions: number;
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
    const shortest = Math.min(...[options.sessionIdleMs, options.httpSessionIdleMs].filter((ms) => ms > 0));
    if (Number.isFinite(shortest)) {
      const every = Math.max(50, Math.min(shortest / 4, IDLE_SWEEP_MAX_MS));
      this.sweeper = setInterval(() => this.sweepIdle(), every);
      this.sweeper.unref();
    }
  }

  /** Streamable HTTP sessions may hold at most this many slots: the rest is kept for WebSocket and stdio clients. */
  get maxHttpSessions(): number {
    return this.options.maxSessions - Math.min(this.options.reservedSessions, this.options.maxSessions - 1);
  }

  /** How long this session may stay idle with nothing running before it is closed (0 = forever). */
  private idleLimitMs(s: Session): number {
    const { sessionIdleMs, httpSessionIdleMs } = this.options;
    if (s.transport !== 'http' || s.connected() || httpSessionIdleMs === 0) return sessionIdleMs;
    return sessionIdleMs === 0 ? httpSessionIdleMs : Math.min(sessionIdleMs, httpSessionIdleMs);
  }

  /**
   * A session that can be closed to make room: Streamable HTTP, no request or stream open, nothing of its
   * own running (background executions too). Its client, if it ever comes back, gets 404 and initializes
   * again, as the spec tells it to.
   */
  private reclaimable(s: Session): boolean {
    return s.transport === 'http' && !s.connected() && !this.executions.hasLive(s.id);
  }

  /** The least recently active reclaimable session, if any. */
  private leastRecentlyActiveIdle(): Session | undefined {
    let oldest: Session | undefined;
    for (const s of this.sessions.values()) {
      if (this.reclaimable(s) && (oldest === undefined || s.lastActivity < oldest.lastActivity)) oldest = s;
    }
    return oldest;
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
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      const limit = this.idleLimitMs(s);
      // stdio is the process's own lifeline: it ends with stdin, not with a timer.
      if (s.transport === 'stdio' || limit === 0 || now - s.lastActivity < limit || this.executions.hasLive(s.id)) continue;
      if ((s.requestsInFlight?.() ?? 0) > 0) continue;
      this.logger.info({ session: shortId(s.id), transport: s.transport, idleMs: now - s.lastActivity }, 'closing idle session');
      s.close('idle');
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  get atLimit(): boolean {
    return this.sessions.size >= this.options.maxSessions;
  }

  /** Whether a new session of this kind would be refused: no free slot for it, and none to reclaim. */
  refuses(kind: TransportKind): boolean {
    return this.isFull(kind) && this.leastRecentlyActiveIdle() === undefined;
  }

  /** Whether a session of this kind finds no free slot (before reclaiming). */
  private isFull(kind: TransportKind): boolean {
    if (this.sessions.size >= this.options.maxSessions) return true;
    return kind === 'http' && this.countByTransport().http >= this.maxHttpSessions;
  }

  /** Free a slot for a new session of this kind by closing the least recently active idle HTTP session. */
  private makeRoom(kind: TransportKind): void {
    if (!this.isFull(kind)) return;
    const victim = this.leastRecentlyActiveIdle();
    if (!victim) {
      const httpFull = kind === 'http' && this.sessions.size < this.options.maxSessions;
      throw new ServerError(
        'LIMIT_REACHED',
        httpFull
          ? `maxSessions (${this.options.maxSessions}) less reservedSessions: ${this.maxHttpSessions} HTTP sessions are open and busy`
          : `maxSessions (${this.options.maxSessions}) sessions are already open and busy`,
        { limit: 'maxSessions' },
      );
    }
    this.logger.info(
      { session: shortId(victim.id), idleMs: Date.now() - victim.lastActivity, for: kind },
      'reclaiming the least recently active idle HTTP session',
    );
    victim.close('reclaimed');
    // The transport ends the session from its close handler; make sure the slot is free either way.
    void this.end(victim.id);
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

  /**
   * Create and register a session. At the limit (maxSessions, or for HTTP its share of it), the least
   * recently active idle HTTP session is closed to make room; LIMIT_REACHED when there is none.
   */
  open(transport: TransportKind, close: Session['close'], hooks: SessionHooks = {}): Session {
    this.makeRoom(transport);
    const session: Session = {
      id: randomUUID(),
      transport,
      createdAt: new Date(),
      lastActivity: Date.now(),
      flow: new FlowMeter(this.options.highWaterBytes, this.options.lowWaterBytes),
      close,
      connected: hooks.connected ?? (() => true),
      ...(hooks.sendFrame ? { sendFrame: hooks.sendFrame } : {}),
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

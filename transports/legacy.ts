// The original service's JSON-RPC protocol on a WebSocket that offered no subprotocol: same engine, limits and sessions as MCP.
import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { z } from 'zod';
import { ServerError } from '../src/errors.js';
import type { Execution, TerminationReason } from '../src/processes/execution.js';
import { shortId } from '../src/processes/execution-registry.js';
import { matchId } from '../src/processes/id-lookup.js';
import type { Session } from '../src/sessions/session-registry.js';
import { VERSION } from '../src/version.js';
import { CLOSE_CODES, LEGACY_ERRORS } from '../src/wire.js';
import { attachSession } from './attach-session.js';
import type { Engine } from './context.js';
import { toLegacyError, type LegacyError } from './legacy-errors.js';
import { LegacyOutputSubscriber, type ProcessOutputParams } from './legacy-output.js';
import { MAX_PIECE_BYTES, type EscapedText, type JsonPieces } from './legacy-frame-writer.js';
import { LegacyTransport } from './legacy-transport.js';
import { SESSION_CLOSE_FRAMES } from './websocket.js';

type RequestId = string | number | null;
type Params = Record<string, unknown>;

const ExecuteParamsSchema = z.object({
  command: z.string({ error: '`command` must be a string' }),
  timeout: z.number().min(0, '`timeout` is in seconds and cannot be negative').nullish(),
  cwd: z.string().nullish(),
  env: z.record(z.string(), z.string({ error: '`env` values must be strings' })).nullish(),
});

const CONTROL_TYPES = ['PAUSE', 'RESUME', 'CANCEL'] as const;
const ControlParamsSchema = z.object({
  type: z
    .string({ error: '`type` must be one of PAUSE, RESUME, CANCEL' })
    .transform((t) => t.toUpperCase())
    .pipe(z.enum(CONTROL_TYPES, { error: '`type` must be one of PAUSE, RESUME, CANCEL' })),
  // A string names one of this connection's processes. A number is the original's correlation id: ignored.
  id: z.union([z.string(), z.number()]).nullish(),
});

const CONTROL_STATUS = { PAUSE: 'paused', RESUME: 'resumed', CANCEL: 'canceled' } as const;

function describeZodError(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

function describeReason(reason: TerminationReason, timeoutMs: number): string {
  switch (reason) {
    case 'timeout':
      return `timed out after ${timeoutMs / 1000} s; the process group was terminated`;
    case 'idle_timeout':
      return 'no output for too long (idle timeout); the process group was terminated';
    case 'cancel':
      return 'canceled';
    case 'shutdown':
      return 'the server is shutting down; the process group was terminated';
    default:
      return `terminated (${reason})`;
  }
}

/** The original reported a process killed by a signal as a negative exit code (Python's returncode). */
function legacyExitCode(exitCode: number | null, signal: string | null): number | null {
  if (exitCode !== null) return exitCode;
  const number = signal ? osConstants.signals[signal as NodeJS.Signals] : undefined;
  return number === undefined ? null : -number;
}

/**
 * One `process.output` notification as pieces of JSON text (see JsonPieces): the same message as
 * `{jsonrpc, method, params: {...params, id}}` serialised, with only the output text escaped on its own.
 * Why: a notification per line is many notifications; this builds no message object, no serialisation and no
 * escaped copy of the text (the writer escapes it into the frame): less garbage, fewer scavenges promoting what
 * a slow reader holds.
 */
function outputPieces(o: ProcessOutputParams, idJson: string, wholeLineTail: string): JsonPieces {
  const tail =
    !o.truncated && o.chunk_index === null
      ? wholeLineTail
      : `,"truncated":${o.truncated},"chunk_index":${o.chunk_index},"total_chunks":${o.total_chunks},"id":${idJson}}}`;
  return [OUTPUT_HEADS[o.type], ...escapedPieces(o.data), tail];
}

/**
 * Characters escaped at a time: at most six bytes each once escaped (a NUL is \u0000), so every piece fits
 * a frame buffer (MAX_PIECE_BYTES).
 */
const ESCAPE_PIECE_CHARS = Math.floor(MAX_PIECE_BYTES / 6);

/** `JSON.stringify(text)` as pieces (quotes included), escaped as they are written, never splitting a surrogate pair. */
function escapedPieces(text: string): JsonPieces {
  if (text.length <= ESCAPE_PIECE_CHARS) return ['"', { escape: text }, '"'];
  const pieces: Array<string | EscapedText> = ['"'];
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + ESCAPE_PIECE_CHARS);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--;
    pieces.push({ escape: text.slice(start, end) });
    start = end;
  }
  pieces.push('"');
  return pieces;
}

/** What precedes the output text in a `process.output` notification, per stream. */
const OUTPUT_HEADS = {
  stdout: '{"jsonrpc":"2.0","method":"process.output","params":{"type":"stdout","data":',
  stderr: '{"jsonrpc":"2.0","method":"process.output","params":{"type":"stderr","data":',
} as const;

/** Serve one original-protocol connection until it closes. */
export async function serveLegacyConnection(engine: Engine, ws: WebSocket, socket?: Duplex): Promise<void> {
  const { config, logger } = engine;
  const transport = new LegacyTransport(ws, {
    pingIntervalMs: config.pingIntervalMs,
    ...(socket ? { socket } : {}),
    highWaterBytes: config.highWaterBytes,
    framesPerSecond: config.wsFramesPerSecond,
    errorBudget: config.wsErrorBudget,
    onflood: () => logger.warn({ protocol: 'original', budget: config.wsErrorBudget }, 'closing a connection that floods errors'),
  });
  let connection: LegacyConnection | undefined;
  try {
    await attachSession(engine, {
      kind: 'websocket',
      transport,
      close: (reason) => transport.close(SESSION_CLOSE_FRAMES[reason].code, SESSION_CLOSE_FRAMES[reason].text),
      onEnd: () => connection?.onClose(),
      protocol: (session) => (connection = new LegacyConnection(engine, session)),
    });
  } catch (e) {
    // As the original: an error, then close 1008.
    const err = toLegacyError(e);
    await transport.send({ jsonrpc: '2.0', id: null, error: { ...err, message: `Session limit exceeded: ${err.message}` } });
    transport.close(CLOSE_CODES.POLICY_VIOLATION, 'Session limit exceeded');
  }
}

class LegacyConnection {
  private transport!: LegacyTransport;
  private closed = false;
  /** Aborted when the connection goes: preExecute hooks still running stop, and nothing is spawned. */
  private readonly ac = new AbortController();
  /** Requests are numbered as they arrive: "the most recent process" is the one requested last. */
  private requestSeq = 0;
  /** `execute`s still starting (preExecute hooks can take seconds); other messages do not wait for them. */
  private readonly pendingStarts = new Set<Promise<void>>();
  /** This connection's executions with their output subscribers and request numbers. */
  private readonly executions: Array<{ execution: Execution; output: LegacyOutputSubscriber; seq: number }> = [];
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly session: Session,
  ) {}

  async connect(transport: LegacyTransport): Promise<void> {
    const { sessions, config, logger } = this.engine;
    this.transport = transport;
    const sessionId = this.session.id;
    logger.debug({ session: shortId(sessionId) }, 'original-protocol connection');
    transport.onmessage = (text, isBinary) => {
      sessions.touch(sessionId);
      this.handle(text, isBinary).catch((err: unknown) => logger.error({ err }, 'legacy handler failed'));
    };
    // The original's application heartbeat; a client that never answers it is not closed for that.
    if (config.legacyHeartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.notify('ping', { timestamp: Date.now() / 1000 }), config.legacyHeartbeatMs);
      this.heartbeat.unref();
    }
    await transport.start();
    this.notify('connected', { session_id: sessionId, version: VERSION, capabilities: ['execute', 'control', 'stream'] });
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.ac.abort();
    clearInterval(this.heartbeat);
    for (const { output } of this.executions) output.abandon();
  }

  // ---- frames ----

  /** Send one JSON-RPC message (metered by the transport until written). */
  private send(message: unknown): void {
    void this.transport.send(message);
  }

  private sendBatch(messages: readonly JsonPieces[]): void {
    void this.transport.sendBatch(messages);
  }

  private notify(method: string, params: Params): void {
    this.send({ jsonrpc: '2.0', method, params });
  }

  private respond(id: RequestId, result: unknown): void {
    this.send({ jsonrpc: '2.0', id, result });
  }

  private fail(id: RequestId, error: LegacyError): void {
    this.send({ jsonrpc: '2.0', id, error });
  }

  // ---- JSON-RPC ----

  private async handle(text: string, isBinary: boolean): Promise<void> {
    if (this.closed) return;
    if (isBinary) return this.fail(null, { code: LEGACY_ERRORS.INVALID_REQUEST, message: 'Invalid Request: send JSON-RPC as text frames' });
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (e) {
      return this.fail(null, { code: LEGACY_ERRORS.PARSE_ERROR, message: `Parse error: ${(e as Error).message}` });
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      const what = Array.isArray(message) ? 'batches are not supported' : 'a message must be a JSON object';
      return this.fail(null, { code: LEGACY_ERRORS.INVALID_REQUEST, message: `Invalid Request: ${what}` });
    }
    const m = message as Record<string, unknown>;
    const hasId = 'id' in m && m.id !== undefined;
    const id: RequestId = typeof m.id === 'string' || (typeof m.id === 'number' && Number.isFinite(m.id)) ? m.id : null;
    if (typeof m.method !== 'string') {
      // A response from the client (we never ask it anything): nothing to answer.
      if ('result' in m || 'error' in m) return;
      return this.fail(id, { code: LEGACY_ERRORS.INVALID_REQUEST, message: 'Invalid Request: `method` must be a string' });
    }
    if (m.params !== undefined && m.params !== null && (typeof m.params !== 'object' || Array.isArray(m.params))) {
      return this.fail(id, { code: LEGACY_ERRORS.INVALID_PARAMS, message: 'Invalid params: `params` must be an object' });
    }
    const params = (m.params ?? {}) as Params;
    try {
      await this.dispatch(m.method, params, id, hasId);
    } catch (e) {
      this.fail(id, toLegacyError(e));
    }
  }

  private async dispatch(method: string, params: Params, id: RequestId, hasId: boolean): Promise<void> {
    switch (method) {
      case 'execute': {
        const started = this.execute(params, id, ++this.requestSeq);
        this.pendingStarts.add(started);
        return started.finally(() => this.pendingStarts.delete(started));
      }
      case 'control':
        return this.control(params, id);
      case 'hook_status':
        return this.respond(id, this.hookStatus());
      case 'ping':
        // A request gets a result; a notification gets a `pong` notification, mirroring our heartbeat.
        if (hasId) return this.respond(id, { status: 'pong', timestamp: Date.now() / 1000 });
        return this.notify('pong', { timestamp: Date.now() / 1000 });
      case 'pong':
        // The answer to our `ping` heartbeat: liveness is already recorded. Only a request is answered.
        if (hasId) this.respond(id, { status: 'ok' });
        return;
      default:
        return this.fail(id, { code: LEGACY_ERRORS.METHOD_NOT_FOUND, message: `Unknown method: ${method}` });
    }
  }

  // ---- methods ----

  /** The original answered `{ enabled, ... }`; ours adds what `status` reports about hooks. */
  private hookStatus(): Params {
    const hooks = this.engine.executions.hookRunner?.describe();
    if (!hooks || hooks.count === 0) return { enabled: false, message: 'no hooks are configured on this server', ...(hooks ?? {}) };
    return { enabled: true, ...hooks };
  }

  private async execute(raw: Params, id: RequestId, seq: number): Promise<void> {
    const parsed = ExecuteParamsSchema.safeParse(raw);
    if (!parsed.success) {
      return this.fail(id, { code: LEGACY_ERRORS.INVALID_PARAMS, message: `Invalid params: ${describeZodError(parsed.error)}` });
    }
    const p = parsed.data;
    // The original rejected an empty command through its command validation, with -32001.
    if (p.command.trim() === '') return this.fail(id, { code: LEGACY_ERRORS.COMMAND_NOT_ALLOWED, message: 'Command cannot be empty' });
    const execution = await this.engine.executions.start({
      sessionId: this.session.id,
      // The session is a 'websocket' one (limits, cleanup); the record says which protocol it spoke.
      transport: 'legacy',
      command: p.command,
      ...(p.timeout ? { timeoutMs: Math.max(1, Math.round(p.timeout * 1000)) } : {}),
      ...(p.cwd != null ? { cwd: p.cwd } : {}),
      ...(p.env != null ? { env: p.env } : {}),
      signal: this.ac.signal,
    });
    if (this.closed) {
      // The client left while we were spawning: nobody owns this process any more.
      void execution.terminate('disconnect');
      return;
    }
    const { pid, pgid } = execution.handle.describe();
    const idJson = JSON.stringify(execution.id);
    const wholeLineTail = `,"truncated":false,"chunk_index":null,"total_chunks":null,"id":${idJson}}}`;
    const output = new LegacyOutputSubscriber({
      maxLineChars: this.engine.config.legacyMaxLineChars,
      flow: this.session.flow,
      emit: (batch: readonly ProcessOutputParams[]) => this.sendBatch(batch.map((o) => outputPieces(o, idJson, wholeLineTail))),
    });
    this.executions.push({ execution, output, seq });
    this.respond(id, { status: 'started', pid, pgid, id: execution.id });
    this.notify('process.started', this.statusUpdate('started', execution));
    // Attached after the two frames above, so output can never overtake them.
    output.attach(execution.log);
    void execution.done
      .then(() => this.completed(execution, output))
      .catch((err: unknown) => this.engine.logger.error({ err }, 'legacy completion failed'));
  }

  private async completed(execution: Execution, output: LegacyOutputSubscriber): Promise<void> {
    const index = this.executions.findIndex((e) => e.execution === execution);
    if (index >= 0) this.executions.splice(index, 1);
    if (this.closed) return;
    // The last output may still wait for a slow client to read: it goes out before process.completed.
    await output.close();
    // As execute's result does: an event that says the run finished comes after its final record and output
    // logs are on disk, so a client reading them on process.completed sees what it was told. With postExecute
    // hooks the record is final only after them, and they run after this event (hooks/).
    await this.engine.records.settled(execution.id);
    if (this.closed) return;
    const s = execution.snapshot();
    const reason = s.terminationReason;
    const error = reason ? describeReason(reason, s.timeout.requestedMs) : s.signal ? `killed by ${s.signal}` : null;
    if (reason && reason !== 'cancel') this.notify('process.error', { error, id: s.id, pid: s.pid, pgid: s.pgid });
    this.notify('process.completed', {
      status: reason === null && s.exitCode === 0 ? 'completed' : 'failed',
      pid: s.pid,
      pgid: s.pgid,
      exit_code: legacyExitCode(s.exitCode, s.signal),
      error,
      execution_time: s.durationMs / 1000,
      id: s.id,
      signal: s.signal,
      reason,
    });
  }

  private async control(raw: Params, id: RequestId): Promise<void> {
    const parsed = ControlParamsSchema.safeParse(raw);
    if (!parsed.success) {
      return this.fail(id, { code: LEGACY_ERRORS.INVALID_PARAMS, message: `Invalid params: ${describeZodError(parsed.error)}` });
    }
    const { type, id: target } = parsed.data;
    // Without an id, an `execute` sent earlier that is still starting is the one meant: wait for it.
    if (typeof target !== 'string') await Promise.allSettled([...this.pendingStarts]);
    const execution = this.findTarget(typeof target === 'string' ? target : undefined);
    if (type === 'PAUSE') {
      if (execution.state !== 'paused') await execution.pause();
    } else if (type === 'RESUME') {
      if (execution.state === 'paused') await execution.resume();
    } else if (execution.terminationReason === null) {
      // TERM (and CONT, so a paused group can act on it), grace period, KILL; process.completed follows.
      void execution.terminate('cancel');
    }
    const status = CONTROL_STATUS[type];
    this.respond(id, { status, id: execution.id });
    this.notify(`process.${status}`, this.statusUpdate(status, execution));
  }

  /** The named process of this connection, or without a name the most recently requested one still running. */
  private findTarget(target: string | undefined): Execution {
    // A process being canceled still counts: a second CANCEL must not fall through to an older process.
    const running = this.executions.filter((e) => e.execution.state !== 'exited').sort((a, b) => a.seq - b.seq);
    const live = running.map((e) => e.execution);
    if (target === undefined) {
      const latest = live[live.length - 1];
      if (!latest) throw new ServerError('NOT_FOUND', 'No process is running');
      return latest;
    }
    const mine = this.engine.executions.list({ sessionId: this.session.id });
    const found = matchId(
      mine,
      target,
      mine.find((e) => e.id === target),
      'processes',
    );
    if (!found) throw new ServerError('NOT_FOUND', `No process with id ${target} on this connection`);
    if (!live.includes(found)) throw new ServerError('INVALID_STATE', `Process ${found.id} is not running`, { state: found.state });
    return found;
  }

  private statusUpdate(status: string, e: Execution): Params {
    const { pid, pgid } = e.handle.describe();
    return { status, pid, pgid, exit_code: null, error: null, id: e.id };
  }
}

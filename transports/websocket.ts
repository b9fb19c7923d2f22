// The SDK Transport over one `ws` connection: one JSON-RPC message per text frame, heartbeat, send() that resolves once written.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage, type MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';
import { CLOSE_CODES, JSONRPC_ERRORS } from '../src/wire.js';
import type { SessionCloseReason } from '../src/sessions/session-registry.js';
import type { MeteredTransport } from './attach-session.js';
import { FrameGovernor, type FrameGovernorOptions } from './frame-governor.js';

const CLOSE_TIMEOUT_MS = 2_000;

export interface WebSocketTransportOptions extends FrameGovernorOptions {
  /** Protocol-level ping interval; a peer that misses one pong is terminated. */
  pingIntervalMs: number;
  /** Request headers of the upgrade, passed to handlers as `extra.requestInfo.headers`. */
  headers?: IncomingHttpHeaders;
}

export class WebSocketServerTransport implements Transport, MeteredTransport {
  onclose?: () => void;
  onframe?: (bytes: number, written: Promise<unknown>) => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  /** The registry's session id, set once the session is attached (handlers see it as extra.sessionId). */
  sessionId?: string;

  private started = false;
  private closeFired = false;
  private alive = true;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Rate of frames read and the error budget (1008 when spent). */
  private readonly governor: FrameGovernor;

  constructor(
    private readonly ws: WebSocket,
    private readonly options: WebSocketTransportOptions,
  ) {
    this.governor = new FrameGovernor(
      ws,
      options,
      (data, isBinary) => this.receive(data, isBinary),
      () => void this.close(SESSION_CLOSE_FRAMES.flood.code, SESSION_CLOSE_FRAMES.flood.text),
    );
  }

  start(): Promise<void> {
    if (this.started) throw new Error('WebSocketServerTransport already started');
    this.started = true;
    this.ws.on('message', (data, isBinary) => {
      this.alive = true;
      this.governor.admit(data, isBinary);
    });
    this.ws.on('pong', () => (this.alive = true));
    this.ws.on('error', (err) => this.onerror?.(err));
    this.ws.on('close', () => this.fireClose());
    this.heartbeat = setInterval(() => this.beat(), this.options.pingIntervalMs);
    this.heartbeat.unref();
    if (this.ws.readyState !== WebSocket.OPEN) this.fireClose();
    return Promise.resolve();
  }

  private beat(): void {
    if (!this.alive) {
      // No pong since the last ping: the peer is gone (cut cable, sleeping laptop). No close frame to wait for.
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    this.alive = true;
    if (isBinary) {
      this.ws.close(CLOSE_CODES.UNSUPPORTED_DATA, 'binary frames are not supported; send JSON-RPC as text');
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      this.reject(null, JSONRPC_ERRORS.PARSE_ERROR, `Parse error: ${(e as Error).message}`);
      return;
    }
    if (Array.isArray(parsed)) {
      this.reject(null, JSONRPC_ERRORS.INVALID_REQUEST, 'Invalid Request: JSON-RPC batches are not supported; send one message per frame');
      return;
    }
    const result = JSONRPCMessageSchema.safeParse(parsed);
    if (!result.success) {
      const id = (parsed as { id?: unknown } | null)?.id;
      const safeId = typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
      this.reject(safeId, JSONRPC_ERRORS.INVALID_REQUEST, 'Invalid Request: not a JSON-RPC 2.0 message');
      return;
    }
    this.onmessage?.(result.data, { requestInfo: { headers: this.options.headers ?? {} } });
  }

  private reject(id: string | number | null, code: number, message: string): void {
    // id null is what JSON-RPC prescribes when the request id could not be read.
    this.sendText(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } })).catch(() => undefined);
    this.governor.countError();
  }

  /** Resolves once `ws` has handed the frame to the socket; rejects if the connection is not open. */
  send(message: JSONRPCMessage): Promise<void> {
    const sent = this.sendText(JSON.stringify(message));
    if ('error' in message) this.governor.countError();
    return sent;
  }

  /**
   * A ready frame: one JSON-RPC message already serialised to UTF-8, sent as a text frame without another
   * copy. While the peer reads slowly, pending frames wait as buffers outside V8's heap, not as strings in it.
   */
  sendFrame(frame: Buffer): Promise<void> {
    return this.sendText(frame);
  }

  /** Every frame goes out here, so `onframe` sees each one with its real size. */
  private sendText(text: string | Buffer): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('WebSocket is not open'));
    const written = new Promise<void>((resolve, reject) => this.ws.send(text, { binary: false }, (err) => (err ? reject(err) : resolve())));
    this.onframe?.(typeof text === 'string' ? Buffer.byteLength(text) : text.length, written);
    return written;
  }

  /** Bytes queued in `ws` but not yet written to the socket. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  close(code: number = CLOSE_CODES.NORMAL, reason = ''): Promise<void> {
    if (this.closeFired) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.fireClose();
        resolve();
      };
      // A peer that never answers the close handshake is cut after a short wait.
      const timer = setTimeout(() => this.ws.terminate(), CLOSE_TIMEOUT_MS);
      timer.unref();
      this.ws.once('close', done);
      if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
      else if (this.ws.readyState === WebSocket.CLOSED) done();
    });
  }

  private fireClose(): void {
    if (this.closeFired) return;
    this.closeFired = true;
    clearInterval(this.heartbeat);
    this.governor.stop();
    this.onclose?.();
  }
}

/** How a WebSocket says each reason the server closes a session: a close code and a short text. */
export const SESSION_CLOSE_FRAMES: Record<SessionCloseReason, { code: number; text: string }> = {
  // 1000: a normal close the client may simply reconnect after.
  idle: { code: CLOSE_CODES.NORMAL, text: 'session idle' },
  reclaimed: { code: CLOSE_CODES.TRY_AGAIN_LATER, text: 'session reclaimed for another client' },
  shutdown: { code: CLOSE_CODES.GOING_AWAY, text: 'server shutting down' },
  flood: { code: CLOSE_CODES.POLICY_VIOLATION, text: 'too many messages or errors on this connection' },
};

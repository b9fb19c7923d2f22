// The SDK Transport over one `ws` connection: one JSON-RPC message per text frame, heartbeat, send() that resolves once written.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage, type MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';

/** Close codes we use (RFC 6455 section 7.4.1). 1006 is reserved for "no close frame" and never sent. */
export const CLOSE_CODES = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
} as const;

/** JSON-RPC error codes the transport answers with before the SDK sees a message. */
export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;

const CLOSE_TIMEOUT_MS = 2_000;

export interface WebSocketTransportOptions {
  sessionId: string;
  /** Protocol-level ping interval; a peer that misses one pong is terminated. */
  pingIntervalMs: number;
  /** Request headers of the upgrade, passed to handlers as `extra.requestInfo.headers`. */
  headers?: IncomingHttpHeaders;
}

export class WebSocketServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  readonly sessionId: string;

  private started = false;
  private closeFired = false;
  private alive = true;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly options: WebSocketTransportOptions,
  ) {
    this.sessionId = options.sessionId;
  }

  start(): Promise<void> {
    if (this.started) throw new Error('WebSocketServerTransport already started');
    this.started = true;
    this.ws.on('message', (data, isBinary) => this.receive(data, isBinary));
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
      this.reject(null, JSONRPC_PARSE_ERROR, `Parse error: ${(e as Error).message}`);
      return;
    }
    if (Array.isArray(parsed)) {
      this.reject(null, JSONRPC_INVALID_REQUEST, 'Invalid Request: JSON-RPC batches are not supported; send one message per frame');
      return;
    }
    const result = JSONRPCMessageSchema.safeParse(parsed);
    if (!result.success) {
      const id = (parsed as { id?: unknown } | null)?.id;
      const safeId = typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
      this.reject(safeId, JSONRPC_INVALID_REQUEST, 'Invalid Request: not a JSON-RPC 2.0 message');
      return;
    }
    this.onmessage?.(result.data, { requestInfo: { headers: this.options.headers ?? {} } });
  }

  private reject(id: string | number | null, code: number, message: string): void {
    // id null is what JSON-RPC prescribes when the request id could not be read.
    const payload = JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } });
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(payload, () => undefined);
  }

  /** Resolves once `ws` has handed the frame to the socket; rejects if the connection is not open. */
  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('WebSocket is not open'));
        return;
      }
      this.ws.send(JSON.stringify(message), (err) => (err ? reject(err) : resolve()));
    });
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
    this.onclose?.();
  }
}

// The original protocol's frames on one `ws` connection: text in, JSON out, liveness pings; every frame sent is metered.
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import type { MeteredTransport } from './attach-session.js';
import { FrameGovernor, type FrameGovernorOptions } from './frame-governor.js';
import { joinJsonPieces, LegacyFrameWriter, type JsonPieces } from './legacy-frame-writer.js';
import { SESSION_CLOSE_FRAMES } from './websocket.js';

export interface LegacyTransportOptions extends FrameGovernorOptions {
  /** Protocol-level ping interval; a peer that misses one pong is terminated (no close frame, so no code at all). */
  pingIntervalMs: number;
  /**
   * The upgraded socket `ws` runs on (per-message deflate off): batches of messages are framed into it
   * directly (see LegacyFrameWriter). Without it, sendBatch sends message by message through `ws`.
   */
  socket?: Duplex;
  /** The session's flow-meter high-water mark: how much the frame writer's pool must be able to hold in flight. */
  highWaterBytes?: number;
}

export class LegacyTransport implements MeteredTransport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onframe?: (bytes: number, written: Promise<unknown>) => void;
  /** One incoming frame, as text (binary frames are passed on for the protocol to refuse). */
  onmessage?: (text: string, isBinary: boolean) => void;

  private alive = true;
  private heartbeat: NodeJS.Timeout | undefined;
  private closeFired = false;
  /** The same bounds as an MCP connection's: frames read per second, error replies before a 1008 close. */
  private readonly governor: FrameGovernor;
  private readonly batches: LegacyFrameWriter | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly options: LegacyTransportOptions,
  ) {
    this.governor = new FrameGovernor(
      ws,
      options,
      (data, isBinary) => {
        const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
        this.onmessage?.(text, isBinary);
      },
      () => this.close(SESSION_CLOSE_FRAMES.flood.code, SESSION_CLOSE_FRAMES.flood.text),
    );
    this.batches =
      options.socket && new LegacyFrameWriter(options.socket, (bytes, written) => this.onframe?.(bytes, written), options.highWaterBytes);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  start(): Promise<void> {
    this.ws.on('message', (data, isBinary) => {
      this.alive = true;
      this.governor.admit(data, isBinary);
    });
    this.ws.on('pong', () => (this.alive = true));
    this.ws.on('error', (err) => this.onerror?.(err));
    this.ws.on('close', () => this.fireClose());
    this.heartbeat = setInterval(() => {
      if (!this.alive) return this.ws.terminate();
      this.alive = false;
      this.ws.ping();
    }, this.options.pingIntervalMs);
    this.heartbeat.unref();
    if (this.ws.readyState !== WebSocket.OPEN) this.fireClose();
    return Promise.resolve();
  }

  /** Send one JSON-RPC message; resolves once `ws` has written it (never rejects: a closed peer just misses it). */
  send(message: unknown): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    const written = this.sendText(JSON.stringify(message));
    if (typeof message === 'object' && message !== null && 'error' in message) this.governor.countError();
    return written;
  }

  private sendText(text: string): Promise<void> {
    const written = new Promise<void>((resolve) => this.ws.send(text, () => resolve()));
    this.onframe?.(Buffer.byteLength(text), written);
    return written;
  }

  /**
   * Send several messages (output notifications, each as pieces of JSON text) in order, framed together
   * where the socket is known; resolves once all are written (never rejects: a closed peer just misses them).
   * Metered like send().
   */
  sendBatch(messages: readonly JsonPieces[]): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    if (this.batches) return this.batches.write(messages);
    return Promise.all(messages.map((m) => this.sendText(joinJsonPieces(m)))).then(() => undefined);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  private fireClose(): void {
    if (this.closeFired) return;
    this.closeFired = true;
    clearInterval(this.heartbeat);
    this.governor.stop();
    this.onclose?.();
  }
}

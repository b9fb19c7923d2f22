// The CLI's MCP client over WebSocket: initialize, requests with progress, cancellation and timeouts, pings.
// Why not the SDK's Client: importing it (its zod schemas) cost 311 ms of the CLI's ~480 ms start, and a CLI
// that runs `true` should start like a local command. The server is validated by the SDK on its side; this
// client only speaks the few messages the CLI needs, and checks the shape of what it reads.
import WebSocket from 'ws';
import { JSONRPC_ERRORS, MCP_SUBPROTOCOL } from '../wire.js';

/** Protocol versions this client speaks, newest first (the server picks one of them in its answer). */
export const CLIENT_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

/** What a request can fail with, besides a JSON-RPC error from the server. */
export const CLIENT_ERRORS = {
  /** The connection closed before the answer came. */
  CONNECTION_CLOSED: -1,
  /** No answer within the request's timeout (the request was cancelled on the server). */
  REQUEST_TIMEOUT: -2,
  /** The caller's AbortSignal fired (the request was cancelled on the server). */
  ABORTED: -3,
} as const;

/** A JSON-RPC error from the server (its code), or one of CLIENT_ERRORS. */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** One progress notification's params: progress, total, message and `_meta` as the server sent them. */
export interface Progress {
  progress: number;
  total?: number;
  message?: string;
  _meta?: Record<string, unknown>;
}

export interface RequestOptions {
  /** Give up (and cancel on the server) after this many ms; default 60 s. */
  timeout?: number;
  /** Progress restarts the timeout (a long command that keeps talking never times out). */
  resetTimeoutOnProgress?: boolean;
  onprogress?: (progress: Progress) => void;
  /** Aborting sends notifications/cancelled and rejects with CLIENT_ERRORS.ABORTED. */
  signal?: AbortSignal;
}

interface Pending {
  resolve(result: unknown): void;
  reject(err: RpcError): void;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** setTimeout's largest delay; anything above it fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

export class McpWsClient {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly progress = new Map<number, (p: Progress) => void>();
  private closedWith: RpcError | undefined;
  /** Called for every message the server sends (liveness). */
  onmessage: () => void = () => undefined;
  /** The version the server chose at initialize. */
  protocolVersion = '';

  private constructor(readonly socket: WebSocket) {
    // binaryType stays 'nodebuffer': every message arrives as one Buffer.
    socket.on('message', (data) => this.receive((data as Buffer).toString('utf8')));
    socket.once('close', () => this.fail(new RpcError(CLIENT_ERRORS.CONNECTION_CLOSED, 'Connection closed')));
    socket.on('error', () => undefined); // a close follows
  }

  /** Open the socket (offering the `mcp` subprotocol) and initialize; rejects with ws's own error on refusal. */
  static async connect(url: URL, clientInfo: { name: string; version: string }): Promise<McpWsClient> {
    const socket = new WebSocket(url, MCP_SUBPROTOCOL);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`Unexpected server response: ${res.statusCode}`)));
    });
    const client = new McpWsClient(socket);
    const init = (await client.request('initialize', {
      protocolVersion: CLIENT_PROTOCOL_VERSIONS[0],
      capabilities: {},
      clientInfo,
    })) as { protocolVersion?: unknown };
    if (typeof init?.protocolVersion !== 'string' || !CLIENT_PROTOCOL_VERSIONS.includes(init.protocolVersion)) {
      client.socket.close();
      throw new Error(`the server speaks MCP ${String(init?.protocolVersion)}, this client ${CLIENT_PROTOCOL_VERSIONS.join(', ')}`);
    }
    client.protocolVersion = init.protocolVersion;
    client.notify('notifications/initialized');
    return client;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** One request; progress (when asked for) goes to `onprogress`. */
  request(method: string, params: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    const timeoutMs = Math.min(options.timeout ?? DEFAULT_TIMEOUT_MS, MAX_TIMER_MS);
    const { signal, onprogress } = options;
    if (signal?.aborted) return Promise.reject(new RpcError(CLIENT_ERRORS.ABORTED, 'Request aborted'));
    return new Promise<unknown>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        this.progress.delete(id);
        signal?.removeEventListener('abort', onAbort);
      };
      const giveUp = (err: RpcError) => {
        settle();
        if (!this.closedWith) this.notify('notifications/cancelled', { requestId: id, reason: err.message });
        reject(err);
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => giveUp(new RpcError(CLIENT_ERRORS.REQUEST_TIMEOUT, 'Request timed out')), timeoutMs);
      };
      const onAbort = () => giveUp(new RpcError(CLIENT_ERRORS.ABORTED, 'Request aborted'));
      this.pending.set(id, {
        resolve: (result) => (settle(), resolve(result)),
        reject: (err) => (settle(), reject(err)),
      });
      if (onprogress) {
        this.progress.set(id, (p) => {
          if (options.resetTimeoutOnProgress) arm();
          onprogress(p);
        });
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      arm();
      const withToken = onprogress ? { ...params, _meta: { ...(params._meta as object | undefined), progressToken: id } } : params;
      this.send({ jsonrpc: '2.0', id, method, params: withToken });
    });
  }

  notify(method: string, params?: Record<string, unknown>): void {
    this.send({ jsonrpc: '2.0', method, ...(params ? { params } : {}) });
  }

  close(): void {
    this.socket.close();
  }

  private send(message: object): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private receive(text: string): void {
    this.onmessage();
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return; // not JSON: nothing to answer (the server never sends this)
    }
    if (typeof msg !== 'object' || msg === null || msg.jsonrpc !== '2.0') return;
    const { id, method } = msg;
    if (typeof method === 'string') {
      if (id === undefined) return this.onNotification(method, msg.params);
      // The server asks us something: ping is the only request we answer.
      if (method === 'ping') this.send({ jsonrpc: '2.0', id, result: {} });
      else this.send({ jsonrpc: '2.0', id, error: { code: JSONRPC_ERRORS.METHOD_NOT_FOUND, message: `Method not found: ${method}` } });
      return;
    }
    const pending = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!pending) return;
    const error = msg.error as { code?: unknown; message?: unknown; data?: unknown } | undefined;
    if (error !== undefined) {
      const code = typeof error?.code === 'number' ? error.code : JSONRPC_ERRORS.INTERNAL_ERROR;
      pending.reject(new RpcError(code, typeof error?.message === 'string' ? error.message : 'error', error?.data));
    } else pending.resolve(msg.result);
  }

  private onNotification(method: string, params: unknown): void {
    if (method !== 'notifications/progress' || typeof params !== 'object' || params === null) return;
    const p = params as Progress & { progressToken?: unknown };
    if (typeof p.progressToken !== 'number' || typeof p.progress !== 'number') return;
    this.progress.get(p.progressToken)?.(p);
  }

  private fail(err: RpcError): void {
    this.closedWith ??= err;
    for (const p of [...this.pending.values()]) p.reject(err);
  }
}

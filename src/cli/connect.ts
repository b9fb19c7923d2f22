// One MCP client session over WebSocket (our lean McpWsClient), with a liveness watchdog and errors mapped to exit codes.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { VERSION } from '../version.js';
import { CliError, ConnectionError, EXIT, ToolError } from './exit-codes.js';
import { CLIENT_ERRORS, McpWsClient, RpcError, type RequestOptions } from './mcp-ws-client.js';

export const DEFAULT_URL = 'ws://127.0.0.1:8003/ws/mcp';
const DEFAULT_PATH = '/ws/mcp';
const CONNECT_TIMEOUT_MS = 10_000;
/** Short requests (status, control) give up after this long; `run` sets its own, far longer. */
const CALL_TIMEOUT_MS = 30_000;
/** setTimeout's largest delay; anything above it fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Liveness: silent this long -> send an MCP ping; silent this long -> the connection is dead. */
const PROBE_AFTER_MS = 30_000;
const DEAD_AFTER_MS = 90_000;
const WATCHDOG_TICK_MS = 5_000;

export interface Target {
  /** URL to connect to, token included. */
  url: URL;
  /** The same URL for messages: never shows the token. */
  display: string;
}

/** --url / CC_EXECUTOR_URL (ws://, wss://, http(s):// or bare host:port) plus --token / CC_EXECUTOR_TOKEN. */
export function resolveTarget(opts: { url?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv): Target {
  const raw = opts.url ?? env.CC_EXECUTOR_URL ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `ws://${raw}`);
  } catch {
    throw new CliError(`invalid server URL ${JSON.stringify(raw)}`, EXIT.REFUSED, 'USAGE');
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new CliError(`invalid server URL ${JSON.stringify(raw)}: expected ws:// or wss://`, EXIT.REFUSED, 'USAGE');
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = DEFAULT_PATH;
  const display = url.toString();
  const token = opts.token ?? env.CC_EXECUTOR_TOKEN;
  // The SDK's WebSocket client cannot send headers, so the token travels as a query parameter.
  if (token) url.searchParams.set('token', token);
  return { url, display };
}

function describeConnectError(err: unknown, target: Target): ConnectionError {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const status = /Unexpected server response: (\d+)/.exec(message)?.[1];
  const where = target.display;
  if (code === 'ECONNREFUSED')
    return new ConnectionError(
      `cannot reach the server at ${where} (connection refused); is it running? Start one with \`cc-executor serve\``,
      true,
    );
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new ConnectionError(`cannot resolve the server host in ${where}`, code === 'EAI_AGAIN');
  if (status === '401' || status === '403')
    return new ConnectionError(`the server at ${where} refused the connection (HTTP ${status}): check --token or CC_EXECUTOR_TOKEN`, false);
  if (status === '404') return new ConnectionError(`no MCP WebSocket endpoint at ${where} (HTTP 404): check the path in --url`, false);
  if (status === '503')
    return new ConnectionError(`the server at ${where} refused the connection (HTTP 503: session limit reached or shutting down)`, true);
  if (status !== undefined) return new ConnectionError(`the server at ${where} refused the connection (HTTP ${status})`, false);
  return new ConnectionError(`cannot connect to ${where}: ${message}`, true);
}

/** Turn what a request threw into our errors: a closed or silent connection, or a protocol-level refusal. */
export function translateRequestError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof RpcError) {
    if (err.code === CLIENT_ERRORS.CONNECTION_CLOSED) return new ConnectionError('lost the connection to the server', true);
    if (err.code === CLIENT_ERRORS.REQUEST_TIMEOUT) return new ConnectionError('the server stopped answering', true);
    return new CliError(`the server rejected the request: ${err.message}`, EXIT.REFUSED, 'PROTOCOL_ERROR');
  }
  return err;
}

/** A tool error result -> ToolError with the server's stable code. */
export function toolErrorOf(result: CallToolResult): ToolError {
  const error = (result.structuredContent as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)
    ?.error;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
  return new ToolError(error?.message ?? text, error?.code ?? 'INTERNAL', error?.details);
}

export class Connection {
  private closedFlag = false;
  private lastHeardAt = Date.now();
  private lastTickAt = Date.now();
  private probing = false;
  private holding = false;
  private closeCode: number | undefined;
  private closeReason = '';
  private readonly watchdog: NodeJS.Timeout;
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>;

  private constructor(readonly client: McpWsClient) {
    const socket = client.socket;
    socket.once('close', (code: number, reason: Buffer) => {
      // 1005 (no code) and 1006 (no close frame at all) say nothing the message does not already say.
      if (code === 1005 || code === 1006) return;
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
    this.closed = new Promise<void>((resolve) => {
      if (socket.readyState === socket.CLOSED) resolve();
      else socket.once('close', () => resolve());
    }).then(() => {
      this.closedFlag = true;
      clearInterval(this.watchdog);
    });
    client.onmessage = () => (this.lastHeardAt = Date.now());
    this.watchdog = setInterval(() => this.tick(), WATCHDOG_TICK_MS);
    this.watchdog.unref();
  }

  static async open(target: Target): Promise<Connection> {
    const connecting = McpWsClient.connect(target.url, { name: 'cc-executor-cli', version: VERSION });
    let timer: NodeJS.Timeout | undefined;
    try {
      const client = await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000}s`)), CONNECT_TIMEOUT_MS);
        }),
      ]);
      return new Connection(client);
    } catch (e) {
      // A connection that completes after we gave up is closed at once.
      void connecting.then((c) => c.close()).catch(() => undefined);
      throw describeConnectError(e, target);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The reader of `stream` is slower than the server: stop reading the socket until `stream` drains.
   * TCP then fills up, and the server's flow control pauses the command's pipes: memory stays bounded
   * end to end instead of piling up here.
   */
  holdUntilDrained(stream: NodeJS.WritableStream): void {
    if (this.holding || this.closedFlag) return;
    this.holding = true;
    this.client.socket.pause();
    stream.once('drain', () => {
      this.holding = false;
      this.client.socket.resume();
    });
  }

  /** "closed by the server (1001 server shutting down)" when the server sent a close frame. */
  describeClose(): string {
    return this.closeCode === undefined
      ? ''
      : ` (closed by the server: ${this.closeCode}${this.closeReason ? ` ${this.closeReason}` : ''})`;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /**
   * A half-open TCP connection (network gone, no FIN) would leave a silent command waiting forever:
   * after PROBE_AFTER_MS of silence send an MCP ping; after DEAD_AFTER_MS close, which fails every
   * pending request. A late tick means this process was stopped (Ctrl-Z) or the machine slept: the
   * silence was ours, so the clock restarts.
   */
  private tick(): void {
    const now = Date.now();
    if (now - this.lastTickAt > 3 * WATCHDOG_TICK_MS) this.lastHeardAt = now;
    this.lastTickAt = now;
    const silent = now - this.lastHeardAt;
    if (silent > DEAD_AFTER_MS) {
      void this.close();
      return;
    }
    if (silent > PROBE_AFTER_MS && !this.probing) {
      this.probing = true;
      void this.client
        .request('ping', {}, { timeout: MAX_TIMER_MS })
        .catch(() => undefined)
        .finally(() => (this.probing = false));
    }
  }

  /** Call a tool; returns its structuredContent, throws ToolError / ConnectionError / CliError. */
  async call(name: string, args: Record<string, unknown>, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    if (this.closedFlag) throw new ConnectionError(`lost the connection to the server${this.describeClose()}`, true);
    let result: CallToolResult;
    try {
      result = await this.callTool(name, args, { timeout: CALL_TIMEOUT_MS, ...options });
    } catch (e) {
      throw this.translate(e);
    }
    if (result.isError) throw toolErrorOf(result);
    return result.structuredContent ?? {};
  }

  /** The raw tools/call: the result as the server sent it (tool errors included), request errors thrown as is. */
  async callTool(name: string, args: Record<string, unknown>, options: RequestOptions = {}): Promise<CallToolResult> {
    const result = (await this.client.request('tools/call', { name, arguments: args }, options)) as CallToolResult | undefined;
    if (typeof result !== 'object' || result === null || !Array.isArray(result.content)) {
      throw new CliError('the server answered tools/call without a result', EXIT.REFUSED, 'PROTOCOL_ERROR');
    }
    return result;
  }

  /** translateRequestError, plus what the server said when it closed. */
  translate(e: unknown): unknown {
    const err = translateRequestError(e);
    return err instanceof ConnectionError && this.closeCode !== undefined
      ? new ConnectionError(`${err.message}${this.describeClose()}`, err.retryable)
      : err;
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    if (this.closedFlag) return;
    this.client.close();
    // ws closes with a handshake; do not let a silent peer hold the process.
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 1_000).unref())]);
  }
}

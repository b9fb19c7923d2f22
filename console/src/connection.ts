// The page's MCP session with its own server: the SDK's Client over WebSocket, reconnecting, with resource subscriptions.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

/** A tool answered with isError: its text (stable code first, from the server's error set). */
export class ToolError extends Error {}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;
/** Generous: a status read of a long log on a loaded machine can take a while. */
const CALL_TIMEOUT_MS = 60_000;

/** The WebSocket endpoint of the server that served this page (cookie and Origin go with it). */
export function endpointUrl(): URL {
  const path = document.querySelector<HTMLMetaElement>('meta[name="cc-executor-ws-path"]')?.content || '/ws/mcp';
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return new URL(`${scheme}//${location.host}${path}`);
}

/**
 * One MCP session at a time; when it drops, a new one after a growing pause. Subscriptions are made again
 * on every new session, and `onConnected` tells views to refresh what they show.
 */
export class Connection {
  private client: Client | undefined;
  private readonly subscriptions = new Map<string, Set<() => void>>();
  private retryMs = RECONNECT_MIN_MS;
  private closed = false;
  state: ConnectionState = 'connecting';
  onState: (state: ConnectionState, detail?: string) => void = () => undefined;
  onConnected: () => void = () => undefined;

  constructor(private readonly url: URL) {}

  start(): void {
    void this.connect();
  }

  private setState(state: ConnectionState, detail?: string): void {
    this.state = state;
    this.onState(state, detail);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.setState('connecting');
    const client = new Client({ name: 'cc-executor-console', version: '1' });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      for (const handler of this.subscriptions.get(n.params.uri) ?? []) handler();
    });
    let dropped = false;
    const drop = (detail: string) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = undefined;
      this.setState('disconnected', detail);
      const wait = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
      setTimeout(() => void this.connect(), wait);
    };
    client.onclose = () => drop('connection closed');
    try {
      await client.connect(new WebSocketClientTransport(this.url));
    } catch (e) {
      // A refused upgrade (401: the cookie expired or the token changed) shows up here as a failed connect.
      drop(e instanceof Error ? e.message : String(e));
      return;
    }
    this.client = client;
    this.retryMs = RECONNECT_MIN_MS;
    this.setState('connected');
    for (const uri of this.subscriptions.keys()) await client.subscribeResource({ uri }).catch(() => undefined);
    this.onConnected();
  }

  /** Call a tool; its structuredContent, or a ToolError with the tool's message. */
  async call<T = Record<string, unknown>>(name: string, args: Record<string, unknown>): Promise<T> {
    const client = this.client;
    if (!client) throw new Error('not connected');
    const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
    if (result.isError) {
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      throw new ToolError(text || `${name} failed`);
    }
    return result.structuredContent as T;
  }

  /** Hear about updates of `uri` (kept across reconnects); returns the unsubscribe. */
  subscribe(uri: string, handler: () => void): () => void {
    let handlers = this.subscriptions.get(uri);
    if (!handlers) {
      handlers = new Set();
      this.subscriptions.set(uri, handlers);
      void this.client?.subscribeResource({ uri }).catch(() => undefined);
    }
    handlers.add(handler);
    return () => {
      const set = this.subscriptions.get(uri);
      if (!set) return;
      set.delete(handler);
      if (set.size === 0) {
        this.subscriptions.delete(uri);
        void this.client?.unsubscribeResource({ uri }).catch(() => undefined);
      }
    };
  }

  get connected(): boolean {
    return this.client !== undefined;
  }
}

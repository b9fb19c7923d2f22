// A minimal MCP client on a raw `ws` socket for the bench process itself: initialize, then requests by id.
import type WebSocket from 'ws';
import { openWebSocket } from './open-web-socket.js';

export interface RawReply {
  result?: { structuredContent?: Record<string, unknown>; isError?: boolean; content?: Array<{ text?: string }> };
  error?: { code: number; message: string };
}

export class RawClient {
  private nextId = 1;
  private readonly pending = new Map<number, (m: RawReply) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as RawReply & { id?: number };
      if (m.id !== undefined) {
        this.pending.get(m.id)?.(m);
        this.pending.delete(m.id);
      }
    });
    ws.once('close', () => {
      for (const resolve of this.pending.values()) resolve({ error: { code: -1, message: 'connection closed' } });
      this.pending.clear();
    });
  }

  static async connect(url: string): Promise<RawClient> {
    const ws = await openWebSocket(url, 'mcp');
    const client = new RawClient(ws);
    await client.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'cc-executor-bench-raw', version: '0.0.0' },
    });
    ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    return client;
  }

  request(method: string, params: unknown): Promise<RawReply> {
    const id = this.nextId++;
    const reply = new Promise<RawReply>((resolve) => this.pending.set(id, resolve));
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return reply;
  }

  /** A tool call whose failure (JSON-RPC error or isError) throws. */
  async tool(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = await this.request('tools/call', { name, arguments: args });
    if (r.error || r.result?.isError) throw new Error(`${name}: ${r.error?.message ?? r.result?.content?.[0]?.text ?? 'failed'}`);
    return r.result?.structuredContent ?? {};
  }

  close(): void {
    this.ws.close();
  }
}

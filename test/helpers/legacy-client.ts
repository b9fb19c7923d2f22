// A client for the original service's JSON-RPC protocol, written from its description (REFERENCE.md §3), not from our server.
import WebSocket from 'ws';

export interface RpcMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: any;
  result?: any;
  error?: { code: number; message: string; data?: any };
}

/** One line of output as the client reassembles it from `process.output` notifications. */
export interface Line {
  type: 'stdout' | 'stderr';
  text: string;
  /** How many notifications carried it. */
  parts: number;
  /** True when the server marked the line as continuing in a later notification. */
  continues: boolean;
}

export class LegacyClient {
  readonly messages: RpcMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 1;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as RpcMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        resolve({ code, reason: String(reason) });
        for (const w of this.waiters.splice(0)) w();
      }),
    );
  }

  /** Connect offering no subprotocol, as the original's clients do. */
  static connect(url: string): Promise<LegacyClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const client = new LegacyClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** Send a request and wait for the response with its id. */
  async request(method: string, params?: Record<string, unknown>, timeoutMs = 15_000): Promise<RpcMessage> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', method, ...(params ? { params } : {}), id }));
    return this.waitFor((m) => m.id === id && (m.result !== undefined || m.error !== undefined), timeoutMs, `response to ${method}`);
  }

  notifyServer(method: string, params?: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', method, ...(params ? { params } : {}) }));
  }

  /** The first message (already received or still to come) matching `match`. */
  async waitFor(match: (m: RpcMessage) => boolean, timeoutMs = 15_000, what = 'message', from = 0): Promise<RpcMessage> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`connection closed while waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Wait for a notification `method` whose params match `where`. */
  notification(method: string, where: (p: any) => boolean = () => true, timeoutMs = 15_000): Promise<RpcMessage> {
    return this.waitFor((m) => m.method === method && m.id === undefined && where(m.params), timeoutMs, method);
  }

  notifications(method: string, where: (p: any) => boolean = () => true): Array<Record<string, any>> {
    return this.messages.filter((m) => m.method === method && where(m.params)).map((m) => m.params as Record<string, any>);
  }

  /**
   * Reassemble the lines of one process (by the `id` the server gave it, or all) from its `process.output`
   * notifications: a chunked line is chunk 0..total_chunks-1 of one stream, in order.
   */
  lines(processId?: string): Line[] {
    const id = processId;
    const out: Line[] = [];
    let partial: { type: 'stdout' | 'stderr'; text: string; parts: number; next: number; total: number } | undefined;
    const open: Record<string, typeof partial> = {};
    for (const p of this.notifications('process.output', (p) => id === undefined || p.id === id)) {
      if (p.chunk_index === null || p.chunk_index === undefined) {
        out.push({ type: p.type, text: p.data, parts: 1, continues: p.truncated });
        continue;
      }
      partial = open[p.type];
      if (p.chunk_index === 0) {
        if (partial) throw new Error(`chunk 0 of a new ${p.type} line while a line is incomplete`);
        partial = { type: p.type, text: '', parts: 0, next: 0, total: p.total_chunks };
      }
      if (!partial || p.chunk_index !== partial.next || p.total_chunks !== partial.total) {
        throw new Error(`chunk ${p.chunk_index}/${p.total_chunks} out of order`);
      }
      partial.text += p.data;
      partial.parts++;
      partial.next++;
      open[p.type] = partial;
      if (partial.next === partial.total) {
        out.push({ type: partial.type, text: partial.text, parts: partial.parts, continues: p.truncated });
        open[p.type] = undefined;
      }
    }
    return out;
  }

  /** Everything one process wrote to one stream, in order. */
  text(processId: string, type: 'stdout' | 'stderr'): string {
    return this.notifications('process.output', (p) => p.id === processId && p.type === type)
      .map((p) => p.data as string)
      .join('');
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }
}

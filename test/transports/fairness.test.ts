// Fairness: one hostile WebSocket connection is throttled and, when it floods errors, closed; a healthy session stays fast.
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { closed, initialize, open } from '../helpers/raw-ws.js';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

// Servers and clients a test starts are closed after it.
const fx = useTestServer();

/** Send `n` pings at once and wait (up to 30 s) for their replies: how many came back, and how long it took. */
async function sendPings(ws: WebSocket, n: number, extra: Record<string, unknown>): Promise<{ answered: number; tookMs: number }> {
  const ids = new Set<number>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (typeof msg.id === 'number' && (msg.result !== undefined || msg.error !== undefined)) ids.add(msg.id);
  });
  const t = Date.now();
  for (let i = 1; i <= n; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping', ...extra }));
  const until = Date.now() + 30_000;
  while (ids.size < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return { answered: ids.size, tookMs: Date.now() - t };
}

describe('per-connection fairness', () => {
  it('closes a connection that floods errors with 1008, while a healthy session keeps running commands', async () => {
    const server = await fx.start({ wsFramesPerSecond: 200, wsErrorBudget: 100 });
    const healthy = await fx.connect(server.url);
    const hostile = await open(server.url);
    await initialize(hostile);
    const gone = closed(hostile);
    // As fast as the socket takes them: garbage, unknown methods, requests with bad params.
    for (let i = 0; i < 5_000; i++) {
      hostile.send(
        i % 3 === 0 ? '{not json' : JSON.stringify({ jsonrpc: '2.0', id: i, method: i % 3 === 1 ? 'no/such' : 'tools/call', params: 5 }),
      );
    }
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      const r = structured(await callTool(healthy, 'execute', { argv: ['echo', `ok ${i}`] }));
      expect(r.stdout).toBe(`ok ${i}\n`);
      // Generous: a loaded machine, but never stuck behind the flood.
      expect(Date.now() - t).toBeLessThan(10_000);
    }
    const close = await gone;
    expect(close).toEqual({ code: 1008, reason: 'too many messages or errors on this connection' });
    expect(Date.now() - started).toBeLessThan(30_000);
    await waitFor(() => server.engine.sessions.size === 1, 10_000, 'the flooding session to end');
  }, 60_000);

  it('throttles a connection past wsFramesPerSecond instead of closing it: every valid request is still answered', async () => {
    const server = await fx.start({ wsFramesPerSecond: 100, wsErrorBudget: 100 });
    const ws = await open(server.url);
    await initialize(ws);
    const { answered, tookMs } = await sendPings(ws, 400, {});
    expect(answered).toBe(400);
    // 400 frames at 100/s with a 200-frame burst: at least a second and a half of reading.
    expect(tookMs).toBeGreaterThanOrEqual(1_500);
    ws.close();
  }, 60_000);

  it('holds an original-protocol connection (no subprotocol) to the same bounds: an error flood is closed with 1008', async () => {
    const server = await fx.start({ wsFramesPerSecond: 200, wsErrorBudget: 100 });
    const healthy = await fx.connect(server.url);
    const hostile = await open(server.url, []);
    expect(hostile.protocol).toBe('');
    const gone = closed(hostile);
    for (let i = 0; i < 5_000; i++) {
      hostile.send(i % 2 === 0 ? '{not json' : JSON.stringify({ jsonrpc: '2.0', id: i, method: 'no.such', params: {} }));
    }
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      expect(structured(await callTool(healthy, 'execute', { argv: ['echo', `ok ${i}`] })).stdout).toBe(`ok ${i}\n`);
      expect(Date.now() - t).toBeLessThan(10_000);
    }
    expect(await gone).toEqual({ code: 1008, reason: 'too many messages or errors on this connection' });
    await waitFor(() => server.engine.sessions.size === 1, 10_000, 'the flooding session to end');
  }, 60_000);

  it('throttles an original-protocol connection past wsFramesPerSecond and still answers every request', async () => {
    const server = await fx.start({ wsFramesPerSecond: 100, wsErrorBudget: 1_000 });
    const ws = await open(server.url, []);
    const { answered, tookMs } = await sendPings(ws, 400, { params: {} });
    expect(answered).toBe(400);
    expect(tookMs).toBeGreaterThanOrEqual(1_500);
    ws.close();
  }, 60_000);
});

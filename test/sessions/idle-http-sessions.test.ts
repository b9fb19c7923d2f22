// Idle Streamable HTTP sessions never starve others: short expiry, least-recently-active reclaim, room kept for WebSocket.
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { INITIALIZE, postMcp } from '../helpers/raw-http.js';
import { callTool, connectHttp, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

/** What MCP Inspector's CLI or `claude mcp get` leave behind: one initialize POST, no DELETE. Returns the session id. */
async function bareInitialize(url: string): Promise<{ status: number; sessionId: string | null }> {
  const res = await postMcp(url, INITIALIZE);
  return { status: res.status, sessionId: res.headers.get('mcp-session-id') };
}

async function listTools(url: string, sessionId: string): Promise<number> {
  const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
  return (await postMcp(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers)).status;
}

async function health(baseUrl: string): Promise<any> {
  return (await fetch(`${baseUrl}/health`)).json();
}

describe('idle HTTP sessions', () => {
  it('100 clients that never send DELETE lock nobody out: WebSocket and a new HTTP client connect, /health stays ok', async () => {
    await fx.start();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await bareInitialize(fx.server.net.httpUrl);
      expect(r.status).toBe(200);
      ids.push(r.sessionId!);
    }
    // HTTP sessions hold at most maxSessions - reservedSessions slots: the oldest idle ones made room.
    expect(fx.server.engine.sessions.countByTransport().http).toBe(90);
    expect(await listTools(fx.server.net.httpUrl, ids[0]!)).toBe(404);
    expect(await listTools(fx.server.net.httpUrl, ids[99]!)).toBe(200);

    const viaWs = await fx.connect();
    expect(structured(await callTool(viaWs, 'execute', { argv: ['echo', 'ws'] })).stdout).toBe('ws\n');
    const viaHttp = await fx.connectHttp(fx.server.net.httpUrl);
    expect(structured(await callTool(viaHttp.client, 'execute', { argv: ['echo', 'http'] })).stdout).toBe('http\n');
    const report = await health(fx.server.net.baseUrl);
    expect(report.status).toBe('ok');
    expect(report.reasons).toBeUndefined();
  }, 60_000);

  it('gives WebSocket clients every slot by reclaiming idle HTTP sessions, the least recently active first', async () => {
    await fx.start({ maxSessions: 10, reservedSessions: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await bareInitialize(fx.server.net.httpUrl)).sessionId!);
    // Session 0 was used last, so session 1 is the least recently active.
    expect(await listTools(fx.server.net.httpUrl, ids[0]!)).toBe(200);
    for (let i = 0; i < 3; i++) await fx.connect();
    expect(fx.server.engine.sessions.size).toBe(10);
    expect(await listTools(fx.server.net.httpUrl, ids[1]!)).toBe(404);
    expect(await listTools(fx.server.net.httpUrl, ids[0]!)).toBe(200);
    expect((await health(fx.server.net.baseUrl)).status).toBe('ok');
  }, 30_000);

  it('never reclaims an HTTP session with a running execution, and refuses with 503 when every slot is busy', async () => {
    await fx.start({ maxSessions: 2, reservedSessions: 1 });
    const busy = await fx.connectHttp(fx.server.net.httpUrl);
    groups.addResult(await callTool(busy.client, 'execute', { argv: ['sleep', '30'], background: true }));
    // The HTTP share (1 slot) is taken by a session with something running: a second HTTP client is refused.
    const refused = await connectHttp(fx.server.net.httpUrl).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(StreamableHTTPError);
    expect((refused as StreamableHTTPError).code).toBe(503);
    // The reserved slot is still there for a WebSocket client; then everything is full and busy.
    await fx.connect();
    await expect(fx.connect()).rejects.toThrow();
    const report = await health(fx.server.net.baseUrl);
    expect(report.status).toBe('degraded');
    expect(report.reasons.join(' ')).toMatch(/maxSessions \(2\), none idle to reclaim/);
    expect(fx.server.engine.sessions.get(busy.transport.sessionId!)).toBeDefined();
    expect(structured(await callTool(busy.client, 'status', {})).executions).toHaveLength(1);
  }, 30_000);

  it('expires an HTTP session with nothing open after httpSessionIdleMs, but keeps a client holding its SSE stream and a WebSocket', async () => {
    // Long enough for the SDK client to open its SSE stream on a loaded machine, short enough to watch expire.
    await fx.start({ httpSessionIdleMs: 2_000 });
    const bare = await bareInitialize(fx.server.net.httpUrl);
    const held = await fx.connectHttp(fx.server.net.httpUrl);
    const heldId = held.transport.sessionId!;
    // The SDK client opens its standalone SSE stream (GET) right after initialize: it counts as connected.
    await waitFor(() => fx.server.engine.sessions.get(heldId)?.connected() === true, 10_000, 'SSE stream to open');
    const viaWs = await fx.connect();
    await waitFor(() => fx.server.engine.sessions.get(bare.sessionId!) === undefined, 20_000, 'bare session to expire');
    // Well past the HTTP idle limit: the connected clients are still there and work.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(fx.server.engine.sessions.get(heldId)).toBeDefined();
    expect(structured(await callTool(held.client, 'execute', { argv: ['true'] })).exitCode).toBe(0);
    expect(structured(await callTool(viaWs, 'execute', { argv: ['true'] })).exitCode).toBe(0);
    expect(await listTools(fx.server.net.httpUrl, bare.sessionId!)).toBe(404);
  }, 30_000);
});

// The errors the MCP spec defines, answered before the SDK sees a request, on WebSocket and Streamable HTTP alike.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { initialize, nextMessage, open } from '../helpers/raw-ws.js';
import { GroupTracker, startTestServer, waitFor, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
const sockets: WebSocket[] = [];
const groups = new GroupTracker();
let dir: string | undefined;

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await server?.close();
  server = undefined;
  await groups.expectGroupsGone();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function rawSession(init = true): Promise<WebSocket> {
  const ws = await open(server!.url);
  sockets.push(ws);
  if (init) await initialize(ws);
  return ws;
}

async function ask(ws: WebSocket, id: number, method: string, params?: unknown): Promise<any> {
  const reply = nextMessage(ws);
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) }));
  return reply;
}

describe('MCP errors the spec defines', () => {
  it('refuses requests before initialize with -32600 and runs nothing, but answers ping', async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'ccx-gate-'));
    const marker = join(dir, 'ran');
    const ws = await rawSession(false);
    const refused = await ask(ws, 1, 'tools/call', { name: 'execute', arguments: { argv: ['touch', marker] } });
    expect(refused).toMatchObject({ id: 1, error: { code: -32600 } });
    expect(refused.error.message).toMatch(/initialize/);
    expect(await ask(ws, 2, 'ping')).toMatchObject({ id: 2, result: {} });
    expect(await ask(ws, 3, 'tools/list')).toMatchObject({ id: 3, error: { code: -32600 } });
    await initialize(ws);
    expect((await ask(ws, 4, 'tools/list')).result.tools.length).toBeGreaterThan(0);
    expect(existsSync(marker)).toBe(false);
  });

  it('answers an unknown tool with -32602, not a tool result', async () => {
    server = await startTestServer();
    const ws = await rawSession();
    const reply = await ask(ws, 1, 'tools/call', { name: 'no-such-tool', arguments: {} });
    expect(reply).toMatchObject({ id: 1, error: { code: -32602 } });
    expect(reply.error.message).toContain('no-such-tool');
    expect(reply.result).toBeUndefined();
  });

  it('answers malformed params with -32602 and one short line, not an internal error with a zod dump', async () => {
    server = await startTestServer();
    const ws = await rawSession();
    const bad = await ask(ws, 1, 'tools/call', { name: 'execute', arguments: 5 });
    expect(bad).toMatchObject({ id: 1, error: { code: -32602 } });
    expect(bad.error.message).toMatch(/arguments/);
    expect(bad.error.message).not.toContain('\n');
    expect(bad.error.message.length).toBeLessThan(300);

    const fresh = await rawSession(false);
    const init = await ask(fresh, 2, 'initialize', {});
    expect(init).toMatchObject({ id: 2, error: { code: -32602 } });
    expect(init.error.message).not.toContain('\n');
  });

  it('answers a missing resource with -32002', async () => {
    server = await startTestServer();
    const ws = await rawSession();
    const missing = await ask(ws, 1, 'resources/read', { uri: 'cc-executor://executions/0123456789abcdef' });
    expect(missing).toMatchObject({ id: 1, error: { code: -32002 } });
    const foreign = await ask(ws, 2, 'resources/read', { uri: 'file:///etc/passwd' });
    expect(foreign).toMatchObject({ id: 2, error: { code: -32002 } });
  });
});

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

async function httpSession(url: string): Promise<Record<string, string>> {
  const res = await fetch(url, { method: 'POST', headers: MCP_HEADERS, body: JSON.stringify(INIT) });
  await res.text();
  const headers = { ...MCP_HEADERS, 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return headers;
}

describe('cancellation over Streamable HTTP', () => {
  it('honours a cancellation that arrives before its request: the command is cancelled and the POST ends', async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'ccx-gate-'));
    const marker = join(dir, 'ran');
    const url = server.net.httpUrl;
    const headers = await httpSession(url);
    const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 77, reason: 'changed my mind' } };
    expect((await fetch(url, { method: 'POST', headers, body: JSON.stringify(cancel) })).status).toBe(202);
    const call = {
      jsonrpc: '2.0',
      id: 77,
      method: 'tools/call',
      params: { name: 'execute', arguments: { command: `sleep 2; touch '${marker}'` } },
    };
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(call), signal: AbortSignal.timeout(20_000) });
    // The stream ends without an answer (a cancelled request gets none), long before the command would have finished.
    expect(await res.text()).not.toContain('"result"');
    await waitFor(() => server!.engine.executions.list().every((e) => e.state === 'exited'), 10_000, 'the command to end');
    const [execution] = server.engine.executions.list();
    if (execution) {
      groups.add(execution.snapshot().pgid);
      expect(execution.terminationReason).toBe('cancel');
    }
    await new Promise((r) => setTimeout(r, 2_500));
    expect(existsSync(marker)).toBe(false);
  });

  it('ends the response stream of a call cancelled while it runs, and the command with it', async () => {
    server = await startTestServer();
    const url = server.net.httpUrl;
    const headers = await httpSession(url);
    const call = { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'execute', arguments: { command: 'sleep 60' } } };
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(call), signal: AbortSignal.timeout(30_000) });
    expect(res.status).toBe(200);
    await waitFor(() => server!.engine.executions.list().length === 1, 10_000, 'the command to start');
    const execution = server.engine.executions.list()[0]!;
    groups.add(execution.snapshot().pgid);
    const body = res.text();
    const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5 } };
    await fetch(url, { method: 'POST', headers, body: JSON.stringify(cancel) });
    await body; // resolves only when the server ends the stream
    await waitFor(() => listGroupMembers(execution.snapshot().pgid!).length === 0, 10_000, 'the command to die');
    expect(execution.terminationReason).toBe('cancel');
  });
});

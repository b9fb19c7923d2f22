// The WebSocket transport with raw `ws` peers: subprotocol, protocol errors, limits, heartbeat, disconnect cleanup.
import { describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { closed, initialize, nextMessage, open } from '../helpers/raw-ws.js';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

// Servers and clients a test starts are closed after it.
const fx = useTestServer();

describe('WebSocket transport', () => {
  it('selects the mcp subprotocol and accepts an Authorization header', async () => {
    const server = await fx.start();
    const ws = await open(server.url, ['mcp'], { Authorization: 'Bearer anything' });
    expect(ws.protocol).toBe('mcp');
    await initialize(ws);
    ws.close();
  });

  it('answers malformed frames with JSON-RPC errors or close codes while another connection keeps working', async () => {
    const server = await fx.start({ maxPayloadBytes: 64 * 1024 });
    const healthy = await fx.connect(server.url);
    const ws = await open(server.url);
    await initialize(ws);

    ws.send('{not json');
    expect(await nextMessage(ws)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    ws.send('42');
    expect(await nextMessage(ws)).toMatchObject({ id: null, error: { code: -32600 } });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 5 }));
    expect(await nextMessage(ws)).toMatchObject({ id: 7, error: { code: -32600 } });
    ws.send(JSON.stringify([{ jsonrpc: '2.0', id: 8, method: 'ping' }]));
    expect(await nextMessage(ws)).toMatchObject({ id: null, error: { code: -32600 } });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'no/such/method' }));
    expect(await nextMessage(ws)).toMatchObject({ id: 9, error: { code: -32601 } });
    // the connection still serves real requests after all of that
    ws.send(
      JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'execute', arguments: { command: 'echo alive' } } }),
    );
    expect((await nextMessage(ws)).result.structuredContent.stdout).toBe('alive\n');

    const binaryClose = closed(ws);
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await binaryClose).code).toBe(1003);

    const big = await open(server.url);
    const bigClose = closed(big);
    big.send('x'.repeat(128 * 1024));
    expect((await bigClose).code).toBe(1009);

    const r = await callTool(healthy, 'execute', { command: 'echo still-here' });
    expect(structured(r).stdout).toBe('still-here\n');
    await healthy.close();
  });

  it('refuses upgrades on other paths with 404', async () => {
    const server = await fx.start();
    const url = server.url.replace('/ws/mcp', '/elsewhere');
    await expect(open(url)).rejects.toThrow(/404/);
  });

  it('kills the session processes when the client disconnects, but not background ones', async () => {
    const server = await fx.start();
    const client = await fx.connect(server.url);
    const fg = client.callTool({ name: 'execute', arguments: { command: 'sleep 60 & sleep 60; wait' } }).catch(() => undefined);
    const bg = structured(await callTool(client, 'execute', { command: 'sleep 60', background: true }));
    let pgid = 0;
    await waitFor(async () => {
      const list = structured(await callTool(client, 'status', {})).executions as Array<{ pid: number; background: boolean }>;
      pgid = list.find((e) => !e.background)?.pid ?? 0;
      return pgid > 0 && listGroupMembers(pgid).length >= 2;
    });
    fx.groups.add(pgid);
    fx.groups.add(bg.pgid);
    await client.close();
    await fg;
    await waitFor(() => listGroupMembers(pgid).length === 0, 5_000, 'session group to die');
    const fgExec = server.engine.executions.find(String(server.engine.executions.list().find((e) => e.snapshot().pgid === pgid)?.id));
    await fgExec.done;
    expect(fgExec.terminationReason).toBe('disconnect');
    expect(listGroupMembers(bg.pgid).length).toBe(1);
    await server.engine.executions.find(bg.id).terminate('cancel');
    expect(listGroupMembers(bg.pgid)).toEqual([]);
  });

  it('detects a peer that stops answering pings and treats it as disconnected', async () => {
    const server = await fx.start({ pingIntervalMs: 100 });
    const ws = await open(server.url);
    await initialize(ws);
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'execute', arguments: { command: 'sleep 60', background: false } },
      }),
    );
    await waitFor(() => server.engine.executions.list().length === 1, 5_000, 'execution');
    const execution = server.engine.executions.list()[0]!;
    fx.groups.add(execution.snapshot().pgid);
    // Stop the peer's socket from reading: it no longer answers pings, and sends no close frame.
    (ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    await execution.done;
    expect(execution.terminationReason).toBe('disconnect');
    expect(server.engine.sessions.size).toBe(0);
    ws.terminate();
  });
});

// Sessions: limits at their boundaries, idle close, cut sockets, detach and reattach, detached TTL.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { initialize, open } from '../helpers/raw-ws.js';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

function upgradeStatus(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['mcp']);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.once('error', (e) => {
      if (!String(e.message).includes('Unexpected server response')) reject(e);
    });
  });
}

async function readAll(c: Client, id: string): Promise<string> {
  let text = '';
  let since = 0;
  for (;;) {
    const s = structured(await callTool(c, 'status', { id, sinceSeq: since, maxBytes: 1 << 20 }));
    expect(s.output.evicted).toBe(false);
    text += (s.output.chunks as Array<{ data: string }>).map((ch) => ch.data).join('');
    since = s.output.nextSeq;
    if (!s.output.more) return text;
  }
}

describe('session limits', () => {
  it('refuses the 101st connection with HTTP 503 and a JSON reason, before any upgrade', async () => {
    await fx.start();
    const connected = [];
    for (let i = 0; i < 100; i++) connected.push(await fx.connect());
    expect(fx.server.engine.sessions.size).toBe(100);
    const refused = await upgradeStatus(fx.server.url);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ limit: 'maxSessions', maxSessions: 100 });
    // a slot frees up when a client leaves
    await connected.pop()!.close();
    await waitFor(() => fx.server.engine.sessions.size === 99, 5_000, 'session to end');
    expect((await upgradeStatus(fx.server.url)).status).toBe(101);
  }, 60_000);

  it('answers the 33rd concurrent execute of a session with LIMIT_REACHED naming the limit', async () => {
    await fx.start();
    const c = await fx.connect();
    for (let i = 0; i < 32; i++) groups.addResult(await callTool(c, 'execute', { argv: ['sleep', '30'], background: true }));
    const refused = await callTool(c, 'execute', { argv: ['sleep', '30'], background: true });
    expect(refused.isError).toBe(true);
    expect(structured(refused).error).toMatchObject({ code: 'LIMIT_REACHED', details: { limit: 'maxExecutionsPerSession' } });
    // another session is not affected
    const other = await fx.connect();
    const ok = await callTool(other, 'execute', { argv: ['true'] });
    expect(structured(ok).exitCode).toBe(0);
  });

  it('enforces maxExecutions across sessions', async () => {
    await fx.start({ maxExecutions: 2 });
    const a = await fx.connect();
    const b = await fx.connect();
    groups.addResult(await callTool(a, 'execute', { argv: ['sleep', '30'], background: true }));
    groups.addResult(await callTool(b, 'execute', { argv: ['sleep', '30'], background: true }));
    expect(structured(await callTool(a, 'execute', { argv: ['true'] })).error.details.limit).toBe('maxExecutions');
  });
});

describe('session lifetime', () => {
  it('closes an idle session, but not one with a running execution', async () => {
    await fx.start({ sessionIdleMs: 300 });
    const idle = await fx.connect();
    const busy = await fx.connect();
    let idleClosed = false;
    idle.onclose = () => (idleClosed = true);
    groups.addResult(await callTool(busy, 'execute', { command: 'sleep 2', background: true }));
    await waitFor(() => idleClosed, 5_000, 'idle session to close');
    expect(fx.server.engine.sessions.size).toBe(1);
    const r = await callTool(busy, 'status', {});
    expect(structured(r).executions).toHaveLength(1);
  });

  it('never closes a session as idle while one of its requests is being answered', async () => {
    // The preExecute hook holds the execute (no execution exists yet) for several idle periods.
    await fx.start({ sessionIdleMs: 200, hooks: { preExecute: [{ command: 'sleep 1.5' }] } });
    const slow = await fx.connect();
    let closed = false;
    slow.onclose = () => (closed = true);
    const r = structured(await callTool(slow, 'execute', { command: 'echo after the hook' }));
    expect(r.exitCode).toBe(0);
    expect(closed).toBe(false);
    // Idle once answered and nothing runs: closed as before.
    await waitFor(() => closed, 5_000, 'the session to close once idle');
  });

  it("treats a cut TCP socket as a disconnect and kills that session's processes", async () => {
    await fx.start();
    const ws = await open(fx.server.url);
    await initialize(ws);
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'execute', arguments: { command: 'sleep 60 & sleep 60; wait' } },
      }),
    );
    await waitFor(
      () => fx.server.engine.executions.list().some((e) => listGroupMembers(e.snapshot().pgid!).length >= 2),
      5_000,
      'execution',
    );
    const execution = fx.server.engine.executions.list()[0]!;
    groups.add(execution.snapshot().pgid);
    (ws as unknown as { _socket: import('node:net').Socket })._socket.destroy();
    await execution.done;
    expect(execution.terminationReason).toBe('disconnect');
    await waitFor(() => listGroupMembers(execution.snapshot().pgid!).length === 0, 5_000, 'group to die');
  });
});

describe('detach and reattach', () => {
  it('keeps a detached execution running without its client; another client reads every byte and cancels it', async () => {
    await fx.start();
    const first = await fx.connect();
    // 400 lines of 4,000 characters from one pipeline: 1,200 short-lived processes took 20 s on a loaded machine.
    const command = 'head -c 1200000 /dev/urandom | base64 -w 4000; sleep 60';
    const started = structured(await callTool(first, 'execute', { command, detach: true }));
    groups.add(started.pgid);
    expect(started.background).toBe(true);
    await first.close();
    await waitFor(() => fx.server.engine.sessions.size === 0, 5_000, 'first session to end');
    // output keeps being recorded while nobody is connected
    const execution = fx.server.engine.executions.find(started.id);
    await waitFor(() => execution.log.bytes.stdout >= 400 * 4001, 60_000, 'all lines produced');
    expect(execution.state).toBe('running');

    const second = await fx.connect();
    const listed = structured(await callTool(second, 'status', { scope: 'all' })).executions as Array<{ id: string }>;
    expect(listed.map((e) => e.id)).toContain(started.id);
    const text = await readAll(second, started.id.slice(0, 8));
    const lines = text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(400);
    expect(Buffer.byteLength(text)).toBe(execution.log.bytes.stdout);
    const digest = createHash('sha256').update(text).digest('hex');
    expect(digest).toBe(
      createHash('sha256')
        .update(await readAll(second, started.id))
        .digest('hex'),
    );
    const cancelled = structured(await callTool(second, 'control', { id: started.id, action: 'cancel' }));
    expect(cancelled).toMatchObject({ state: 'exited', terminationReason: 'cancel' });
  }, 60_000);

  it('terminates a detached execution detachedTtlMs after its session went away', async () => {
    await fx.start({ detachedTtlMs: 300 });
    const c = await fx.connect();
    const started = structured(await callTool(c, 'execute', { argv: ['sleep', '60'], background: true }));
    groups.add(started.pgid);
    await new Promise((r) => setTimeout(r, 500));
    expect(fx.server.engine.executions.find(started.id).state).toBe('running'); // TTL only counts once the session is gone
    await c.close();
    const execution = fx.server.engine.executions.find(started.id);
    await execution.done;
    expect(execution.terminationReason).toBe('detached_ttl');
  });
});

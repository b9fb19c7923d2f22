// /health and /healthz over real HTTP: the fields, and "degraded" with reasons when something is really wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveMaxExecutions, readFdLimits } from '../../src/system/fd-budget.js';
import { VERSION } from '../../src/version.js';
import {
  callTool,
  connectHttp,
  connectWs,
  GroupTracker,
  startTestServer,
  structured,
  waitFor,
  type TestServer,
} from '../helpers/server.js';

let server: TestServer | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
const groups = new GroupTracker();
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await server?.close();
  server = undefined;
  await groups.expectGroupsGone();
});

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

describe('health endpoints', () => {
  it('/healthz answers {status: "ok"} and /health reports sessions, executions and load', async () => {
    server = await startTestServer({ maxSessions: 7 });
    expect(await getJson(`${server.net.baseUrl}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });

    const ws = await connectWs(server.url);
    cleanups.push(() => ws.close());
    const bg = structured(await callTool(ws, 'execute', { command: 'sleep 30', background: true }));
    await callTool(ws, 'control', { id: bg.id, action: 'pause' });
    const fg = structured(await callTool(ws, 'execute', { command: 'sleep 30', waitMs: 50 }));
    groups.add(bg.pgid);
    groups.add(fg.pgid);
    expect(fg.state).toBe('running');
    server.engine.load.record({ cpu: 90, gpu: null });

    const { status, body } = await getJson(`${server.net.baseUrl}/health`);
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ok',
      service: 'cc-executor',
      version: VERSION,
      uptimeSeconds: expect.any(Number),
      sessions: 1,
      maxSessions: 7,
      // Derived from this process's descriptor limit (the test server runs in it).
      maxExecutions: deriveMaxExecutions(readFdLimits()?.soft ?? Infinity, 7),
      executions: { running: 1, paused: 1, detached: 1 },
      fileDescriptors: {
        limit: expect.any(Number),
        hardLimit: expect.any(Number),
        inUse: expect.any(Number),
        headroom: 24,
        perExecution: 5,
      },
      load: { cpu: 90, gpu: null, sampledAt: expect.any(String), multiplier: 3 },
      sandbox: { mode: 'off', network: 'none' },
      containment: { mode: expect.stringMatching(/^(cgroup|process-group)$/), reason: expect.any(String) },
    });
  });

  it('is degraded, with reasons, at maxSessions and when dataDir cannot be written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-executor-health-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    server = await startTestServer({ maxSessions: 1, dataDir: join(file, 'data') });
    const { client, transport } = await connectHttp(server.net.httpUrl);
    cleanups.push(() => client.close());
    // Connected (its SSE stream open): not an idle session that a newcomer could reclaim.
    await waitFor(() => server!.engine.sessions.get(transport.sessionId!)?.connected() === true, 10_000, 'SSE stream');

    const { status, body } = await getJson(`${server.net.baseUrl}/health`);
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.reasons).toHaveLength(2);
    expect(body.reasons[0]).toMatch(/dataDir .*a-file\/data is not a directory/);
    expect(body.reasons[1]).toMatch(/maxSessions \(1\)/);
    // The liveness probe stays simple.
    expect((await getJson(`${server.net.baseUrl}/healthz`)).body).toEqual({ status: 'ok' });
  });

  it('is ok when dataDir does not exist yet but can be created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-executor-health-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    server = await startTestServer({ dataDir: join(dir, 'not', 'yet') });
    const { body } = await getJson(`${server.net.baseUrl}/health`);
    expect(body.status).toBe('ok');
    expect(body.reasons).toBeUndefined();
  });

  it('answers other methods with 405 and an Allow header, and unknown paths with 404', async () => {
    server = await startTestServer();
    const post = await getJson(`${server.net.baseUrl}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await getJson(`${server.net.baseUrl}/nope`)).status).toBe(404);
    const head = await fetch(`${server.net.baseUrl}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('answers a request target that is not a URL with 400 and keeps serving', async () => {
    server = await startTestServer();
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(server!.net.port, '127.0.0.1', () => socket.end(request));
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (text += d));
        socket.once('end', () => resolve(text));
        socket.once('error', reject);
      });
    expect(await raw('GET // HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    const upgrade =
      'GET // HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    expect(await raw(upgrade)).toMatch(/^HTTP\/1\.1 400 /);
    expect((await getJson(`${server.net.baseUrl}/healthz`)).body).toEqual({ status: 'ok' });
  });
});

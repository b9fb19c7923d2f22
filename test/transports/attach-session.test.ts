// attachSession's contract on real transports: every byte a client receives is counted by the session's flow meter.
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { LegacyClient } from '../helpers/legacy-client.js';
import { initialize, open } from '../helpers/raw-ws.js';
import { GroupTracker, startTestServer, waitFor, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
const sockets: WebSocket[] = [];
const groups = new GroupTracker();

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await server?.close();
  server = undefined;
  await groups.expectGroupsGone();
});

describe('attachSession', () => {
  it('counts every byte a WebSocket client receives, output that JSON-escapes six-fold included', async () => {
    server = await startTestServer();
    const ws = await open(server.url);
    sockets.push(ws);
    let total = 0;
    ws.on('message', (data: Buffer) => (total += data.length));
    await initialize(ws);
    const answered = new Promise<any>((resolve) =>
      ws.on('message', (data) => {
        const m = JSON.parse(String(data));
        if (m.id === 1) resolve(m);
      }),
    );
    // 300 KB of NUL bytes: each one is six bytes on the wire (\u0000).
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'execute', arguments: { command: 'head -c 300000 /dev/zero' }, _meta: { progressToken: 'p' } },
      }),
    );
    const result = await answered;
    groups.add(result.result.structuredContent.pgid);
    const [session] = server.engine.sessions.list();
    await waitFor(() => session!.flow.pendingBytes === 0, 10_000, 'every frame to be written');
    expect(total).toBeGreaterThan(6 * 300_000);
    expect(session!.flow.trackedBytes).toBe(total);
  });

  it('counts every byte an original-protocol client receives', async () => {
    server = await startTestServer({ legacyHeartbeatMs: 0 });
    const client = await LegacyClient.connect(server.url);
    try {
      let total = 0;
      client.ws.on('message', (data: Buffer) => (total += data.length));
      const connected = await client.waitFor((m) => m.method === 'connected');
      const started = await client.request('execute', { command: 'head -c 100000 /dev/zero; echo' });
      groups.add(started.result.pgid);
      await client.waitFor((m) => m.method === 'process.completed' && m.params.id === started.result.id);
      const session = server.engine.sessions.get(connected.params.session_id)!;
      await waitFor(() => session.flow.pendingBytes === 0, 10_000, 'every frame to be written');
      // `connected` may have come before our listener: count it from its text.
      const missed = total === 0 ? 0 : Buffer.byteLength(JSON.stringify(connected));
      expect(session.flow.trackedBytes).toBeGreaterThanOrEqual(total);
      expect(session.flow.trackedBytes - total).toBeLessThanOrEqual(missed);
      expect(total).toBeGreaterThan(6 * 100_000);
    } finally {
      await client.close();
    }
  });
});
